"""Table 2's claims per regime (``adacm.report.regimes``): regimes never share a cell, each is its own
family, its plain reading, and the paired contrast of a claim's gap between regimes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import paired_run as run
from test_claims import BASE, RNG, grid, verdict

from adacm.report.claims import TABLE_CLAIMS, Claim
from adacm.report.plots import forest_plot
from adacm.report.regimes import (
    contrast_summary,
    contrast_table,
    plain_reading,
    plain_summary,
    regime_contrasts,
    regime_rows,
    regime_verdicts,
)


def test_runs_of_two_regimes_never_share_a_cell() -> None:
    # the same seeds and splits, differing only in regime: the face runs say A wins, the default's say B
    face = [run("adacm", s, 60.0 + s, "face") for s in range(4)] + [run("fixmatch", s, 50.0 + s, "face") for s in range(4)]
    default = [run("adacm", s, 50.0 + s) for s in range(4)] + [run("fixmatch", s, 60.0 + s) for s in range(4)]
    assert verdict(face + default).pairing.diffs.tolist() == [-10.0] * 4  # the protocol's own regime only
    by_regime = regime_verdicts(face + default, "cpu")
    assert set(by_regime) == {"face", "simclr"}
    for regime, diff in (("face", 10.0), ("simclr", -10.0)):
        (v,) = [v for v in by_regime[regime] if v.claim == Claim("adacm", "fixmatch", "fer2013", 400, 2)]
        assert v.pairing.diffs.tolist() == [diff] * 4 and v.n == 4
    assert all(v.claim in TABLE_CLAIMS[2] for vs in by_regime.values() for v in vs)


def test_forest_plot_has_one_panel_per_regime(tmp_path) -> None:
    face = [run("adacm", s, 60.0 + s, "face") for s in range(4)] + [run("fixmatch", s, 50.0 + s, "face") for s in range(4)]
    default = [run("adacm", s, 50.0 + s) for s in range(4)] + [run("fixmatch", s, 60.0 + s) for s in range(4)]
    rows = regime_rows(regime_verdicts(face + default, "cpu"))
    assert {r["regime"] for r in rows} == {"face", "simclr"}
    forest_plot(rows, tmp_path / "regimes", "test", facet="regime")
    assert (tmp_path / "regimes.png").stat().st_size > 0


def test_the_plain_reading_sorts_claims_by_what_a_reader_asks() -> None:
    alternating = np.array([1.0, -1.0] * 5)
    cases = {"supported": [x + 5 + RNG.normal(0, 0.5) for x in BASE], "reversed": [x - 2 + RNG.normal(0, 0.5) for x in BASE],
             "excluded": list(BASE + 0.3 * alternating),  # mean 0, CI about ±0.2: the paper's +1.08 lies above it
             "undecided": list(BASE + 5 * alternating),  # mean 0, CI about ±3.6: +1.08 lies inside
             "not evaluable": BASE[:1] + [x + 5 for x in BASE[1:]]}
    for group, better in cases.items():
        results = grid(better, BASE)
        if group == "not evaluable":
            results = [r for r in results if r["config"]["seed"] == 0]
        v = verdict(results)
        reading = plain_reading([v])
        assert reading[group] == [v] and sum(map(len, reading.values())) == 1, group
        line = plain_summary({"simclr": [v]})
        assert line.startswith("- `simclr`: ") and "adacm > fixmatch @ 400 (n=" in line
        assert ("the paper's gap inside our CI; " in line) == (group == "undecided")
        assert ("p (Holm) " in line) == (group in ("supported", "reversed"))
    # a decided claim says where the paper's gap lies: supported by +5 (above the paper's +1.08), reversed by -2
    assert "the paper's gap below our CI" in plain_summary({"simclr": [verdict(grid(cases["supported"], BASE))]})
    assert "the paper's gap above our CI" in plain_summary({"simclr": [verdict(grid(cases["reversed"], BASE))]})
    # a CI above the paper's gap that Holm's adjustment leaves undecided says so, not "inside"
    below = verdict(grid(list(np.array(BASE) + 1.5 + 0.3 * alternating), BASE))
    holm_undecided = replace(below, p_adjusted=0.2)
    assert below.paper_position == "below" and holm_undecided.word == "inconclusive"
    assert plain_reading([holm_undecided])["undecided"] == [holm_undecided]
    assert "the paper's gap below our CI" in plain_summary({"simclr": [holm_undecided]})


def two_regimes(face_gap: list[float], default_gap: list[float]) -> list[dict]:
    """Ada-CM and FixMatch at 400 labels in `face` and the default, with the given per-seed gaps."""
    return [r for regime, gaps in (("face", face_gap), (None, default_gap)) for s, g in enumerate(gaps)
            for r in (run("adacm", s, BASE[s] + g, regime), run("fixmatch", s, BASE[s], regime))]


def test_a_regime_that_changes_the_gap_is_told_apart_from_one_that_does_not() -> None:
    noise = np.random.default_rng(3)
    face, default = list(6 + noise.normal(0, 1, 5)), list(-0.5 + noise.normal(0, 1, 5))
    (c,) = [c for c in regime_contrasts(regime_verdicts(two_regimes(face, default), "cpu"), "simclr")
            if c.claim == Claim("adacm", "fixmatch", "fer2013", 400, 2)]
    assert c.regime == "face" and c.test.n == 5 and c.family == 1
    # by hand: the per-seed difference of the gaps, its mean and t-interval
    d = np.array(face) - np.array(default)
    assert c.test.mean == pytest.approx(d.mean()) and c.gap == pytest.approx(np.mean(face))
    half = 2.7764451 * d.std(ddof=1) / np.sqrt(5)  # t(0.975, 4)
    assert c.test.ci == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-6)
    assert c.word == "differs" and "**differs**" in contrast_table([c])
    assert "it does for adacm > fixmatch @ 400 in `face`" in contrast_summary([c])
    # the same gap in both regimes, seed noise apart: a different verdict need not mean a different gap
    same = regime_contrasts(regime_verdicts(two_regimes(list(1 + noise.normal(0, 1, 5)),
                                                        list(1 + noise.normal(0, 1, 5))), "cpu"), "simclr")
    assert [c.word for c in same] == ["not shown to differ"] and "none is shown to differ" in contrast_summary(same)


def test_contrasts_pair_only_the_seeds_both_regimes_have() -> None:
    results = two_regimes([5.0, 6.0, 7.0], [0.0, 1.0, 2.0, 3.0, 4.0])  # seeds 3 and 4 only in the default
    (c,) = regime_contrasts(regime_verdicts(results, "cpu"), "simclr")
    assert c.test.n == 3 and c.test.mean == pytest.approx(5.0) and c.default_gap == pytest.approx(1.0)
    one = two_regimes([5.0], [0.0, 1.0])  # one shared seed: no contrast
    assert regime_contrasts(regime_verdicts(one, "cpu"), "simclr") == []
