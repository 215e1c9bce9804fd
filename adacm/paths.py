"""Where data, caches and results live.

Data is never committed: it is found through ``ADACM_DATA``, then ``./data``, then
``../shared/data`` (relative to the working directory, then to the repository root).
Weights made here are data-derived and live in ``ADACM_CACHE`` (default ``~/.cache/adacm``).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from adacm.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data directory, by the documented search order; a clear error if none exists."""
    env = os.environ.get("ADACM_DATA")
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise UserError(f"data directory {env} (--data-root or ADACM_DATA) is not a directory: point it at the "
                            "folder holding fer2013.npz etc.")
        return path
    candidates = [Path("data"), Path("../shared/data"), REPO_ROOT / "data", REPO_ROOT.parent / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    raise UserError("no data directory found: set ADACM_DATA, or put the datasets in ./data or ../shared/data")


def cache_dir() -> Path:
    """The cache for data-derived weights and run checkpoints (created on demand)."""
    path = Path(os.environ.get("ADACM_CACHE", "~/.cache/adacm")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@lru_cache(maxsize=None)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) because data files are large."""
    stat = path.stat()
    return _sha256_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file and rename, so a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
