"""Cross-dataset CK+ evaluation: the paper's 636-image protocol when the full CK+ tree was
prepared, CK+48's six basic expressions otherwise, predictions taken among the evaluated classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_ckplus

from adacm.data.readers import read_dataset, write_npz
from adacm.run.crossdata import BASIC, SEVEN, ckplus_report, load_ckplus


def fake_ckplus48(folder: Path) -> None:
    y = np.array([0, 1, 2, 3, 4, 5, 7] * 4)  # 7 = contempt; 7 subjects of 4 images
    np.savez(folder / "ckplus.npz", x=np.zeros((len(y), 48, 48), np.uint8), y=y,
             fold=np.repeat(np.arange(7), 4))


def test_full_tree_gives_seven_classes_with_neutral(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    fake_ckplus48(data)
    monkeypatch.setenv("ADACM_DATA", str(data))
    assert load_ckplus(48).classes == BASIC  # only CK+48: six basic expressions
    write_npz(read_dataset(make_ckplus(tmp_path / "CK+"), classes=7), data / "ckplus_full.npz")
    ck = load_ckplus(56)
    assert ck.classes == SEVEN and ck.x.shape[1:] == (56, 56)
    assert (ck.y == 6).sum() == 7 and 7 not in ck.y  # first frames as neutral; contempt left out
    assert set(ck.subjects) == {"S005", "S010"} and len(ck.subjects) == len(ck.y) == 13


def test_predictions_are_taken_among_the_evaluated_classes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADACM_DATA", str(tmp_path))
    fake_ckplus48(tmp_path)
    ck = load_ckplus(48)
    assert ck.classes == BASIC and len(ck.y) == 24  # contempt dropped
    probs = torch.full((len(ck.y), 7), 0.01)
    probs[:, 6] = 0.9  # neutral is the top class everywhere: not a CK+48 class
    probs[torch.arange(len(ck.y)), torch.from_numpy(ck.y)] = 0.05  # the right basic class is the best of the six
    feats = torch.nn.functional.normalize(torch.randn(len(ck.y), 8, generator=torch.Generator().manual_seed(0)), dim=1)
    report = ckplus_report(probs, feats, ck, seed=0)
    assert report["acc"] == 100.0 and report["classes"] == list(BASIC) and len(report["tsne"]) == 24
