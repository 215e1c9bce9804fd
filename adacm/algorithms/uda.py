"""UDA, Unsupervised Data Augmentation (Xie et al., NeurIPS 2020), for images.

The weak view's prediction, sharpened by a softmax temperature (softmax(z/T), T = 0.4), is
the target of the strong view: Lu = KL(q ‖ p_strong), kept where the weak view's
(unsharpened) confidence reaches β = 0.8, summed over those images and divided by the whole
unlabeled batch. Loss Lx + λu·Lu. This is the official UDA code's image objective
(google-research/uda, ``image/main.py``: the temperature divides the target's logits, the
confidence mask is taken on the unsharpened softmax, the masked KL is ``reduce_mean``-ed over
the batch; its test is "> β" where the suite's threshold objects use "≥ β"). A soft
cross-entropy against the same target differs from this KL by the target's entropy, a
constant, so its gradients would be the same.

Training-signal annealing (TSA) is implemented but off by default (``tsa="none"``), as in
FixMatch's and USB's comparisons: with ``linear``/``log``/``exp``, labeled images whose
correct-class probability exceeds η_t = α_t(1 − 1/C) + 1/C are left out of Lx, which is then
averaged over the images kept (UDA's reference code, ``anneal_sup_loss``; α_t = t/T,
1 − e^(−5t/T), e^(5(t/T − 1))).

Defaults and sources: T = 0.4, β = 0.8, λu = 1, TSA off — the UDA paper's image settings (the
reference code's CIFAR-10 and SVHN scripts pass ``--uda_softmax_temp=0.4
--uda_confidence_thresh=0.8``) and the values of USB's ``uda`` config. UDA's unlabeled batch
is 7× (CIFAR) the labeled one; here it is the suite's 16 + 16, as for every method. Both views
come from one forward pass over [labeled, weak, strong] (``joint_forward``), as in the
reference code and USB's default (``use_cat``); the weak view's output is detached, so only
the strong view is trained on the target.

Deviations from USB (microsoft/Semi-supervised-learning, ``semilearn/algorithms/uda/uda.py``),
where the suite follows the reference code instead:
- sharpening: USB passes T to its pseudo-labeling hook together with ``softmax=False`` (the
  input being probabilities already), and the hook then returns them unchanged, so USB's
  target is the *unsharpened* weak-view softmax: its T = 0.4 is configured but never applied.
  The suite applies T, as the reference code does.
- TSA: USB's mask compares the labeled image's *maximum* class probability with η_t, not the
  probability of its correct class, and averages the masked loss over the whole labeled batch,
  not over the images kept. The suite does as the reference code (correct-class probability,
  mean over the kept images). With TSA off (the default) the two agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from adacm.algorithms.base import Algorithm, Batch, pseudo_label_stats
from adacm.algorithms.thresholds import FixedThreshold, ThresholdFactory

TSA_SCHEDULES = ("none", "linear", "log", "exp")


def tsa_threshold(schedule: str, step: int, total_steps: int, num_classes: int) -> float:
    """η_t of training-signal annealing (1 for ``none``: nothing is left out)."""
    t = step / max(total_steps, 1)
    alpha = {"none": 1.0, "linear": t, "log": 1 - math.exp(-5 * t), "exp": math.exp(5 * (t - 1))}[schedule]
    return alpha * (1 - 1 / num_classes) + 1 / num_classes


class UDA(Algorithm):
    unlabeled_views = ("weak", "strong")

    def __init__(self, num_classes: int, temperature: float = 0.4, threshold: float = 0.8, lambda_u: float = 1.0,
                 tsa: str = "none", policy: ThresholdFactory | None = None, joint_forward: bool = True) -> None:
        super().__init__(joint_forward)
        if tsa not in TSA_SCHEDULES:
            raise ValueError(f"tsa must be one of {', '.join(TSA_SCHEDULES)}, not {tsa!r}")
        self.threshold = (policy or FixedThreshold)(threshold, num_classes)
        self.num_classes, self.temperature, self.lambda_u, self.tsa = num_classes, temperature, lambda_u, tsa

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        (logits_x, _), (logits_w, _), (logits_s, _) = self.forward(model, batch)
        stats: dict[str, float] = {}
        if self.tsa == "none":
            loss_x = self.supervised_term(logits_x, batch.y)
        else:
            eta = tsa_threshold(self.tsa, batch.step, batch.total_steps, self.num_classes)
            per_sample = F.cross_entropy(logits_x.float(), batch.y, reduction="none")
            keep = (torch.exp(-per_sample.detach()) <= eta).float()  # exp(−CE) = correct-class probability
            loss_x = (per_sample * keep).sum() / keep.sum().clamp(min=1)
            stats["tsa_kept"] = keep.mean().item()
        logits_w = logits_w.detach().float()
        probs = torch.softmax(logits_w, dim=1)
        mask = self.threshold.mask(probs)
        self.threshold.observe(probs, batch.u_index)
        target = torch.softmax(logits_w / self.temperature, dim=1)
        kl = (target * (torch.log_softmax(logits_w / self.temperature, dim=1)
                        - torch.log_softmax(logits_s.float(), dim=1))).sum(dim=1)
        loss_u = (kl * mask.float()).mean()
        loss = loss_x + self.lambda_u * loss_u
        stats.update(pseudo_label_stats(probs.argmax(dim=1), mask, batch.u_true))
        return loss, {"loss_x": loss_x.item(), "loss_u": loss_u.item(), **stats}
