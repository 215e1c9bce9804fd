"""Weak and strong augmentations, per image, reproducible from a numpy generator.

Weak (the official code's DFER choice): with probability 0.5 a random crop after zero
padding of 8/224 of the side, then a horizontal flip with probability 0.5.
Strong: FixMatch's RandAugment — 3 ops drawn from the list below with uniformly random
magnitudes, then Cutout of a random square up to half the side — followed by the weak
augmentation (the official code inserts RandAugment in front of the weak transform).
All randomness comes from the caller's ``np.random.Generator`` so that a run, and a run
resumed from a checkpoint, sees the same augmented images.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

CROP_PROBABILITY = 0.5
CUTOUT_MAX_FRACTION = 0.5


def crop_padding(size: int) -> int:
    """The official 8 px padding at 224 px, scaled to the image side (2 px at 48 px)."""
    return max(1, round(size * 8 / 224))


def weak_batch(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random padded crop (p=0.5) and horizontal flip (p=0.5) of a uint8 batch [B,H,W(,C)]."""
    size = x.shape[1]
    pad = crop_padding(size)
    widths = [(0, 0), (pad, pad), (pad, pad)] + [(0, 0)] * (x.ndim - 3)
    padded = np.pad(x, widths)
    out = x.copy()
    crop = rng.random(len(x)) < CROP_PROBABILITY
    offsets = rng.integers(0, 2 * pad + 1, size=(len(x), 2))
    flip = rng.random(len(x)) < 0.5
    for i in range(len(x)):
        if crop[i]:
            dy, dx = offsets[i]
            out[i] = padded[i, dy:dy + size, dx:dx + size]
        if flip[i]:
            out[i] = out[i][:, ::-1]
    return out


def _affine(img: Image.Image, coeffs: tuple[float, ...]) -> Image.Image:
    return img.transform(img.size, Image.Transform.AFFINE, coeffs)


# (operation, low, high): FixMatch's RandAugment list with the official code's ranges.
RANDAUGMENT_OPS: list[tuple[Callable[[Image.Image, float], Image.Image], float, float]] = [
    (lambda img, v: ImageOps.autocontrast(img), 0, 1),
    (lambda img, v: ImageEnhance.Brightness(img).enhance(v), 0.05, 0.95),
    (lambda img, v: ImageEnhance.Color(img).enhance(v), 0.05, 0.95),
    (lambda img, v: ImageEnhance.Contrast(img).enhance(v), 0.05, 0.95),
    (lambda img, v: ImageOps.equalize(img), 0, 1),
    (lambda img, v: img, 0, 1),
    (lambda img, v: ImageOps.posterize(img, max(1, int(v))), 4, 8),
    (lambda img, v: img.rotate(v), -30, 30),
    (lambda img, v: ImageEnhance.Sharpness(img).enhance(v), 0.05, 0.95),
    (lambda img, v: _affine(img, (1, v, 0, 0, 1, 0)), -0.3, 0.3),
    (lambda img, v: _affine(img, (1, 0, 0, v, 1, 0)), -0.3, 0.3),
    (lambda img, v: ImageOps.solarize(img, int(v)), 0, 256),
    (lambda img, v: _affine(img, (1, 0, v * img.size[0], 0, 1, 0)), -0.3, 0.3),
    (lambda img, v: _affine(img, (1, 0, 0, 0, 1, v * img.size[1])), -0.3, 0.3),
]


def _cutout(img: Image.Image, fraction: float, rng: np.random.Generator) -> Image.Image:
    side = fraction * img.size[0]
    if side <= 0:
        return img
    cx, cy = rng.uniform(0, img.size[0]), rng.uniform(0, img.size[1])
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    box = (x0, y0, min(img.size[0], x0 + side), min(img.size[1], y0 + side))
    fill = 121 if img.mode == "L" else (125, 123, 114)
    img = img.copy()
    ImageDraw.Draw(img).rectangle(box, fill)
    return img


def randaugment(image: np.ndarray, rng: np.random.Generator, n_ops: int = 3) -> np.ndarray:
    """RandAugment (random ops, random magnitudes) plus Cutout on one uint8 image."""
    img = Image.fromarray(image)
    for k in rng.integers(0, len(RANDAUGMENT_OPS), size=n_ops):
        op, low, high = RANDAUGMENT_OPS[k]
        img = op(img, low + (high - low) * rng.random())
    img = _cutout(img, rng.random() * CUTOUT_MAX_FRACTION, rng)
    return np.asarray(img)


def strong_batch(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RandAugment + Cutout per image, then the weak augmentation."""
    return weak_batch(np.stack([randaugment(img, rng) for img in x]), rng)


def to_tensor(x: np.ndarray) -> torch.Tensor:
    """uint8 [B,H,W] or [B,H,W,3] → float [B,C,H,W] in [0,1] (the model normalises)."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    t = t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t.float().div_(255)
