"""WRN-28-2 (Zagoruyko & Komodakis, BMVC 2016) in the variant of the MixMatch / FixMatch
reference code, the backbone of Ada-CM's Tables 3 and 4 (as in Margin-Mix).

Pre-activation wide residual network: a 3×3/1 stem with 16 channels (CIFAR stem: the
network runs at 32–48 px), three groups of (28 − 4) / 6 = 4 basic blocks with 32, 64 and 128
channels (widen factor 2) and strides 1, 2, 2, then batch-norm, leaky ReLU and global
average pooling → a 128-d feature. As in the reference code: leaky ReLU with slope 0.1,
batch-norm momentum 0.001 (TensorFlow's decay 0.999) and ε = 0.001, no biases in
convolutions, the first block activates its input before the residual split, 1×1
projection shortcuts where the width changes; He (fan-out) initialisation. Each block
follows the reference's TensorFlow definition (the convolution always sees the activated
input); the popular PyTorch port instead feeds the raw input to the first convolution of the
width-changing blocks of groups 2 and 3. Both have 1,466,320 parameters (1,467,610 with the
usual 10-class linear head, the "1.5M" of the MixMatch / FixMatch papers).

Input: float RGB in [0, 1], normalised inside with ImageNet's statistics like the suite's
other backbones. Batch-norm momentum 0.001 is the reference's, tuned for 2^20-step runs; after
the `cpu` protocol's 1,600 steps the running statistics still lag far behind the weights, so
that protocol passes ``bn_momentum=0.01`` (``protocols.py``; the comparison:
docs/protocols.md; see docs/findings.md).
"""

from __future__ import annotations

import torch
from torch import nn

from adacm.models.backbone import Backbone, backbone_items
from adacm.models.resnet import IMAGENET_MEAN, IMAGENET_STD


class WideBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, activate_before_residual: bool, bn: dict[str, float],
                 slope: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, **bn)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, **bn)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.act = nn.LeakyReLU(slope)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if cin != cout or stride != 1 else None
        self.activate_before_residual = activate_before_residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(x))
        if self.activate_before_residual:
            x = out
        out = self.conv2(self.act(self.bn2(self.conv1(out))))
        return out + (x if self.shortcut is None else self.shortcut(x))


class WRN28_2(Backbone):
    """WRN-28-2 up to global average pooling; input RGB in [0,1], normalised inside."""

    feature_dim = 128
    bn_momentum = 0.001  # the reference's default (TensorFlow decay 0.999)
    takes_bn_momentum = True
    paper_name = "wrn28_2"

    def __init__(self, depth: int = 28, widen: int = 2, bn_momentum: float = bn_momentum, slope: float = 0.1) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WRN depth {depth} must be 6n + 4")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.feature_dim = widths[-1]
        bn = {"momentum": bn_momentum, "eps": 1e-3}
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)]
        for group, stride in enumerate((1, 2, 2)):
            for i in range(n):
                layers.append(WideBlock(widths[group] if i == 0 else widths[group + 1], widths[group + 1],
                                        stride if i == 0 else 1, group == 0 and i == 0, bn, slope))
        layers += [nn.BatchNorm2d(widths[-1], **bn), nn.LeakyReLU(slope)]
        self.body = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.mean) / self.std).mean(dim=(2, 3))

    def torchvision_state(self) -> dict[str, torch.Tensor]:
        """The weights under the key names ``load_pretrained_state`` reads (what ``adacm pretrain`` saves)."""
        return self.state_dict()

    def load_pretrained_state(self, state: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
        """Load a state dict of this module (e.g. a SimCLR backbone); classifier/projector keys are
        ignored. Returns (missing, unexpected) key lists."""
        result = self.load_state_dict(dict(backbone_items(state)), strict=False)
        return list(result.missing_keys), list(result.unexpected_keys)
