"""What the suite asks of a backbone: the declared interface every entry of ``BACKBONES`` implements.

A backbone maps images (float, [N, C, H, W] in [0, 1]) to features of ``feature_dim``; the
shared head (``heads.FERNet``) sits on top. The defaults are what a plain network needs: no
smallest input size, no batch-norm momentum option, nothing to calibrate.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

#: what wraps a network's keys in shared checkpoints: DataParallel (``module.``) and trainers that
#: hold the network as an attribute (``base.``; ``backbone.``, as SimCLR's do)
WRAPPERS = ("module.", "base.", "backbone.")
#: top-level heads that checkpoints carry and a backbone does not take: classifiers, SimCLR's projector
HEADS = ("fc", "classifier", "projector")


def backbone_items(state: dict[str, torch.Tensor]) -> Iterator[tuple[str, torch.Tensor]]:
    """A checkpoint's (key, tensor) pairs with its wrappers' prefixes removed and its heads left out."""
    for key, value in state.items():
        for prefix in WRAPPERS:
            key = key.removeprefix(prefix)
        if key.split(".", 1)[0] not in HEADS:
            yield key, value


class Backbone(nn.Module):
    feature_dim: int
    #: the smallest input side (px) the network accepts
    min_input_size: int = 1
    #: the backbone of the paper's tables that it is or stands in for (their columns are ResNet-18 and WRN-28-2)
    paper_name: str = "resnet18"
    #: whether the constructor takes ``bn_momentum`` (the WRN reference's batch-norm setting)
    takes_bn_momentum: bool = False

    def load_pretrained_state(self, state: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
        """Load pretrained weights (a state dict in the layout the weights are shared in); returns
        (missing, unexpected) key lists so that a mismatch can be reported clearly."""
        raise NotImplementedError

    def torchvision_state(self) -> dict[str, torch.Tensor]:
        """The weights in the layout ``load_pretrained_state`` reads (what ``adacm pretrain`` saves)."""
        raise NotImplementedError

    def calibrate(self, images: torch.Tensor) -> None:
        """Adapt to unlabeled training images before fine-tuning (float RGB in [0, 1]); by default nothing."""
