"""Label-free pretraining of a backbone with SimCLR on the training images (no labels used).

The paper starts from a ResNet-18 pretrained for face recognition on MS-Celeb-1M; those
weights are not available here, so the `cpu` protocol can start instead from a backbone
pretrained here without labels on FER2013 + SFEW training images (never the test images).
``adacm pretrain`` runs in time slices (``--minutes``), checkpoints, and resumes, so it can
run in the background across sessions; a linear probe (400 labels, FER2013 test) is recorded
every ``probe_every`` steps so that one can see when the curve flattens. The backbone is
written to ``ADACM_CACHE`` under torchvision's key names.

Each build is an artifact with a committed record, ``results/pretrain/<name>_<sha256[:12]>.json``:
its sha256, the machine and numerics it was made with, steps, minutes and probe curve. A build
on another CPU kind or in another precision has other weights; a stored run is kept as long as
it started from *a* recorded build (its ``init_sha256``), so a new machine's build does not
orphan the stored runs, and the verdict engine pairs two runs only when they share a build.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.linear_model import LogisticRegression
from torch import nn
from tqdm import tqdm

from adacm.algorithms.losses import info_nce
from adacm.data.augment import to_tensor
from adacm.data.dataset import NUM_CLASSES
from adacm.data.datasets import load_fer2013, load_sfew
from adacm.data.splits import labeled_indices
from adacm.errors import UserError
from adacm.models import BACKBONES
from adacm.models.weights import save_state, simclr_weights_path
from adacm.paths import REPO_ROOT, atomic_write_bytes, cache_dir
from adacm.run.machine import machine
from adacm.run.numerics import Numerics, retired_numerics
from adacm.run.numerics import choose as choose_numerics

CPU = torch.device("cpu")


@dataclass(frozen=True)
class SimCLRConfig:
    model: str = "resnet18"
    batch_size: int = 256
    temperature: float = 0.2
    lr: float = 1e-3
    crop_scale: tuple[float, float] = (0.3, 1.0)
    jitter: float = 0.4
    probe_every: int = 100
    seed: int = 0


def simclr_views(x: np.ndarray, rng: np.random.Generator, cfg: SimCLRConfig) -> torch.Tensor:
    """SimCLR's augmentation for grey faces: random resized crop, flip, brightness/contrast jitter."""
    size = x.shape[1]
    out = np.empty_like(x)
    for i, img in enumerate(x):
        area = rng.uniform(*cfg.crop_scale) * size * size
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        w = int(min(size, round(np.sqrt(area * ratio))))
        h = int(min(size, round(np.sqrt(area / ratio))))
        top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        crop = Image.fromarray(img[top:top + h, left:left + w]).resize((size, size), Image.Resampling.BILINEAR)
        out[i] = np.asarray(crop)[:, ::-1] if rng.random() < 0.5 else np.asarray(crop)
    t = to_tensor(out)
    jitter = rng.random(len(x)) < 0.8
    b = torch.from_numpy(1 + rng.uniform(-cfg.jitter, cfg.jitter, len(x)) * jitter).float().view(-1, 1, 1, 1)
    c = torch.from_numpy(1 + rng.uniform(-cfg.jitter, cfg.jitter, len(x)) * jitter).float().view(-1, 1, 1, 1)
    mean = t.mean(dim=(1, 2, 3), keepdim=True)
    return ((t * b - mean * b) * c + mean * b).clamp_(0, 1)


class SimCLRNet(nn.Module):
    """Backbone + 2-layer projection head (the head is thrown away after pretraining)."""

    def __init__(self, model: str) -> None:
        super().__init__()
        self.backbone = BACKBONES[model]()
        d = self.backbone.feature_dim
        self.projector = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, 128))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projector(self.backbone(x.expand(-1, 3, -1, -1))).float(), dim=1)


@torch.no_grad()
def linear_probe(backbone: nn.Module, x_l: np.ndarray, y_l: np.ndarray, x_t: np.ndarray, y_t: np.ndarray,
                 numerics: Numerics) -> float:
    """Test accuracy (%) of a logistic regression on frozen, standardised pooled features."""
    backbone.eval()

    def feats(x: np.ndarray) -> np.ndarray:
        with numerics.autocast(CPU):
            return torch.cat([backbone(to_tensor(x[i:i + 512]).expand(-1, 3, -1, -1)).float()
                              for i in range(0, len(x), 512)]).numpy()

    f_l, f_t = feats(x_l), feats(x_t)
    mu, sd = f_l.mean(0), f_l.std(0) + 1e-6
    clf = LogisticRegression(max_iter=2000, C=0.1).fit((f_l - mu) / sd, y_l)
    backbone.train()
    return float((clf.predict((f_t - mu) / sd) == y_t).mean() * 100)


def simclr_step(net: SimCLRNet, opt: torch.optim.Optimizer, batch: np.ndarray, rng: np.random.Generator,
                cfg: SimCLRConfig, numerics: Numerics) -> float:
    """One SimCLR step on a batch of images; returns the loss."""
    views = torch.cat([simclr_views(batch, rng, cfg), simclr_views(batch, rng, cfg)])
    with numerics.autocast(CPU):
        z = net(numerics.to(views, CPU))
    loss = info_nce(z[: cfg.batch_size], z[cfg.batch_size:], cfg.temperature)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def pretrain_numerics(model: str, precision: str | None = None) -> Numerics:
    return choose_numerics(CPU, model, 48, precision)


def estimate_minutes(max_steps: int, cfg: SimCLRConfig = SimCLRConfig(), precision: str | None = None) -> float:
    """Minutes a build of ``max_steps`` would take here: two steps timed now (after one untimed),
    on random images, in the numerics a build would use, times the steps still to run."""
    numerics = pretrain_numerics(cfg.model, precision)
    net = numerics.to(SimCLRNet(cfg.model), CPU)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (cfg.batch_size, 48, 48), dtype=np.uint8)
    simclr_step(net, opt, batch, rng, cfg, numerics)
    start = time.perf_counter()
    for _ in range(2):
        simclr_step(net, opt, batch, rng, cfg, numerics)
    done = load_checkpoint_state(cfg)["state"]["step"] if checkpoint_path(cfg).is_file() else 0
    return (time.perf_counter() - start) / 2 * max(0, max_steps - done) / 60


def checkpoint_path(cfg: SimCLRConfig) -> Path:
    return cache_dir() / f"simclr_{cfg.model}.checkpoint.pt"


def load_checkpoint_state(cfg: SimCLRConfig) -> dict[str, Any]:
    saved = torch.load(checkpoint_path(cfg), map_location="cpu", weights_only=False)
    if saved["state"]["config"] != asdict(cfg):
        raise UserError(f"{checkpoint_path(cfg)} was made with another SimCLR config; delete it to start again")
    return saved


def pretrain(minutes: float, max_steps: int, cfg: SimCLRConfig = SimCLRConfig(), progress: bool = True,
             precision: str | None = None) -> dict[str, Any]:
    """Run (or continue) SimCLR for at most ``minutes`` of wall time, then save the backbone."""
    if cfg.model not in BACKBONES:
        raise UserError(f"unknown model {cfg.model!r}: choose one of {', '.join(BACKBONES)}")
    fer, sfew = load_fer2013(), load_sfew()
    images = np.concatenate([fer.train.x, sfew.train.x])
    idx = labeled_indices(fer.train.y, 400, 0, "fer2013", NUM_CLASSES)
    probe_data = (fer.train.x[idx], fer.train.y[idx], fer.test.x, fer.test.y)

    ckpt_path = checkpoint_path(cfg)
    torch.manual_seed(cfg.seed)
    numerics = pretrain_numerics(cfg.model, precision)
    net = SimCLRNet(cfg.model)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    state: dict[str, Any] = {"step": 0, "seconds": 0.0, "curve": [], "config": asdict(cfg),
                             "numerics": numerics.to_dict()}
    if ckpt_path.is_file():
        saved = load_checkpoint_state(cfg)
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["opt"])
        rng.bit_generator.state = saved["rng"]
        state = saved["state"]
        state.setdefault("numerics", retired_numerics(chosen_by="default").to_dict())  # a checkpoint from before
        numerics = Numerics(**state["numerics"])  # a build is computed in one numerics
    net = numerics.to(net, CPU)

    deadline = time.perf_counter() + minutes * 60
    bar = tqdm(total=max_steps, initial=state["step"], desc="simclr", disable=not progress, mininterval=5)
    net.train()
    while state["step"] < max_steps and time.perf_counter() < deadline:
        start = time.perf_counter()
        batch = images[rng.integers(0, len(images), cfg.batch_size)]
        loss = simclr_step(net, opt, batch, rng, cfg, numerics)
        state["step"] += 1
        state["seconds"] += time.perf_counter() - start
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        if state["step"] % cfg.probe_every == 0:
            acc = linear_probe(net.backbone, *probe_data, numerics)
            state["curve"].append({"step": state["step"], "minutes": round(state["seconds"] / 60, 2),
                                   "loss": round(loss, 4), "probe_acc": round(acc, 2)})
            bar.write(f"step {state['step']}: loss {loss:.3f}, linear probe {acc:.2f}%")
            tmp = ckpt_path.with_suffix(f".{os.getpid()}.tmp")
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "rng": rng.bit_generator.state,
                        "state": state}, tmp)
            os.replace(tmp, ckpt_path)
    bar.close()
    if state["step"] < max_steps:  # out of time: the checkpoint holds the progress; no weights until the last step
        return {"finished": False, "steps": state["step"], "max_steps": max_steps, "checkpoint": str(ckpt_path),
                "train_minutes": round(state["seconds"] / 60, 2), "curve": state["curve"]}
    return {"finished": True, **save_backbone(net, state, fer.fingerprint | sfew.fingerprint)}


def save_backbone(net: SimCLRNet, state: dict[str, Any], fingerprint: dict[str, str]) -> dict[str, Any]:
    """Write the backbone to the cache and its build record to ``results/pretrain`` (to commit)."""
    model = state["config"]["model"]
    path = simclr_weights_path(model)
    digest = save_state(net.backbone.torchvision_state(), path)
    build = {"machine": machine(), "numerics": state["numerics"], "train_minutes": round(state["seconds"] / 60, 2),
             "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    meta = {"name": f"simclr_{model}", "model": model, "sha256": digest, "steps": state["step"], **build,
            "config": state["config"], "data_sha256": fingerprint, "images": "FER2013 train + SFEW train (labels unused)",
            "probe": "logistic regression on frozen pooled features, 400 FER2013 labels (split seed 0), FER2013 test",
            "curve": state["curve"]}
    atomic_write_bytes(path.with_suffix(".json"), json.dumps(meta, indent=1).encode())
    return {**meta, "path": str(path), "record": str(record_build(meta, build))}


#: where the record of each build of a pretrained backbone is committed (the weights stay in the cache)
PRETRAIN_RECORDS = REPO_ROOT / "results" / "pretrain"


def build_record_path(name: str, digest: str) -> Path:
    return PRETRAIN_RECORDS / f"{name}_{digest[:12]}.json"


def record_build(meta: dict[str, Any], build: dict[str, Any]) -> Path:
    """Commit-ready record of a build; a rebuild with the same sha256 (the same weights, bit for
    bit) is added to the existing record's ``rebuilds`` instead of replacing it."""
    path = build_record_path(meta["name"], meta["sha256"])
    if path.is_file():
        record = json.loads(path.read_text())
        record.setdefault("rebuilds", []).append(build)
    else:
        record = meta
    atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())
    return path


def build_records(model: str | None = None) -> list[dict[str, Any]]:
    """Every committed build record (of one backbone ``model``, if given)."""
    records = [json.loads(p.read_text()) for p in sorted(PRETRAIN_RECORDS.glob("*.json"))]
    return [r for r in records if model is None or r["model"] == model]


def build_of(digest: str | None) -> str | None:
    """The recorded build a weights file's sha256 belongs to: its own sha256, or that of the build
    whose ``same_weights_as`` names it (files written before ``save_state`` had other bytes for
    the same weights). None if no record names it."""
    for record in build_records():
        if digest == record["sha256"] or digest in record.get("same_weights_as", {}):
            return record["sha256"]
    return None
