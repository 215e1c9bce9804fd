"""The MixUp helpers shared by MixMatch, ReMixMatch and MarginMix (``adacm.algorithms.mixing``)."""

from __future__ import annotations

import math

import pytest
import torch

import adacm.algorithms.mixing as mixing


def test_sample_mixup_is_seedable_and_biased_to_the_first_input() -> None:
    draws = [mixing.sample_mixup(10, 0.75, torch.Generator().manual_seed(s)) for s in range(50)]
    again = mixing.sample_mixup(10, 0.75, torch.Generator().manual_seed(0))
    assert again[0] == draws[0][0] and torch.equal(again[1], draws[0][1])
    assert all(0.5 <= lam <= 1 for lam, _ in draws) and len({lam for lam, _ in draws}) == 50
    assert all(sorted(perm.tolist()) == list(range(10)) for _, perm in draws)
    assert mixing.sample_mixup(4, 0.0)[0] == 1.0


def test_interleave_is_its_own_inverse_and_mixes_chunks() -> None:
    chunks = [torch.full((16, 2), float(i)) for i in range(3)]
    mixed = mixing.interleave(chunks)
    assert [len(c) for c in mixed] == [16, 16, 16]
    assert sorted(mixed[0][:, 0].unique().tolist()) == [0.0, 1.0, 2.0]  # each chunk now holds all sources
    assert all(torch.equal(a, b) for a, b in zip(mixing.interleave(mixed), chunks))


def test_rampups() -> None:
    assert [mixing.linear_rampup(s, 100, 0.4) for s in (0, 20, 40, 90)] == [0.0, 0.5, 1.0, 1.0]
    assert [mixing.sigmoid_rampup(s, 100, 0.4) for s in (0, 20, 40, 90)] == pytest.approx(
        [math.exp(-5), math.exp(-5 * 0.25), 1.0, 1.0])
    assert mixing.linear_rampup(0, 100, 0.0) == mixing.sigmoid_rampup(0, 100, 0.0) == 1.0
