"""What every algorithm shares: the batch it gets, the forward pass over its views, and the
pseudo-label consistency term that FixMatch and Ada-CM both use.

An algorithm is its loss on a batch, nothing else (as in google-research/fixmatch); the
trainer owns data, optimisation, EMA, evaluation and checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from adacm.algorithms.losses import masked_cross_entropy
from adacm.algorithms.thresholds import Threshold


@dataclass
class Batch:
    """One training step's inputs. ``u_views`` follow ``Algorithm.unlabeled_views``;
    ``u_true`` are the unlabeled images' hidden labels (−1 where unknown), used only to
    monitor pseudo-labels; ``step``/``total_steps`` (0-based) drive ramp-ups and schedules;
    ``u_index`` are the unlabeled images' positions in the run's unlabeled pool (0 … n−1,
    n as given to ``Algorithm.set_unlabeled_size``), for methods that keep per-image
    bookkeeping over the pool (FlexMatch); None where the caller does not provide them."""

    x: torch.Tensor
    y: torch.Tensor
    u_views: list[torch.Tensor]
    u_true: torch.Tensor
    step: int = 0
    total_steps: int = 1
    u_index: torch.Tensor | None = None


Outputs = list[tuple[torch.Tensor, torch.Tensor]]


def forward_views(model: nn.Module, views: list[torch.Tensor], joint: bool) -> Outputs:
    """(logits, feature) for each view.

    ``joint=True`` runs one forward over the concatenated views (one batch-norm pass over
    all of them, FixMatch's practice and faster on CPU); ``joint=False`` runs one forward per
    view, as the official Ada-CM code does.
    """
    if not joint or len(views) == 1:
        return [model(v) for v in views]
    logits, feats = model(torch.cat(views))
    sizes = [len(v) for v in views]
    return list(zip(logits.split(sizes), feats.split(sizes)))


def pseudo_label_term(strong_logits: torch.Tensor, probs: torch.Tensor, threshold: Threshold,
                      batch: Batch) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Cross-entropy of the strong view against the confident pseudo-labels of ``probs``; the
    threshold then observes the batch (FlexMatch's bookkeeping; a no-op for most policies).

    Returns (Lu, mask, monitoring stats). ``probs`` must be detached: pseudo-labels are targets.
    """
    mask = threshold.mask(probs)
    threshold.observe(probs, batch.u_index)
    pseudo = probs.argmax(dim=1)
    loss = masked_cross_entropy(strong_logits, pseudo, mask)
    return loss, mask, pseudo_label_stats(pseudo, mask, batch.u_true)


def pseudo_label_stats(pseudo: torch.Tensor, mask: torch.Tensor, u_true: torch.Tensor) -> dict[str, float]:
    """Mask rate and pseudo-label accuracy (over the masked and over all images with a known label)."""
    known = u_true >= 0  # extra unlabeled images (e.g. FER2013 for SFEW) have no hidden label
    right = (pseudo == u_true).float()
    stats = {"mask_rate": mask.float().mean().item(),
             "n_masked": (mask & known).sum().item(), "n_masked_right": right[mask & known].sum().item()}
    if known.any():
        stats["pl_acc_all"] = right[known].mean().item()
    return stats


class Algorithm:
    """Base class: subclasses set ``unlabeled_views`` and implement ``loss``.

    ``needs_teacher``: the trainer sets ``self.teacher`` to its EMA model (MeanTeacher-style
    methods). Any state that must survive a resume goes through ``state_dict`` (the
    threshold's by default).
    """

    unlabeled_views: ClassVar[tuple[str, ...]] = ()
    needs_teacher: ClassVar[bool] = False
    threshold: Threshold | None = None
    teacher: nn.Module | None = None

    def __init__(self, joint_forward: bool = True) -> None:
        self.joint_forward = joint_forward

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, object]:
        return {"threshold": self.threshold.state_dict()} if self.threshold else {}

    def load_state_dict(self, state: dict[str, object]) -> None:
        if self.threshold and "threshold" in state:
            self.threshold.load_state_dict(state["threshold"])  # type: ignore[arg-type]

    def set_unlabeled_size(self, n: int) -> None:
        """Tell the algorithm the size of the run's unlabeled pool (the range of ``Batch.u_index``).

        Only policies with per-image bookkeeping (FlexMatch) need it; others ignore it.
        """
        if self.threshold is not None:
            self.threshold.set_unlabeled_size(n)

    def forward(self, model: nn.Module, batch: Batch) -> Outputs:
        return forward_views(model, [batch.x, *batch.u_views], self.joint_forward)

    @staticmethod
    def supervised_term(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), targets)
