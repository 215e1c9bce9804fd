"""A run's full configuration: what it trains, on what, how long — and its cache key.

Two runs with the same key are the same experiment; stored results are reused by key, so
the key covers everything that changes what a run computes (not where it runs).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


#: fields added after the first stored results, with the default that leaves a key unchanged
ADDED_LATER: dict[str, Any] = {"head_lr_mult": 1.0}


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
    amp_bf16: bool = True
    channels_last: bool = True
    joint_forward: bool = True
    method_overrides: dict[str, Any] = field(default_factory=dict)
    head_lr_mult: float = 1.0  # learning rate of the linear classifier relative to ``lr``

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        """sha256 of the canonical JSON of the config (first 16 hex digits).

        Fields added after results were stored are left out while at their default, so that
        adding an option never orphans the stored runs that did not use it.
        """
        data = {k: v for k, v in self.to_dict().items() if not (k in ADDED_LATER and v == ADDED_LATER[k])}
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def run_name(self) -> str:
        return f"{self.method}_{self.dataset}_{self.n_labels}_s{self.seed}_{self.key()}"

    def __hash__(self) -> int:
        return hash(self.key())
