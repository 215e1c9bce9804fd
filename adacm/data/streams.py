"""Infinite, resumable streams of training indices and the batches built from them."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from adacm.data.augment import strong_batch, to_tensor, weak_batch


class IndexStream:
    """Draws indices epoch by epoch (a fresh permutation each pass), resumable from its state."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.order = np.empty(0, dtype=np.int64)
        self.pos = 0

    def take(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.size == 0:
            raise ValueError("cannot draw batches from an empty set")
        out = []
        while n > 0:
            if self.pos == len(self.order):
                self.order, self.pos = rng.permutation(self.size), 0
            k = min(n, len(self.order) - self.pos)
            out.append(self.order[self.pos:self.pos + k])
            self.pos += k
            n -= k
        return np.concatenate(out)

    def state_dict(self) -> dict[str, object]:
        return {"order": self.order.copy(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.order, self.pos = np.asarray(state["order"]), int(state["pos"])  # type: ignore[arg-type]


def rank_positions(batch: int, rank: int, world: int) -> np.ndarray:
    """The positions of a global batch of ``batch`` that data-parallel rank ``rank`` of ``world``
    trains on (every world-th, from its rank): its labels and its augmented views both follow this."""
    return np.arange(batch)[rank::world]


def make_view(x: np.ndarray, kind: str, rng: np.random.Generator) -> torch.Tensor:
    """One augmented view ('weak' or 'strong') of a uint8 batch as a float tensor."""
    if kind == "weak":
        return to_tensor(weak_batch(x, rng))
    if kind == "strong":
        return to_tensor(strong_batch(x, rng))
    raise ValueError(f"unknown view kind {kind!r}")


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 image array once (bilinear), e.g. 48 px faces for a 112 px backbone."""
    if x.shape[1] == size:
        return x
    if len(x) == 0:
        return np.zeros((0, size, size, *x.shape[3:]), dtype=x.dtype)
    return np.stack([np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR)) for img in x])
