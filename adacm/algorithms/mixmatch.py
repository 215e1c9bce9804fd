"""MixMatch (Berthelot et al., NeurIPS 2019).

K weak views of each unlabeled image; their mean softmax, sharpened (T), is the guessed
label q of every view. The labeled batch (one-hot labels) and the K unlabeled batches
(label q) are concatenated, shuffled and mixed up with λ' = max(λ, 1−λ), λ ~ Beta(α, α)
(``mixing.py``). Lx: cross-entropy of the mixed labeled chunk against its mixed targets;
Lu: squared error between the softmax of the mixed unlabeled chunks and their mixed targets,
averaged over samples and classes (the paper's 1/(L·|U'|) Σ‖q − p‖²). Loss Lx + λu·w(t)·Lu,
w(t) a linear ramp-up. The guess is a second, gradient-free forward pass in training mode,
normalised with its own batch statistics as in the reference code; unlike the reference code
(which keeps only the first interleaved batch's batch-norm updates) and USB (which wraps the
guess in ``bn_controller.freeze_bn``/``unfreeze_bn``), it also updates the running
statistics. Batch-norm over the mixed batch: see ``mixing.py`` (one joint pass, or
interleaved chunks with ``joint_forward=False``).

Defaults and sources:
- K = 2, T = 0.5, α = 0.75: the paper (Sec. 3 and 4) and its reference code.
- λu = 75: the paper's CIFAR-10 value (USB's CIFAR config uses 100).
- ramp-up over the first 40% of training (USB's CIFAR config, ``unsup_warm_up: 0.4``). The
  paper ramps over the first 16,000 steps of a 2^20-step run; in the suite's 20 × 800-step
  paper protocol 16,000 steps would be the whole run, so a fraction of training is used.
- the labeled batch enters mixup in the suite's weak view (crop + flip, the paper's
  augmentation of labeled images).
- batch: the suite's 16 labeled + 16 unlabeled images, as for every method (paper: 64 + 64).

A constant, confident prediction is its own sharpened guess, so it makes Lu small whatever the
labels: a collapse onto one class nearly satisfies the unlabeled term, which the large λu
weighs against Lx. Where runs collapse: the stored runs under results/cpu/table3 and
results/cpu/table4; see docs/findings.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adacm.algorithms.base import Batch, forward_views
from adacm.algorithms.mixing import (
    MixupAlgorithm,
    guess_labels,
    guess_stats,
    linear_rampup,
    one_hot,
    soft_cross_entropy,
)


class MixMatch(MixupAlgorithm):
    unlabeled_views = ("weak", "weak")

    def __init__(self, num_classes: int, k: int = 2, temperature: float = 0.5, alpha: float = 0.75,
                 lambda_u: float = 75.0, rampup: float = 0.4, generator: torch.Generator | None = None,
                 joint_forward: bool = True) -> None:
        super().__init__(num_classes, alpha, generator, joint_forward)
        if k < 1:
            raise ValueError(f"K={k} unlabeled views: need at least 1")
        self.unlabeled_views = ("weak",) * k  # type: ignore[misc]
        self.temperature, self.lambda_u, self.rampup = temperature, lambda_u, rampup

    def guess(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """The sharpened mean prediction over the K weak views (no gradient)."""
        with torch.no_grad():
            outs = forward_views(model, batch.u_views, self.joint_forward)
        return guess_labels([torch.softmax(logits.float(), dim=1) for logits, _ in outs], self.temperature)

    def mixmatch_terms(self, model: nn.Module, batch: Batch, q: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]:
        """(Lx, Lu, mixed features, mixed targets, w_u) for guessed labels ``q``."""
        n = len(batch.x)
        targets = [one_hot(batch.y, self.num_classes)] + [q] * len(batch.u_views)
        logits, feats, mixed_t, _ = self.mix_forward(model, [batch.x, *batch.u_views], targets)
        loss_x = soft_cross_entropy(logits[:n], mixed_t[:n])
        loss_u = F.mse_loss(torch.softmax(logits[n:].float(), dim=1), mixed_t[n:])
        w_u = self.lambda_u * linear_rampup(batch.step, batch.total_steps, self.rampup)
        return loss_x, loss_u, feats, mixed_t, w_u

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        q = self.guess(model, batch)
        loss_x, loss_u, _, _, w_u = self.mixmatch_terms(model, batch, q)
        loss = loss_x + w_u * loss_u
        return loss, {"loss_x": loss_x.item(), "loss_u": loss_u.item(), "w_u": w_u, **guess_stats(q, batch.u_true)}
