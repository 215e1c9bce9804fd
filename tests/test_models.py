"""The backbones and their weights (``adacm.models``): WRN-28-2's size and shapes, batch-norm
momentum where a backbone takes one, saved weights' bytes. dlib's face network: test_dlib.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from adacm.models import BACKBONES, build_model
from adacm.models.heads import FERNet
from adacm.paths import sha256_file

C = 7


def test_wrn28_2_parameters_and_shapes() -> None:
    backbone = BACKBONES["wrn28_2"]()
    assert sum(p.numel() for p in backbone.parameters()) == 1_466_320
    # with the classic 10-class linear head: 1,467,610, the "1.5M" of MixMatch/FixMatch
    assert sum(p.numel() for p in FERNet(backbone, 128, 10).parameters()) == 1_467_610
    model, digest = build_model("wrn28_2", C)
    assert digest is None and sum(p.numel() for p in model.parameters()) == 1_466_320 + 128 * C + C
    bns = [m for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 25 and all(m.momentum == 0.001 for m in bns)
    assert all(m.negative_slope == 0.1 for m in backbone.modules() if isinstance(m, nn.LeakyReLU))
    model.eval()
    with torch.no_grad():
        for size in (32, 48):
            logits, feat = model(torch.rand(2, 1, size, size))  # grey faces, expanded by the head
            assert logits.shape == (2, C) and feat.shape == (2, 128)
            assert backbone(torch.rand(2, 3, size, size)).shape == (2, 128)
    other = BACKBONES["wrn28_2"]()
    assert other.load_pretrained_state(backbone.torchvision_state()) == ([], [])
    assert all(torch.equal(a, b) for a, b in zip(other.state_dict().values(), backbone.state_dict().values()))


def test_batchnorm_momentum_is_set_where_a_backbone_takes_one() -> None:
    """`cpu` runs WRN-28-2 with momentum 0.01 (protocols.py); other backbones refuse the option."""
    from adacm.errors import UserError
    from adacm.run.protocols import get_protocol

    model, _ = build_model("wrn28_2", C, bn_momentum=0.01)
    assert {m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == {0.01}
    cpu = get_protocol("cpu")
    assert cpu.config("fer2013", "adacm", 100, 0, model="wrn28_2").bn_momentum == 0.01
    assert cpu.config("fer2013", "adacm", 100, 0, model="wrn28_2", bn_momentum=0.1).bn_momentum == 0.1
    assert cpu.config("fer2013", "adacm", 100, 0).bn_momentum is None  # ResNet-18: its own
    assert get_protocol("paper").config("rafdb", "adacm", 100, 0, model="wrn28_2").bn_momentum is None
    with pytest.raises(UserError, match="takes no batch-norm momentum"):
        build_model("resnet18", C, bn_momentum=0.1)


def test_saved_weights_have_the_same_bytes_whoever_writes_them(tmp_path: Path) -> None:
    import torch

    from adacm.models.weights import save_state

    state = {"w": torch.arange(6.0).reshape(2, 3)}
    digests = {save_state(state, tmp_path / name) for name in ("a.pt", "b.12345.pt")}
    assert len(digests) == 1 and digests == {sha256_file(tmp_path / "a.pt")}
    assert torch.equal(torch.load(tmp_path / "b.12345.pt")["w"], state["w"])
