"""The paper's Baseline: cross-entropy on the labeled images only (Eq. 1)."""

from __future__ import annotations

import torch
from torch import nn

from adacm.algorithms.base import Algorithm, Batch


class Supervised(Algorithm):
    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        ((logits, _),) = self.forward(model, batch)
        loss = self.supervised_term(logits, batch.y)
        return loss, {"loss_x": loss.item()}
