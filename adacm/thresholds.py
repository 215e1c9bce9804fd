"""Confidence thresholds as small pluggable objects (USB's idea, not its code).

A threshold decides which unlabeled predictions become pseudo-labels (``mask``) and may
learn from what the model does (``update_epoch``). FixMatch's fixed threshold and Ada-CM's
adaptive per-class margin share this interface, so Table 1's rows differ only in the object.
"""

from __future__ import annotations

import math

import torch


class Threshold:
    """Interface: a per-class threshold vector and the mask it induces."""

    num_classes: int

    def values(self) -> torch.Tensor:
        """The current threshold of each class (length ``num_classes``)."""
        raise NotImplementedError

    def mask(self, probs: torch.Tensor) -> torch.Tensor:
        """True where the max probability reaches the threshold of the predicted class."""
        confidence, predicted = probs.max(dim=1)
        return confidence >= self.values().to(probs.device)[predicted]

    def update_epoch(self, probs: torch.Tensor, targets: torch.Tensor, epoch: int) -> None:
        """Learn from the EMA model's predictions on the labeled set after ``epoch`` (1-based)."""

    def state_dict(self) -> dict[str, list[float]]:
        return {"values": self.values().tolist()}

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        """Fixed thresholds have nothing to restore."""


class FixedThreshold(Threshold):
    """FixMatch: one confidence threshold for every class."""

    def __init__(self, tau: float, num_classes: int) -> None:
        if not 0.0 < tau <= 1.0:
            raise ValueError(f"threshold {tau} must lie in (0, 1]")
        self.tau = tau
        self.num_classes = num_classes

    def values(self) -> torch.Tensor:
        return torch.full((self.num_classes,), self.tau)


class AdaptiveMargin(Threshold):
    """Ada-CM's adaptive confidence margin.

    After each epoch t the EMA model predicts the labeled set; for class c, mean_c is the
    mean max-softmax of the samples of class c it predicts correctly, and
    T_c(t) = max(T0, B·mean_c / (1 + γ^(−t))); a class with no correct prediction gets T0.
    This is the official code's form (``0.97 * mean / (1 + exp(-epoch))``, floor 0.8); the
    paper's printed Eq. 5 is garbled. Before the first update every class starts at T0.
    """

    def __init__(self, num_classes: int, t0: float = 0.8, b: float = 0.97, gamma: float = math.e) -> None:
        if not 0.0 < b <= 1.0:
            raise ValueError(f"B={b} must lie in (0, 1]")
        if gamma <= 1.0:
            raise ValueError(f"gamma={gamma} must exceed 1")
        if not 0.0 <= t0 <= 1.0:
            raise ValueError(f"T0={t0} must lie in [0, 1]")
        self.num_classes, self.t0, self.b, self.gamma = num_classes, t0, b, gamma
        self._values = torch.full((num_classes,), t0)

    def values(self) -> torch.Tensor:
        return self._values

    def update_epoch(self, probs: torch.Tensor, targets: torch.Tensor, epoch: int) -> None:
        confidence, predicted = probs.float().max(dim=1)
        correct = predicted == targets
        scale = self.b / (1.0 + self.gamma ** (-epoch))
        values = torch.full((self.num_classes,), self.t0)
        for c in range(self.num_classes):
            chosen = correct & (targets == c)
            if chosen.any():
                values[c] = max(self.t0, scale * confidence[chosen].mean().item())
        self._values = values

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        self._values = torch.tensor(state["values"], dtype=torch.float32)
