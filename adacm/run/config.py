"""A run's full configuration: what it trains, on what, how long — and its cache key.

Two runs with the same key are the same experiment; stored results are reused by key, so
the key covers everything that changes what a run computes (not where it runs).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from adacm.errors import UserError

#: fields added after the first stored results, with the default that leaves a key unchanged
ADDED_LATER: dict[str, Any] = {"head_lr_mult": 1.0, "bn_momentum": None, "augment_seeding": "stream"}
#: where augmentation draws from: the trainer's one generator (every stored `cpu` run) or a
#: generator per image (adacm.data.loader: the same batches with any number of loader workers)
AUGMENT_SEEDINGS = ("stream", "sample")
#: numerics fields that configs once had, at the values every stored run had. Numerics are how a
#: run is computed (``adacm.run.numerics``, recorded in each result), not what it is, so they left the
#: config; they stay in the key's preimage at these values so that every stored key stays valid.
RETIRED: dict[str, Any] = {"amp_bf16": True, "channels_last": True}


@dataclass(frozen=True)
class RunConfig:
    protocol: str
    dataset: str
    method: str
    n_labels: int
    seed: int
    model: str = "resnet18"
    init: str = "scratch"
    image_size: int = 48
    epochs: int = 20
    iters_per_epoch: int = 800
    batch_labeled: int = 16
    batch_unlabeled: int = 16
    lr: float = 5e-4
    ema_decay: float = 0.999
    ema_weight_decay: float = 0.02  # × lr, applied to the model's weights at each EMA step (official code)
    joint_forward: bool = True
    method_overrides: dict[str, Any] = field(default_factory=dict)
    head_lr_mult: float = 1.0  # learning rate of the linear classifier relative to ``lr``
    bn_momentum: float | None = None  # batch-norm momentum of backbones that take one (WRN-28-2); None: its own
    augment_seeding: str = "stream"  # one of AUGMENT_SEEDINGS

    def check(self) -> None:
        """Reject values no run can use, with the fix, before anything trains."""
        positive = {"learning rate": self.lr, "classifier learning-rate multiplier": self.head_lr_mult}
        for name, value in positive.items():
            if not value > 0:
                raise UserError(f"{name} {value} must be positive")
        at_least_one = {"epochs": self.epochs, "iterations per epoch": self.iters_per_epoch,
                        "labeled batch size": self.batch_labeled, "unlabeled batch size": self.batch_unlabeled}
        for name, value in at_least_one.items():
            if value < 1:
                raise UserError(f"{name} {value} must be at least 1")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UserError(f"EMA decay {self.ema_decay} must lie in [0, 1)")
        if self.ema_weight_decay < 0:
            raise UserError(f"EMA weight decay {self.ema_weight_decay} must not be negative")
        if self.bn_momentum is not None and not 0.0 < self.bn_momentum <= 1.0:
            raise UserError(f"batch-norm momentum {self.bn_momentum} must lie in (0, 1]")
        if self.augment_seeding not in AUGMENT_SEEDINGS:
            raise UserError(f"augment seeding {self.augment_seeding!r} must be one of {', '.join(AUGMENT_SEEDINGS)}")
        if self.image_size < 8:
            raise UserError(f"image size {self.image_size} px is too small: use at least 8")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """A config from a stored result's ``config`` (which may still carry retired fields)."""
        return cls(**{k: v for k, v in data.items() if k not in RETIRED})

    def key(self) -> str:
        """sha256 of the canonical JSON of the config (first 16 hex digits).

        Fields added after results were stored are left out while at their default, so that
        adding an option never orphans the stored runs that did not use it.
        """
        data = {k: v for k, v in self.to_dict().items() if not (k in ADDED_LATER and v == ADDED_LATER[k])}
        data.update(RETIRED)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def run_name(self) -> str:
        return f"{self.method}_{self.dataset}_{self.n_labels}_s{self.seed}_{self.key()}"

    def __hash__(self) -> int:
        return hash(self.key())
