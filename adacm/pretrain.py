"""Label-free pretraining of a backbone with SimCLR on the training images (no labels used).

The paper starts from a ResNet-18 pretrained for face recognition on MS-Celeb-1M; those
weights are not available here, so the `cpu` protocol can start instead from a backbone
pretrained here without labels on FER2013 + SFEW training images (never the test images).
``adacm pretrain`` runs in time slices (``--minutes``), checkpoints, and resumes, so it can
run in the background across sessions; a linear probe (400 labels, FER2013 test) is recorded
every ``probe_every`` steps so that one can see when the curve flattens. The backbone is
written to ``ADACM_CACHE`` under torchvision's key names, with its sha256 and provenance.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.linear_model import LogisticRegression
from torch import nn
from tqdm import tqdm

from adacm.data.augment import to_tensor
from adacm.data.datasets import NUM_CLASSES, load_fer2013, load_sfew
from adacm.data.splits import labeled_indices
from adacm.errors import UserError
from adacm.losses import info_nce
from adacm.models import BACKBONES
from adacm.backbones import save_state
from adacm.paths import REPO_ROOT, atomic_write_bytes, cache_dir


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


def simclr_weights_path(model: str) -> Path:
    return cache_dir() / f"simclr_{model}.pt"


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
def linear_probe(backbone: nn.Module, x_l: np.ndarray, y_l: np.ndarray, x_t: np.ndarray, y_t: np.ndarray) -> float:
    """Test accuracy (%) of a logistic regression on frozen, standardised pooled features."""
    backbone.eval()

    def feats(x: np.ndarray) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch.cat([backbone(to_tensor(x[i:i + 512]).expand(-1, 3, -1, -1)).float()
                              for i in range(0, len(x), 512)]).numpy()

    f_l, f_t = feats(x_l), feats(x_t)
    mu, sd = f_l.mean(0), f_l.std(0) + 1e-6
    clf = LogisticRegression(max_iter=2000, C=0.1).fit((f_l - mu) / sd, y_l)
    backbone.train()
    return float((clf.predict((f_t - mu) / sd) == y_t).mean() * 100)


def pretrain(minutes: float, max_steps: int, cfg: SimCLRConfig = SimCLRConfig(), progress: bool = True) -> dict[str, Any]:
    """Run (or continue) SimCLR for at most ``minutes`` of wall time, then save the backbone."""
    if cfg.model not in BACKBONES:
        raise UserError(f"unknown model {cfg.model!r}: choose one of {', '.join(BACKBONES)}")
    fer, sfew = load_fer2013(), load_sfew()
    images = np.concatenate([fer.train.x, sfew.train.x])
    idx = labeled_indices(fer.train.y, 400, 0, "fer2013", NUM_CLASSES)
    probe_data = (fer.train.x[idx], fer.train.y[idx], fer.test.x, fer.test.y)

    ckpt_path = cache_dir() / f"simclr_{cfg.model}.checkpoint.pt"
    torch.manual_seed(cfg.seed)
    net = SimCLRNet(cfg.model).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    state: dict[str, Any] = {"step": 0, "seconds": 0.0, "curve": [], "config": asdict(cfg)}
    if ckpt_path.is_file():
        saved = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if saved["state"]["config"] != asdict(cfg):
            raise UserError(f"{ckpt_path} was made with another SimCLR config; delete it to start again")
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["opt"])
        rng.bit_generator.state = saved["rng"]
        state = saved["state"]

    deadline = time.perf_counter() + minutes * 60
    bar = tqdm(total=max_steps, initial=state["step"], desc="simclr", disable=not progress, mininterval=5)
    net.train()
    while state["step"] < max_steps and time.perf_counter() < deadline:
        start = time.perf_counter()
        batch = images[rng.integers(0, len(images), cfg.batch_size)]
        views = torch.cat([simclr_views(batch, rng, cfg), simclr_views(batch, rng, cfg)])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z = net(views.contiguous(memory_format=torch.channels_last))
        loss = info_nce(z[: cfg.batch_size], z[cfg.batch_size:], cfg.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["step"] += 1
        state["seconds"] += time.perf_counter() - start
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if state["step"] % cfg.probe_every == 0:
            acc = linear_probe(net.backbone, *probe_data)
            state["curve"].append({"step": state["step"], "minutes": round(state["seconds"] / 60, 2),
                                   "loss": round(loss.item(), 4), "probe_acc": round(acc, 2)})
            bar.write(f"step {state['step']}: loss {loss.item():.3f}, linear probe {acc:.2f}%")
            tmp = ckpt_path.with_suffix(f".{os.getpid()}.tmp")
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "rng": rng.bit_generator.state,
                        "state": state}, tmp)
            os.replace(tmp, ckpt_path)
    bar.close()
    return save_backbone(net, state, fer.fingerprint | sfew.fingerprint)


def save_backbone(net: SimCLRNet, state: dict[str, Any], fingerprint: dict[str, str]) -> dict[str, Any]:
    path = simclr_weights_path(state["config"]["model"])
    meta = {"path": str(path), "sha256": save_state(net.backbone.torchvision_state(), path), "steps": state["step"],
            "train_minutes": round(state["seconds"] / 60, 2), "config": state["config"],
            "data_sha256": fingerprint, "images": "FER2013 train + SFEW train (labels unused)",
            "probe": "logistic regression on frozen pooled features, 400 FER2013 labels (split seed 0), FER2013 test",
            "curve": state["curve"]}
    atomic_write_bytes(path.with_suffix(".json"), json.dumps(meta, indent=1).encode())
    return meta


#: where the provenance of each pretrained backbone is committed (the weights stay in the cache)
PRETRAIN_RECORDS = REPO_ROOT / "results" / "pretrain"


def same_weights(digest: str) -> set[str]:
    """``digest`` and the sha256 of every earlier file that a committed record shows to hold the
    same weights (its ``same_weights_as``: digest → evidence). Before ``save_state`` the file's
    bytes, hence its digest, changed with every rebuild although the weights did not."""
    digests = {digest}
    for record in sorted(PRETRAIN_RECORDS.glob("*.json")):
        meta = json.loads(record.read_text())
        if meta.get("sha256") == digest:
            digests |= set(meta.get("same_weights_as", {}))
    return digests
