"""Ada-CM (Li et al., CVPR 2022).

Two weak views of each unlabeled image; their mean softmax p gives the pseudo-label.
Subset I (max p ≥ T[argmax p], T the adaptive margin): cross-entropy of the strong view
against the pseudo-label (Lu, summed over subset I, divided by the whole unlabeled batch as
in the official code). Subset II (the rest): InfoNCE between the L2-normalised features of
the two weak views (Lc, temperature 0.07, gradients flowing into both views).
Loss 0.5·Lx + 1·Lu + 0.1·Lc. ``use_lu``/``use_lc`` give Table 1's ablation rows; the
margin still splits the batch when one of them is off.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from adacm.algorithms.base import Algorithm, Batch, pseudo_label_term
from adacm.algorithms.losses import info_nce
from adacm.algorithms.thresholds import AdaptiveMargin, ThresholdFactory


class AdaCM(Algorithm):
    unlabeled_views = ("weak", "weak", "strong")

    def __init__(self, num_classes: int, t0: float = 0.8, b: float = 0.97, gamma: float = math.e,
                 use_lu: bool = True, use_lc: bool = True, weights: tuple[float, float, float] = (0.5, 1.0, 0.1),
                 temperature: float = 0.07, policy: ThresholdFactory | None = None, joint_forward: bool = True) -> None:
        super().__init__(joint_forward)
        # a policy in place of the adaptive margin is built from (T0, number of classes)
        self.threshold = policy(t0, num_classes) if policy else AdaptiveMargin(num_classes, t0=t0, b=b, gamma=gamma)
        self.use_lu, self.use_lc = use_lu, use_lc
        self.weights = weights
        self.temperature = temperature

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        (logits_x, _), (logits_a, feat_a), (logits_b, feat_b), (logits_s, _) = self.forward(model, batch)
        loss_x = self.supervised_term(logits_x, batch.y)
        probs = ((torch.softmax(logits_a.float(), 1) + torch.softmax(logits_b.float(), 1)) / 2).detach()
        loss_u, mask, stats = pseudo_label_term(logits_s, probs, self.threshold, batch)
        rest = ~mask
        loss_c = info_nce(feat_a[rest], feat_b[rest], self.temperature)
        w_x, w_u, w_c = self.weights
        loss = w_x * loss_x + (w_u * loss_u if self.use_lu else 0) + (w_c * loss_c if self.use_lc else 0)
        return loss, {"loss_x": loss_x.item(), "loss_u": loss_u.item(), "loss_c": loss_c.item(), **stats}
