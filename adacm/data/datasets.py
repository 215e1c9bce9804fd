"""Loaders for the prepared ``.npz`` datasets (see ``shared/data/README.md``).

Every dataset here uses the RAF-DB label order used by Ada-CM
(0 surprise, 1 fear, 2 disgust, 3 happiness, 4 sadness, 5 anger, 6 neutral).
FER2013 stands in for RAF-DB (same 7 classes); SFEW takes FER2013's training images as
extra unlabeled data, as the paper adds RAF-DB's training set to SFEW.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from adacm.data.dataset import Dataset, Part
from adacm.data.readers import read_dataset
from adacm.errors import UserError
from adacm.paths import data_dir, sha256_file


def open_npz(name: str, root: Path | None) -> tuple[np.lib.npyio.NpzFile, Path, dict[str, str]]:
    root = data_dir() if root is None else root
    path = root / f"{name}.npz"
    if not path.is_file():
        raise UserError(f"{path} not found: put {name}.npz in the data directory (ADACM_DATA, ./data or ../shared/data)")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path} is not a readable .npz file ({exc}): re-copy it") from exc
    return npz, path, {path.name: sha256_file(path)}


def array(npz: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    """One array of a data file, with the fix named when the file is damaged or lacks it."""
    try:
        return npz[key]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise UserError(f"{getattr(npz.fid, 'name', 'a data file')} is damaged or incomplete (reading {key!r}: "
                        f"{type(exc).__name__}): re-copy it") from exc


def _part(npz: np.lib.npyio.NpzFile, mask: np.ndarray) -> Part:
    return Part(x=np.ascontiguousarray(array(npz, "x")[mask]), y=array(npz, "y")[mask].astype(np.int64))


def load_fer2013(root: Path | None = None, name: str = "fer2013") -> Dataset:
    """FER2013: Training = train, PublicTest = val, PrivateTest = test."""
    return load_prepared(name, root)


def load_prepared(name: str, root: Path | None = None) -> Dataset:
    """A dataset stored as ``<data>/<name>.npz`` with keys x, y, split (as ``adacm data prepare`` writes);
    ``val`` is None when the file has no val split."""
    npz, _, fp = open_npz(name, root)
    split = array(npz, "split")
    has_val = bool((split == "val").any())
    return Dataset(name=name, train=_part(npz, split == "train"), val=_part(npz, split == "val") if has_val else None,
                   test=_part(npz, split == "test"), fingerprint=fp)


def load_sfew(root: Path | None = None) -> Dataset:
    """SFEW 2.0: Train (broken crops dropped) for training, Val as test; FER2013 train as extra unlabeled."""
    npz, _, fp = open_npz("sfew", root)
    split, bad = array(npz, "split"), array(npz, "bad_align")
    fer = load_fer2013(root)
    return Dataset(name="sfew", train=_part(npz, (split == "train") & ~bad), val=None,
                   test=_part(npz, split == "val"), extra_unlabeled=fer.train.x,
                   fingerprint={**fp, **fer.fingerprint})


PAPER_ONLY = {
    "rafdb": ("RAF-DB/basic", "rafdb", "EmoLabel/list_patition_label.txt and Image/aligned/*_aligned.jpg"),
    "affectnet": ("AffectNet", "affectnet", "Manually_Annotated_file_lists/{training,validation}.csv and "
                                            "Manually_Annotated_Images/"),
}
PAPER_IMAGE_SIZE = 224


def load_owner_layout(name: str, root: Path | None = None) -> Dataset:
    """RAF-DB / AffectNet: a prepared ``<name>.npz`` if present, else the owners' tree read at 224 px RGB."""
    root = data_dir() if root is None else root
    if (root / f"{name}.npz").is_file():
        return load_prepared(name, root)
    folder, layout, files = PAPER_ONLY[name]
    if not (root / folder).is_dir():
        raise UserError(f"dataset {name!r} not found: put {folder}/ ({files}) in the data directory {root}, "
                        f"or prepare it once with `adacm data prepare PATH --out {root / (name + '.npz')} --size 224 --rgb`")
    return replace(read_dataset(root / folder, layout, size=PAPER_IMAGE_SIZE, grey=False), name=name)


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset loadable by name: how, and which of the paper's datasets it is or stands in for."""

    load: Callable[[Path | None], Dataset]
    paper_name: str


DATASETS: dict[str, DatasetEntry] = {
    "fer2013": DatasetEntry(load_fer2013, "rafdb"),  # the `cpu` protocol's RAF-DB stand-in
    "fer2013_ci": DatasetEntry(partial(load_fer2013, name="fer2013_ci"), "rafdb"),
    "sfew": DatasetEntry(load_sfew, "sfew"),
    "rafdb": DatasetEntry(partial(load_owner_layout, "rafdb"), "rafdb"),
    "affectnet": DatasetEntry(partial(load_owner_layout, "affectnet"), "affectnet"),
}


def paper_dataset(name: str) -> str:
    """The paper's dataset that ``name`` is or stands in for (a name outside the registry as it is)."""
    return DATASETS[name].paper_name if name in DATASETS else name


def load_dataset(name: str, root: Path | None = None) -> Dataset:
    """Load a dataset by name, with a clear error for unknown or unavailable ones."""
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}: choose one of {', '.join(sorted(DATASETS))}")
    return DATASETS[name].load(root)
