"""Pseudo-Labeling (Lee, ICML-W 2013), in the form USB benchmarks it.

One weak view of each unlabeled image; where its softmax reaches τ, its argmax is taken as a
hard label and the *same* forward pass is trained on it (cross-entropy, summed over the
confident images and divided by the whole unlabeled batch). Loss Lx + λu·w(t)·Lu with
w(t) = min(1, t / (r·T)) a linear warm-up over the first fraction r of the T steps.

Defaults and sources:
- τ = 0.95: USB (``pseudolabel`` config for CIFAR; Lee's paper takes every argmax, no threshold).
- λu = 1: USB's ``ulb_loss_ratio``. Lee's paper ramps α(t) to α_f = 3 between epochs 100 and 600.
- warm-up r = 0.4 of training, linear from step 0: USB's ``unsup_warm_up``. Lee's schedule is
  given in epochs of a 1,000-epoch MNIST run and has no meaning for a 20-epoch run; a fraction
  of training keeps the shape whatever the schedule.
- batch: the suite's 16 labeled + 16 unlabeled images (USB: 64 + 64).

Deviation from USB (``semilearn/algorithms/pseudolabel/pseudolabel.py``), batch-norm during
guessing: the unlabeled view's forward pass, which gives both the pseudo-labels and the
logits trained on them, runs in training mode with batch-norm unfrozen, so it updates the
running statistics; with ``joint_forward`` (the default) it is one pass over [labeled, weak],
normalised with the statistics of both together. USB forwards the labeled batch alone, then
the unlabeled batch inside ``bn_controller.freeze_bn``/``unfreeze_bn``: normalised with its
own batch statistics, but with the running statistics restored afterwards, so only labeled
batches update them.
"""

from __future__ import annotations

import torch
from torch import nn

from adacm.algorithms.base import Algorithm, Batch, pseudo_label_term
from adacm.algorithms.mixing import linear_rampup
from adacm.algorithms.thresholds import FixedThreshold, ThresholdFactory


class PseudoLabel(Algorithm):
    unlabeled_views = ("weak",)

    def __init__(self, num_classes: int, threshold: float = 0.95, lambda_u: float = 1.0, rampup: float = 0.4,
                 policy: ThresholdFactory | None = None, joint_forward: bool = True) -> None:
        super().__init__(joint_forward)
        self.threshold = (policy or FixedThreshold)(threshold, num_classes)
        self.lambda_u, self.rampup = lambda_u, rampup

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        (logits_x, _), (logits_u, _) = self.forward(model, batch)
        loss_x = self.supervised_term(logits_x, batch.y)
        probs = torch.softmax(logits_u.detach().float(), dim=1)
        loss_u, _, stats = pseudo_label_term(logits_u, probs, self.threshold, batch)
        w_u = self.lambda_u * linear_rampup(batch.step, batch.total_steps, self.rampup)
        loss = loss_x + w_u * loss_u
        return loss, {"loss_x": loss_x.item(), "loss_u": loss_u.item(), "w_u": w_u, **stats}
