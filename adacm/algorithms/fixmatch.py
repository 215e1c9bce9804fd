"""FixMatch (Sohn et al. 2020): pseudo-label the weak view where its confidence reaches a
fixed threshold, and train the strong view on it. Loss Lx + λu·Lu with λu = 1.

The threshold is an object (``FixedThreshold`` by default) so that Table 1's FT rows and
FlexMatch differ only in the policy passed in: ``policy`` builds a ``Threshold`` from
``(threshold, num_classes)`` (``flexmatch`` in the registry is this class with
``policy=FlexMatchThreshold``). Every batch's weak-view probabilities go to the threshold's
``observe`` after the mask has been taken (FlexMatch's per-image bookkeeping).
"""

from __future__ import annotations

import torch
from torch import nn

from adacm.algorithms.base import Algorithm, Batch, pseudo_label_term
from adacm.algorithms.thresholds import FixedThreshold, ThresholdFactory


class FixMatch(Algorithm):
    unlabeled_views = ("weak", "strong")

    def __init__(self, num_classes: int, threshold: float = 0.95, lambda_u: float = 1.0,
                 policy: ThresholdFactory | None = None, joint_forward: bool = True) -> None:
        super().__init__(joint_forward)
        self.threshold = (policy or FixedThreshold)(threshold, num_classes)
        self.lambda_u = lambda_u

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        (logits_x, _), (logits_w, _), (logits_s, _) = self.forward(model, batch)
        loss_x = self.supervised_term(logits_x, batch.y)
        probs = torch.softmax(logits_w.detach().float(), dim=1)
        loss_u, _, stats = pseudo_label_term(logits_s, probs, self.threshold, batch)
        loss = loss_x + self.lambda_u * loss_u
        return loss, {"loss_x": loss_x.item(), "loss_u": loss_u.item(), **stats}
