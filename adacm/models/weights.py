"""Weights on disk: reading a state dict a user brings, writing one whose bytes depend on the
weights only, and where the suite's own builds live in the cache (``ADACM_CACHE``)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from adacm.errors import UserError
from adacm.paths import atomic_write_bytes, cache_dir


def load_state_file(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a file; accepts {'state_dict': …} wrappers as saved by common trainers."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise UserError(f"cannot read pretrained weights {path} ({type(exc).__name__}): is it a torch state dict?") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def save_state(state: dict[str, torch.Tensor], path: Path) -> str:
    """Write weights whose bytes depend on the weights only, and return their sha256.

    ``torch.save`` to a file path names the archive's records after that file, so writing
    through a per-process temp file (``x.<pid>.tmp``) would give the same weights a new sha256
    on every build; serialised from memory, a rebuild of the same weights has the same digest."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def simclr_weights_path(model: str) -> Path:
    """Where ``adacm pretrain`` keeps the SimCLR backbone of ``model``."""
    return cache_dir() / f"simclr_{model}.pt"
