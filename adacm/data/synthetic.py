"""Small datasets in their owners' layouts, made from faces this machine has: RAF-DB and the
MS-Celeb-1M weights are users', yet the `paper` path must run end to end in CI and in the
device check (tests/test_paper_path.py, ``adacm.studies.device_check``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from adacm.data.dataset import NUM_CLASSES, Part
from adacm.data.readers import rafdb_code


def write_rafdb_tree(root: Path, faces: Part, train_per_class: int, test_per_class: int, size: int = 224) -> Path:
    """RAF-DB basic under ``root/RAF-DB/basic``: ``EmoLabel/list_patition_label.txt`` and
    ``Image/aligned/<name>_aligned.jpg`` (RGB, ``size`` px), the first faces of each class."""
    basic = root / "RAF-DB" / "basic"
    aligned = basic / "Image" / "aligned"
    aligned.mkdir(parents=True, exist_ok=True)
    (basic / "EmoLabel").mkdir(exist_ok=True)
    lines, counts = [], {"train": 0, "test": 0}
    for label in range(NUM_CLASSES):
        picked = np.flatnonzero(faces.y == label)[:train_per_class + test_per_class]
        if len(picked) < train_per_class + test_per_class:
            raise ValueError(f"class {label} has {len(picked)} faces, fewer than {train_per_class + test_per_class}")
        for i, index in enumerate(picked):
            split = "train" if i < train_per_class else "test"
            counts[split] += 1
            name = f"{split}_{counts[split]:05d}"
            face = Image.fromarray(faces.x[index]).resize((size, size), Image.Resampling.BICUBIC).convert("RGB")
            face.save(aligned / f"{name}_aligned.jpg", quality=95)
            lines.append(f"{name}.jpg {rafdb_code(label)}")
    (basic / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return basic


def write_ckplus_subset(source: Path, out: Path, per_class: int) -> Path:
    """The first ``per_class`` faces of each class of a prepared ``ckplus.npz``, same keys."""
    ck = np.load(source)
    keep = np.concatenate([np.flatnonzero(ck["y"] == c)[:per_class] for c in np.unique(ck["y"])])
    np.savez(out, **{k: ck[k][keep] if len(ck[k]) == len(ck["y"]) else ck[k] for k in ck.files})
    return out
