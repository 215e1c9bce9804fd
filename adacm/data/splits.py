"""Class-balanced labeled splits that are identical across methods, runs and machines.

The official Ada-CM code draws 250 fear labels and (n−250)/6 of every other class with the
global numpy RNG and stores no indices, so its 400-label split is fear-heavy and methods
never share a split. Here a split is a pure function of (dataset, number of labels, seed):
⌊n/C⌋ per class plus the remainder to classes picked by the same seeded generator, and its
hash is stored in every result.
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np

from adacm.errors import UserError


def split_rng(dataset: str, n_labels: int, seed: int) -> np.random.Generator:
    """A generator keyed by the split's identity (PCG64 streams are stable across platforms)."""
    return np.random.default_rng([zlib.crc32(dataset.encode()), n_labels, seed])


def labeled_indices(y: np.ndarray, n_labels: int, seed: int, dataset: str, num_classes: int) -> np.ndarray:
    """Sorted indices of a class-balanced labeled subset of ``y`` with exactly ``n_labels`` items."""
    if n_labels < num_classes:
        raise UserError(f"--labels {n_labels} is fewer than the {num_classes} classes: ask for at least {num_classes}")
    rng = split_rng(dataset, n_labels, seed)
    per_class = np.full(num_classes, n_labels // num_classes)
    per_class[rng.permutation(num_classes)[: n_labels % num_classes]] += 1
    chosen = []
    for c in range(num_classes):
        pool = np.flatnonzero(y == c)
        if len(pool) < per_class[c]:
            raise UserError(f"{dataset} has {len(pool)} training images of class {c} but the split needs "
                            f"{per_class[c]}: ask for fewer labels")
        chosen.append(rng.permutation(pool)[: per_class[c]])
    return np.sort(np.concatenate(chosen))


def split_hash(indices: np.ndarray) -> str:
    """A short fingerprint of a split, stored with every result."""
    return hashlib.sha256(np.asarray(indices, dtype="<i8").tobytes()).hexdigest()[:16]
