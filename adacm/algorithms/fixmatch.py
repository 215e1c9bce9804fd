"""FixMatch (Sohn et al. 2020): pseudo-label the weak view where its confidence reaches a
fixed threshold, and train the strong view on it. Loss Lx + λu·Lu with λu = 1.

The threshold is an object (``FixedThreshold`` by default) so that Table 1's FT rows and
FlexMatch differ only in the policy passed in: ``policy`` is a ``Threshold`` or a
``Threshold`` class, built with ``tau=threshold`` (``flexmatch`` in the registry is this
class with ``policy=FlexMatchThreshold``). A policy with an ``observe(probs, u_index)``
method (FlexMatch's per-image bookkeeping) sees every batch's weak-view probabilities after
the mask has been taken, and then needs ``Batch.u_index``.
"""

from __future__ import annotations

import torch
from torch import nn

from adacm.algorithms.base import Algorithm, Batch, pseudo_label_term
from adacm.thresholds import FixedThreshold, Threshold


class FixMatch(Algorithm):
    name = "fixmatch"
    unlabeled_views = ("weak", "strong")

    def __init__(self, num_classes: int, threshold: float = 0.95, lambda_u: float = 1.0,
                 policy: Threshold | type[Threshold] | None = None, joint_forward: bool = True) -> None:
        super().__init__(joint_forward)
        if isinstance(policy, type):
            policy = policy(tau=threshold, num_classes=num_classes)  # type: ignore[call-arg]
        self.threshold = policy or FixedThreshold(threshold, num_classes)
        self.lambda_u = lambda_u

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        (logits_x, _), (logits_w, _), (logits_s, _) = self.forward(model, batch)
        loss_x = self.supervised_term(logits_x, batch.y)
        probs = torch.softmax(logits_w.detach().float(), dim=1)
        loss_u, _, stats = pseudo_label_term(logits_s, probs, self.threshold, batch.u_true)
        observe = getattr(self.threshold, "observe", None)
        if observe is not None:
            if batch.u_index is None:
                raise ValueError(f"{type(self.threshold).__name__} keeps per-image state: the batch must carry u_index")
            observe(probs, batch.u_index)
        loss = loss_x + self.lambda_u * loss_u
        return loss, {"loss_x": loss_x.item(), "loss_u": loss_u.item(), **stats}
