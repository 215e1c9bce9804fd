"""Confidence thresholds as small pluggable objects (USB's idea, not its code).

A threshold decides which unlabeled predictions become pseudo-labels (``mask``) and may
learn from what the model does (``update_epoch``). FixMatch's fixed threshold and Ada-CM's
adaptive per-class margin share this interface, so Table 1's rows differ only in the object.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


class Threshold:
    """Interface: a per-class threshold vector and the mask it induces."""

    num_classes: int

    def values(self) -> torch.Tensor:
        """The current threshold of each class (length ``num_classes``)."""
        raise NotImplementedError

    def set_unlabeled_size(self, n: int) -> None:
        """The size of the run's unlabeled pool (the range of ``Batch.u_index``), before training."""

    def observe(self, probs: torch.Tensor, index: torch.Tensor | None) -> None:
        """Every batch's weak-view probabilities of unlabeled images ``index`` (None where the batch does
        not carry it), after the mask was taken; by default nothing."""

    def mask(self, probs: torch.Tensor) -> torch.Tensor:
        """True where the max probability reaches the threshold of the predicted class."""
        confidence, predicted = probs.max(dim=1)
        return confidence >= self.values().to(probs.device)[predicted]

    @property
    def learns_from_labeled(self) -> bool:
        """Whether it learns from the labeled set (it overrides ``update_epoch``): the trainer
        predicts the labeled set only for such a threshold."""
        return type(self).update_epoch is not Threshold.update_epoch

    def update_epoch(self, probs: torch.Tensor, targets: torch.Tensor, epoch: int) -> None:
        """Learn from the EMA model's predictions on the labeled set after ``epoch`` (1-based)."""

    def state_dict(self) -> dict[str, list[float]]:
        return {"values": self.values().tolist()}

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        """Fixed thresholds have nothing to restore."""


#: how a method takes a threshold policy: built from (its threshold or floor, the number of classes)
ThresholdFactory = Callable[[float, int], Threshold]


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


class FlexMatchThreshold(Threshold):
    """FlexMatch's curriculum pseudo-labelling (Zhang et al., NeurIPS 2021), as in USB's
    ``FlexMatchThresholdingHook`` (and TorchSSL).

    Per-image bookkeeping over the unlabeled pool: ``selected[i]`` is the class the model last
    predicted for unlabeled image i with confidence ≥ τ (−1 while it never has). The learning
    effect of class c is σ_c = #{i: selected[i] = c}; it is normalised to
    β_c = σ_c / max(max_c' σ_c', N_unused) with threshold warm-up (the default; N_unused =
    #{i: selected[i] = −1}), or σ_c / max_c' σ_c' without. The threshold of class c is
    M(β_c)·τ with the convex mapping M(x) = x / (2 − x). As in the reference, β stays at 0
    (every prediction passes) until at least one image has been selected, and the update is
    skipped while one value (normally −1) holds the whole pool. ``mask`` uses the thresholds
    of the previous steps; ``observe`` then records the batch and updates β.

    The pool size must be known (``set_unlabeled_size``, or ``num_unlabeled``) before the
    first ``observe``; ``state_dict`` carries ``selected`` so that a resumed run continues
    with the same thresholds.

    Defaults and sources: τ = 0.95 and threshold warm-up on (the paper and USB's CIFAR config);
    the rest of FlexMatch is FixMatch's loss (λu = 1, hard pseudo-labels), see ``fixmatch.py``.
    USB's unlabeled batch is 7× the labeled one; the suite's is 16 + 16 for every method.
    """

    def __init__(self, tau: float = 0.95, num_classes: int = 7, num_unlabeled: int | None = None,
                 warmup: bool = True) -> None:
        if not 0.0 < tau <= 1.0:
            raise ValueError(f"threshold {tau} must lie in (0, 1]")
        self.tau, self.num_classes, self.warmup = tau, num_classes, warmup
        self.selected: torch.Tensor | None = None
        self.beta = torch.zeros(num_classes)
        if num_unlabeled is not None:
            self.set_unlabeled_size(num_unlabeled)

    def set_unlabeled_size(self, n: int) -> None:
        if n <= 0:
            raise ValueError(f"the unlabeled pool must not be empty (got size {n})")
        if self.selected is None:
            self.selected = torch.full((n,), -1, dtype=torch.long)
        elif len(self.selected) != n:
            raise ValueError(f"FlexMatch's bookkeeping covers {len(self.selected)} unlabeled images, not {n}")

    def values(self) -> torch.Tensor:
        return self.tau * self.beta / (2.0 - self.beta)

    @torch.no_grad()
    def observe(self, probs: torch.Tensor, index: torch.Tensor | None) -> None:
        """Record the confident predictions of unlabeled images ``index`` and update β."""
        if index is None:
            raise ValueError(f"{type(self).__name__} keeps per-image state: the batch must carry u_index")
        if self.selected is None:
            raise RuntimeError("FlexMatch needs the unlabeled pool size: call Algorithm.set_unlabeled_size(n) "
                               "before training")
        confidence, predicted = probs.float().max(dim=1)
        chosen = (confidence >= self.tau).cpu()
        index = index.cpu().long()
        if index.numel() and (index.min() < 0 or index.max() >= len(self.selected)):
            raise IndexError(f"unlabeled index out of range 0..{len(self.selected) - 1}")
        self.selected[index[chosen]] = predicted.cpu()[chosen]
        self._update()

    def _update(self) -> None:
        assert self.selected is not None
        counts = torch.bincount(self.selected + 1, minlength=self.num_classes + 1)  # counts[0]: unused
        if counts.max() >= len(self.selected):
            return
        per_class = counts[1:].float()
        norm = max(per_class.max(), counts[0].float()) if self.warmup else per_class.max()
        self.beta = per_class / norm

    def state_dict(self) -> dict[str, object]:  # type: ignore[override]
        return {"values": self.values().tolist(),
                "selected": None if self.selected is None else self.selected.clone()}

    def load_state_dict(self, state: dict[str, object]) -> None:  # type: ignore[override]
        selected = state.get("selected")
        if selected is None:
            return
        self.selected = torch.as_tensor(selected, dtype=torch.long).clone()
        self.beta = torch.zeros(self.num_classes)
        self._update()
