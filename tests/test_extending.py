"""A new method, dataset, backbone and protocol go in through the registries alone (one entry each,
as docs/extending.md says) and a grid trains and stores with them."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from adacm.algorithms import METHODS, Algorithm, Batch, Method
from adacm.data import datasets
from adacm.models import BACKBONES
from adacm.models.backbone import Backbone
from adacm.run.protocols import PROTOCOLS, Protocol
from adacm.run.runner import run_configs
from adacm.run.store import load_results


class Entropy(Algorithm):
    """Cross-entropy on the labeled batch plus the weak view's mean entropy."""

    unlabeled_views = ("weak",)

    def __init__(self, num_classes: int, weight: float = 0.1, joint_forward: bool = True) -> None:
        super().__init__(joint_forward)
        self.weight = weight

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        (logits_x, _), (logits_u, _) = self.forward(model, batch)
        probs = logits_u.float().softmax(dim=1)
        entropy = -(probs * probs.clamp_min(1e-8).log()).sum(dim=1).mean()
        loss = self.supervised_term(logits_x, batch.y) + self.weight * entropy
        return loss, {"loss_x": loss.item()}


class TinyConv(Backbone):
    feature_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_a_toy_method_dataset_backbone_and_protocol_train_a_grid(monkeypatch, tmp_path, ci_data) -> None:
    monkeypatch.setenv("ADACM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(METHODS, "entropy", Method(Entropy, {"weight": 0.1}, "Entropy minimisation"))
    monkeypatch.setitem(BACKBONES, "tiny", TinyConv)
    monkeypatch.setitem(datasets.DATASETS, "toy_faces", datasets.DatasetEntry(lambda root=None: replace(ci_data, name="toy_faces"), "rafdb"))
    monkeypatch.setitem(PROTOCOLS, "toy", Protocol("toy", ("toy_faces",), {"toy_faces": (70,)}, seeds=(0, 1),
                                                   image_size=32, epochs=1, iters_per_epoch=2, ema_decay=0.9,
                                                   init="scratch", model="tiny", precision="fp32"))
    configs = [PROTOCOLS["toy"].config("toy_faces", method, 70, seed) for seed in (0, 1) for method in ("entropy", "supervised")]
    run_configs(configs, tmp_path / "results", "toy")
    stored = load_results(tmp_path / "results", "toy")
    assert sorted((r["config"]["method"], r["config"]["seed"]) for r in stored) == [
        ("entropy", 0), ("entropy", 1), ("supervised", 0), ("supervised", 1)]
    assert all(r["config"]["model"] == "tiny" and len(r["epochs"]) == 1 for r in stored)
