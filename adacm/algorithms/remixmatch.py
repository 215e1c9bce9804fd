"""ReMixMatch (Berthelot et al., ICLR 2020).

The weak view's softmax p is distribution-aligned, p̃ = Normalize(p · p(y) / p̄), with p(y)
uniform by default (``p_target`` sets another) and p̄ the mean of the model's batch-mean
predictions on unlabeled data over the last 128 batches, the current batch included (over
the batches recorded so far during the first 128 steps); p̃ is sharpened (T) into the guess
q. The guess is a gradient-free forward pass of the weak view in training mode: batch-norm
normalises it with its own batch statistics and updates its running statistics. Augmentation
anchoring: q is the target of K strong views. The labeled batch, the K strong views and the
weak view are mixed up as in MixMatch (α, λ' = max(λ, 1−λ)); Lx and Lu are cross-entropies
against the mixed targets; Lu1 is the cross-entropy of the first strong view, un-mixed,
against q. Loss Lx + w(t)·(λ_U·Lu + λ_U1·Lu1), w(t) a linear ramp-up.

Defaults and sources:
- T = 0.5, α = 0.75, λ_U = 1.5, λ_U1 = 0.5: the paper (and USB's config).
- the 128-batch window of p̄: the paper and its reference code (google-research/remixmatch,
  ``remixmatch_no_cta.py``: a ``PMovingAverage`` buffer of ``dbuf=128`` batch means). USB
  uses an EMA instead (below).
- ramp-up of λ_U and λ_U1 over the first 1/64 of training: the reference code's 1,024-kimg
  warm-up in its 2^20-step run, USB's ``unsup_warm_up``.
- K = 2 strong views (USB); the paper uses K = 8, too costly at the suite's CPU budget.
- batch: the suite's 16 labeled + 16 unlabeled images (paper: 64 + 64).

Deviations from the paper, forced by the shared suite:
- strong views are the suite's RandAugment + Cutout ('strong') in place of CTAugment, whose
  magnitudes are learned from the labeled batch (FixMatch's RA variant, same role).
- the labeled batch comes in the weak view (the paper strongly augments it; the trainer gives
  algorithms one weak labeled view; USB does the same).
- no rotation loss (λ_r = 0.5 in the paper): it needs a 4-way rotation head, i.e. parameters
  outside the model that the trainer's optimizer, built from the model before the algorithm
  could add any, would never update; the backbones' shared head (``FERNet``) has none.

Distribution alignment against its sources (the suite's window is the reference code's, with
two differences):
- reference code: the 128-slot buffer starts filled with uniform distributions and takes a
  batch's mean after that batch's step, so a batch is aligned with the 128 batches before it;
  the suite averages only the batches recorded so far and includes the current one. p(y) there
  is the unlabeled distribution when given (``--p_unlabeled``), otherwise a 0.999-EMA of the
  labeled batches' one-hot labels starting from uniform.
- USB (``semilearn/algorithms/remixmatch/remixmatch.py`` with ``DistAlignEMAHook`` from
  ``semilearn/algorithms/hooks/dist_align.py``): p̄ is an EMA (momentum 0.999) of the
  batch-mean predictions, started at the first batch's mean and updated with the current batch
  before aligning; p(y) is ``p_target_type='gt'``, the labeled set's class frequencies.
- p(y): the suite's default is uniform. It equals the labeled class distribution only where
  the split is exactly balanced; the suite's splits give the remainder n mod C to some classes
  and water-fill around classes with fewer images than their share (``adacm.data.splits``);
  on such splits the reference code's and USB's target is not uniform.

Batch-norm during guessing (a deviation from USB and the reference code): the suite's guessing
pass runs in training mode and updates the running statistics (then the mixed forward updates
them again). USB wraps the guessing pass in ``bn_controller.freeze_bn``/``unfreeze_bn`` (it
still normalises with batch statistics, but restores the running statistics afterwards), as
it does for the labeled and strong-view passes and for every mixed chunk but the first; the
reference code keeps only the last interleaved batch's batch-norm updates. Either way the
guessing pass leaves the running statistics unchanged there.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from adacm.algorithms.base import Batch
from adacm.algorithms.mixing import (
    MixupAlgorithm,
    guess_labels,
    guess_stats,
    linear_rampup,
    one_hot,
    soft_cross_entropy,
)


class DistributionAlignment:
    """p̃ = Normalize(p · p_target / p̄), p̄ the mean of the last ``window`` batch means of p."""

    def __init__(self, num_classes: int, window: int = 128, p_target: Sequence[float] | None = None) -> None:
        target = torch.full((num_classes,), 1.0 / num_classes) if p_target is None else torch.tensor(p_target)
        if target.shape != (num_classes,) or (target <= 0).any():
            raise ValueError(f"p_target must hold {num_classes} positive class probabilities")
        self.p_target = target.float() / target.sum()
        self.history = torch.zeros(window, num_classes)
        self.count = 0

    def p_model(self) -> torch.Tensor:
        filled = min(self.count, len(self.history))
        return self.history[:filled].mean(dim=0) if filled else self.p_target.clone()

    @torch.no_grad()
    def __call__(self, probs: torch.Tensor) -> torch.Tensor:
        """Record this batch's mean prediction, then align ``probs``."""
        self.history[self.count % len(self.history)] = probs.float().mean(dim=0).cpu()
        self.count += 1
        ratio = (self.p_target / self.p_model()).to(probs.device)
        aligned = probs.float() * ratio
        return aligned / aligned.sum(dim=1, keepdim=True)

    def state_dict(self) -> dict[str, object]:
        return {"history": self.history.clone(), "count": self.count}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.history = torch.as_tensor(state["history"]).clone().float()  # type: ignore[arg-type]
        self.count = int(state["count"])  # type: ignore[arg-type]


class ReMixMatch(MixupAlgorithm):
    unlabeled_views = ("weak", "strong", "strong")

    def __init__(self, num_classes: int, k: int = 2, temperature: float = 0.5, alpha: float = 0.75,
                 lambda_u: float = 1.5, lambda_u1: float = 0.5, rampup: float = 1 / 64, window: int = 128,
                 p_target: Sequence[float] | None = None, generator: torch.Generator | None = None,
                 joint_forward: bool = True) -> None:
        super().__init__(num_classes, alpha, generator, joint_forward)
        if k < 1:
            raise ValueError(f"K={k} strong views: need at least 1")
        self.unlabeled_views = ("weak",) + ("strong",) * k  # type: ignore[misc]
        self.temperature, self.rampup = temperature, rampup
        self.lambda_u, self.lambda_u1 = lambda_u, lambda_u1
        self.align = DistributionAlignment(num_classes, window, p_target)

    def guess(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Distribution-aligned, sharpened prediction on the weak view (no gradient)."""
        with torch.no_grad():
            logits, _ = model(batch.u_views[0])
        return guess_labels([self.align(torch.softmax(logits.float(), dim=1))], self.temperature)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        q = self.guess(model, batch)
        weak, *strong = batch.u_views
        n = len(batch.x)
        targets = [one_hot(batch.y, self.num_classes)] + [q] * (len(strong) + 1)
        logits, _, mixed_t, ((logits_s1, _),) = self.mix_forward(model, [batch.x, *strong, weak], targets,
                                                                 extra=[strong[0]])
        loss_x = soft_cross_entropy(logits[:n], mixed_t[:n])
        loss_u = soft_cross_entropy(logits[n:], mixed_t[n:])
        loss_u1 = soft_cross_entropy(logits_s1, q)
        ramp = linear_rampup(batch.step, batch.total_steps, self.rampup)
        loss = loss_x + ramp * (self.lambda_u * loss_u + self.lambda_u1 * loss_u1)
        return loss, {"loss_x": loss_x.item(), "loss_u": loss_u.item(), "loss_u1": loss_u1.item(),
                      "w_u": ramp * self.lambda_u, **guess_stats(q, batch.u_true)}

    def state_dict(self) -> dict[str, object]:
        return {**super().state_dict(), "align": self.align.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        super().load_state_dict(state)
        if "align" in state:
            self.align.load_state_dict(state["align"])  # type: ignore[arg-type]
