"""A dataset as the trainer sees it: its parts and the seven classes in RAF-DB's order
(0 surprise, 1 fear, 2 disgust, 3 happiness, 4 sadness, 5 anger, 6 neutral), which every
loader and reader maps its own labels to."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLASSES = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
NUM_CLASSES = len(CLASSES)


@dataclass(frozen=True)
class Part:
    """Images (uint8, [N,H,W] grey or [N,H,W,3] RGB) and integer labels."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    """One dataset as the trainer sees it.

    ``val`` selects models (None where the dataset has no labeled split to spare: SFEW's
    only labeled evaluation split is its Val set, which serves as test, as in the paper).
    ``extra_unlabeled`` is appended to the unlabeled pool (FER2013 train for SFEW).
    """

    name: str
    train: Part
    val: Part | None
    test: Part
    extra_unlabeled: np.ndarray | None = None
    fingerprint: dict[str, str] = field(default_factory=dict)
    groups: np.ndarray | None = None
