"""Shared fixtures and helpers: the tiny class-balanced FER2013 subset, a tiny backbone, a stored
result of the `cpu` protocol, and fake dataset trees in the owners' layouts."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from adacm.data.dataset import Dataset
from adacm.data.datasets import load_dataset
from adacm.data.readers import CLASSES8
from adacm.report.claims import Claim, Verdict, evaluate
from adacm.run.protocols import get_protocol

#: torch threads for every test: 2 (CI's cores) unless ADACM_THREADS says otherwise; the suite
#: must pass at 1 and 2 threads and in either precision (ADACM_PRECISION=fp32|bf16), on any x86-64 CPU
THREADS = int(os.environ.get("ADACM_THREADS", "2"))
torch.set_num_threads(THREADS)


@pytest.fixture(autouse=True)
def fixed_threads() -> Iterator[None]:
    """Every test starts at THREADS, whatever the one before it set: another count changes the
    order of floating-point reductions, and short runs near a bar can flip."""
    torch.set_num_threads(THREADS)
    yield


@pytest.fixture(scope="session")
def ci_data() -> Dataset:
    return load_dataset("fer2013_ci")


class Flat(nn.Module):
    """A tiny backbone without batch-norm: each sample's output depends on itself only."""

    feature_dim = 12

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 4 * 4, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


# --- a stored result of the `cpu` protocol (test_tables, test_runner, test_store, test_sweeps, test_pilot)


def run(method: str, seed: int, acc: float, n: int = 100, ck: float | None = None, **fields) -> dict:
    cfg = get_protocol("cpu").config("fer2013", method, n, seed, **fields)
    out = {"key": cfg.key(), "name": cfg.run_name(), "config": cfg.to_dict(), "summary": {"test_acc_last": acc}}
    if ck is not None:
        out["cross_dataset"] = {"ckplus": {"acc": ck}}
    return out


def paired_run(method: str, seed: int, acc: float, regime: str | None = None, n: int = 400, **extra: Any) -> dict:
    """A stored run as the verdict engine pairs it: its seed's labeled split, one pretrained build."""
    return {**run(method, seed, acc, n, **get_protocol("cpu").variant(regime)), "split_hash": f"split{seed}",
            "init_sha256": "w" * 64, **extra}


ADACM_OVER_FIXMATCH = Claim("adacm", "fixmatch", "fer2013", 400, 2)


def paired_grid(a: list[float], b: list[float], **extra: Any) -> list[dict]:
    """Ada-CM's runs with accuracies ``a`` and FixMatch's with ``b``, seed i for the i-th of each."""
    return ([paired_run("adacm", s, x, **extra) for s, x in enumerate(a)]
            + [paired_run("fixmatch", s, x, **extra) for s, x in enumerate(b)])


def one_verdict(results: list[dict], claim: Claim = ADACM_OVER_FIXMATCH) -> Verdict:
    (v,) = evaluate(results, "cpu", [claim])
    return v


# --- fake dataset trees in the owners' layouts (test_readers.py, test_cli.py, test_crossdata.py) ---
# Every image is a flat grey square whose value encodes its intended label (plus one unique corner
# pixel, so that no two are exact copies unless a test makes them so).

_unique = itertools.count(1)


def save(path: Path, value: int, size: tuple[int, int] = (20, 20)) -> Path:
    """A flat grey image of ``value`` with one unique corner pixel (PNG or JPEG by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((size[1], size[0], 3), value, np.uint8)
    pixels[0, 0] = next(_unique) % 256
    Image.fromarray(pixels).save(path)
    return path


def value_of(label: int) -> int:
    return 20 + 25 * label


RAF_NAMES = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")  # codes 1-7


def make_rafdb(root: Path, per_split: dict[str, int] | None = None) -> Path:
    per_split = per_split or {"train": 2, "test": 1}
    lines, number = [], 0
    for split, count in per_split.items():
        for code in range(1, 8):
            for _ in range(count):
                number += 1
                name = f"{split}_{number:05d}.jpg"
                lines.append(f"{name} {code}")
                label = CLASSES8.index(RAF_NAMES[code - 1])
                if number == 3:  # this one exists only as an original image
                    save(root / "Image" / "original" / name, value_of(label), (30, 24))
                else:
                    save(root / "Image" / "aligned" / f"{Path(name).stem}_aligned.jpg", value_of(label))
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return root


SFEW_FOLDERS = ("Angry", "Disgust", "Fear", "HAPPY", "Neutral", "sad", "Surprise")


SFEW_LABELS = {"angry": 5, "disgust": 2, "fear": 1, "happy": 3, "neutral": 6, "sad": 4, "surprise": 0}


def make_sfew(root: Path) -> Path:
    for split, count in (("Train", 2), ("Val", 1)):
        for folder in SFEW_FOLDERS:
            for i in range(count):
                save(root / split / folder / f"movie_{i}_{folder}.png", value_of(SFEW_LABELS[folder.lower()]))
    save(root / "Test" / "unlabeled_1.png", 0)
    save(root / "Test" / "unlabeled_2.png", 0)
    return root


CK_CODES = ("neutral", "anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")


def make_ckplus(root: Path) -> Path:
    """Seven labeled sequences (codes 1-7) of 3 frames over two subjects, plus one unlabeled sequence."""
    for code in range(1, 8):
        subject, sequence = ("S005", "S010")[code % 2], f"{code:03d}"
        frames = root / "cohn-kanade-images" / subject / sequence
        save(frames / f"{subject}_{sequence}_00000001.png", 200)  # neutral onset
        save(frames / f"{subject}_{sequence}_00000002.png", 210)
        save(frames / f"{subject}_{sequence}_00000003.png", value_of(CLASSES8.index(CK_CODES[code])))
        emotion = root / "Emotion" / subject / sequence
        emotion.mkdir(parents=True)
        (emotion / f"{subject}_{sequence}_00000003_emotion.txt").write_text(f"   {code:.7e}\n")
    save(root / "cohn-kanade-images" / "S005" / "099" / "S005_099_00000001.png", 0)  # no label: not read
    return root
