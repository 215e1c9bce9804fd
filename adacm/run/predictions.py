"""Per-image predictions of a run's final EMA model, compact inside its result JSON.

For each evaluation set (``test``; ``ckplus`` where evaluated) a result stores the predicted
class of every image and its confidence (the softmax maximum), each a base64 string of uint8
(confidence quantised to 1/255): about 10 KB for FER2013's 3,589 test faces. They let the
verdict engine pair two methods image by image (a bootstrap over test images); runs stored
before they existed still count at the seed level.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import torch


def encode(pred: np.ndarray, conf: np.ndarray) -> dict[str, Any]:
    """Predicted classes (ints < 256) and confidences in [0, 1] as base64 uint8 strings."""
    q = np.clip(np.rint(np.asarray(conf, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    return {"n": int(len(pred)), "pred": base64.b64encode(np.asarray(pred, dtype=np.uint8).tobytes()).decode(),
            "conf_u8": base64.b64encode(q.tobytes()).decode()}


def encode_probs(probs: torch.Tensor) -> dict[str, Any]:
    conf, pred = probs.max(1)
    return encode(pred.numpy(), conf.numpy())


def decode(block: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(predicted classes int64, confidences float in [0, 1]) of an encoded block."""
    pred = np.frombuffer(base64.b64decode(block["pred"]), dtype=np.uint8).astype(np.int64)
    conf = np.frombuffer(base64.b64decode(block["conf_u8"]), dtype=np.uint8).astype(np.float64) / 255
    if len(pred) != block["n"] or len(conf) != block["n"]:
        raise ValueError(f"predictions block holds {len(pred)} classes and {len(conf)} confidences, not {block['n']}")
    return pred, conf


def test_predictions(result: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """A result's test-set predictions, or None for a run stored before they were recorded."""
    block = result.get("predictions", {}).get("test")
    return None if block is None else decode(block)
