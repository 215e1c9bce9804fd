"""Losses shared by the algorithms and by SimCLR pretraining."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(za: torch.Tensor, zb: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """NT-Xent / InfoNCE between two views of the same images (SimCLR, SupCon without labels).

    ``za[i]`` and ``zb[i]`` are L2-normalised features of two views of image i. Each of the
    2N features is an anchor whose positive is its twin and whose negatives are the other
    2N−2 features; the loss is the mean over anchors of −log softmax(positive). Gradients
    flow into both views (the official code once computed it under no_grad).
    """
    n = za.shape[0]
    if n == 0:
        return za.new_zeros(())
    z = torch.cat([za, zb]).float()
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, positive)


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy summed over the masked samples and divided by the whole batch.

    This is FixMatch's and the official Ada-CM code's normalisation: samples below the
    threshold count as zeros, so the loss grows with the mask rate.
    """
    per_sample = F.cross_entropy(logits.float(), targets, reduction="none")
    return (per_sample * mask.float()).mean()
