"""The protocols (``adacm.run.protocols``): settings derived from a protocol's schedule."""

from __future__ import annotations

import pytest

from adacm.run.protocols import ema_decay_for, get_protocol


def test_ema_decay_keeps_the_papers_horizon_when_the_epoch_changes() -> None:
    # 1 / (1 - d) = 1.25 epochs: the paper's 0.999 at 800 iterations, the cpu protocol's 0.995 at 160,
    # the long regime's 0.99875 at 640
    assert ema_decay_for(800) == pytest.approx(0.999)
    assert ema_decay_for(160) == pytest.approx(0.995)
    assert ema_decay_for(640) == pytest.approx(0.99875)
    long = get_protocol("cpu").config("fer2013", "adacm", 4000, 0, **get_protocol("cpu").variant("long"))
    assert (long.epochs * long.iters_per_epoch, long.ema_decay) == (6400, pytest.approx(0.99875))
