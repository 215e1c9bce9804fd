"""Class-balanced labeled splits that are identical across methods, runs and machines.

The official Ada-CM code draws 250 fear labels and (n−250)/6 of every other class with the
global numpy RNG and stores no indices, so its 400-label split is fear-heavy and methods
never share a split. Here a split is a pure function of (dataset, number of labels, seed):
⌊n/C⌋ per class plus the remainder to classes picked by the same seeded generator, and its
hash is stored in every result. A class with fewer images than its share gives all it has
and the shortfall is spread over the other classes the same way ("water-filling"): the
paper's 4,000 labels exceed FER2013's 436 disgust images (and RAF-DB's 281 fear images).
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
    sizes = np.bincount(y[y >= 0], minlength=num_classes)[:num_classes]
    if n_labels > sizes.sum():
        raise UserError(f"{dataset} has {sizes.sum()} labeled training images in all but --labels {n_labels} "
                        f"asks for more: ask for at most {sizes.sum()}")
    rng = split_rng(dataset, n_labels, seed)
    per_class = class_counts(sizes, n_labels, rng.permutation(num_classes))
    chosen = [rng.permutation(np.flatnonzero(y == c))[: per_class[c]] for c in range(num_classes)]
    return np.sort(np.concatenate(chosen))


def class_counts(sizes: np.ndarray, n_labels: int, order: np.ndarray) -> np.ndarray:
    """Labels per class: equal shares, the remainder to the first classes of ``order``; a class
    smaller than its share gives all its images and the rest is shared again among the others."""
    counts = np.zeros(len(sizes), dtype=np.int64)
    open_classes, remaining = list(order), n_labels
    while True:
        base, extra = divmod(remaining, len(open_classes))
        want = {c: base + (i < extra) for i, c in enumerate(open_classes)}
        short = [c for c in open_classes if sizes[c] < want[c]]
        if not short:
            for c, k in want.items():
                counts[c] = k
            return counts
        for c in short:
            counts[c] = sizes[c]
            remaining -= sizes[c]
            open_classes.remove(c)


def split_hash(indices: np.ndarray) -> str:
    """A short fingerprint of a split, stored with every result."""
    return hashlib.sha256(np.asarray(indices, dtype="<i8").tobytes()).hexdigest()[:16]
