"""torchvision's ResNet-18 as a feature extractor.

The stem is torchvision's (7×7/2 conv + 3×3/2 max-pool) at every input size. At 48 px this
leaves a 2×2 map before pooling; a CIFAR-style 3×3/1 stem would cost 16× the compute of the
body (too slow for the 2-core `cpu` protocol) and would not accept the MS-Celeb-1M weights
that users bring for the `paper` protocol, which assume the standard stem.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from adacm.models.backbone import Backbone, backbone_items

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ResNet18Backbone(Backbone):
    """ResNet-18 up to global average pooling; input RGB in [0,1], normalised inside."""

    feature_dim = 512

    def __init__(self) -> None:
        super().__init__()
        net = torchvision.models.resnet18(weights=None)
        self.body = nn.Sequential(*list(net.children())[:-2])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.mean) / self.std).mean(dim=(2, 3))

    LAYER_NAMES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")

    def torchvision_state(self) -> dict[str, torch.Tensor]:
        """The body's weights under torchvision's key names (how pretrained weights are shared)."""
        return {f"{self.LAYER_NAMES[int(k.split('.', 1)[0])]}.{k.split('.', 1)[1]}": v
                for k, v in self.body.state_dict().items()}

    def load_pretrained_state(self, state: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
        """Load a torchvision-style ResNet-18 state dict (e.g. MS-Celeb-1M weights); fc is ignored.

        Returns (missing, unexpected) key lists so the caller can report a mismatch clearly.
        """
        names = self.LAYER_NAMES
        mapped = {}
        unexpected = []
        for key, value in backbone_items(state):
            head = key.split(".", 1)[0]
            if head in names:
                mapped[f"{names.index(head)}.{key.split('.', 1)[1]}"] = value
            else:
                unexpected.append(key)
        result = self.body.load_state_dict(mapped, strict=False)
        return list(result.missing_keys), unexpected + list(result.unexpected_keys)


def msceleb_layout(state: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """A torchvision ResNet-18 state dict laid out as the MS-Celeb-1M file users bring:
    ``{'state_dict': {'module.<key>': …}}`` (a DataParallel checkpoint; its fc is ignored on load)."""
    return {"state_dict": {f"module.{k}": v for k, v in state.items()}}
