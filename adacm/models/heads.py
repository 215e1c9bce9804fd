"""The official Ada-CM classification head, shared by every backbone.

backbone → pooled feature → dropout(0.5) → L2 normalisation → linear classifier.
The normalised feature is what the contrastive loss uses; the classifier sees the same
normalised vector, as in the official ``ResNet_18`` module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FERNet(nn.Module):
    """A backbone with the Ada-CM head; ``forward`` returns (logits, normalised feature)."""

    def __init__(self, backbone: nn.Module, feature_dim: int, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1] == 1:  # grey faces feed the 3-channel stems of face/ImageNet backbones
            x = x.expand(-1, 3, -1, -1)
        feature = F.normalize(self.dropout(self.backbone(x)).float(), dim=1)
        return self.classifier(feature), feature
