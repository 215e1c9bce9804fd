"""Exponential moving average of a model, with the official code's hidden weight decay.

The official ``WeightEMA.step`` also multiplies the live model's weights by (1 − 0.02·lr)
after each step, an undocumented weight decay; it is reproduced here (on parameters only,
not batch-norm statistics) and recorded in the config as ``ema_weight_decay``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float, weight_decay: float) -> None:
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.weight_decay = weight_decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        live = dict(model.named_parameters())
        for name, p in self.model.named_parameters():
            p.lerp_(live[name].detach(), 1.0 - self.decay)
        for (_, b), (_, live_b) in zip(self.model.named_buffers(), model.named_buffers()):
            if b.dtype.is_floating_point:
                b.lerp_(live_b, 1.0 - self.decay)
            else:
                b.copy_(live_b)
        if self.weight_decay:
            for p in model.parameters():
                p.mul_(1.0 - self.weight_decay)
