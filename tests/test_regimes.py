"""Table 2's claims per regime (``adacm.report.regimes``): regimes never share a cell, each is its own
family, its plain reading, and the paired contrast of a claim's gap between regimes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import one_verdict, paired_grid, paired_run

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
from adacm.report.stats import holm

RNG = np.random.default_rng(20261202)
BASE = list(50 + RNG.normal(0, 3, 10))  # seed effects shared by both methods: what pairing removes


def test_runs_of_two_regimes_never_share_a_cell() -> None:
    # the same seeds and splits, differing only in regime: the face runs say A wins, the default's say B
    face = [paired_run("adacm", s, 60.0 + s, "face") for s in range(4)] + [paired_run("fixmatch", s, 50.0 + s, "face") for s in range(4)]
    default = [paired_run("adacm", s, 50.0 + s) for s in range(4)] + [paired_run("fixmatch", s, 60.0 + s) for s in range(4)]
    assert one_verdict(face + default).pairing.diffs.tolist() == [-10.0] * 4  # the protocol's own regime only
    by_regime = regime_verdicts(face + default, "cpu")
    assert set(by_regime) == {"face", "simclr"}
    for regime, diff in (("face", 10.0), ("simclr", -10.0)):
        (v,) = [v for v in by_regime[regime] if v.claim == Claim("adacm", "fixmatch", "fer2013", 400, 2)]
        assert v.pairing.diffs.tolist() == [diff] * 4 and v.n == 4
    assert all(v.claim in TABLE_CLAIMS[2] for vs in by_regime.values() for v in vs)


def test_forest_plot_has_one_panel_per_regime(tmp_path) -> None:
    face = [paired_run("adacm", s, 60.0 + s, "face") for s in range(4)] + [paired_run("fixmatch", s, 50.0 + s, "face") for s in range(4)]
    default = [paired_run("adacm", s, 50.0 + s) for s in range(4)] + [paired_run("fixmatch", s, 60.0 + s) for s in range(4)]
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
        results = paired_grid(better, BASE)
        if group == "not evaluable":
            results = [r for r in results if r["config"]["seed"] == 0]
        v = one_verdict(results)
        reading = plain_reading([v])
        assert reading[group] == [v] and sum(map(len, reading.values())) == 1, group
        line = plain_summary({"simclr": [v]})
        assert line.startswith("- `simclr`: ") and "adacm > fixmatch @ 400 (n=" in line
        assert ("the paper's gap inside our CI; " in line) == (group == "undecided")
        assert ("p (Holm) " in line) == (group in ("supported", "reversed"))
    # a decided claim says where the paper's gap lies: supported by +5 (above the paper's +1.08), reversed by -2
    assert "the paper's gap below our CI" in plain_summary({"simclr": [one_verdict(paired_grid(cases["supported"], BASE))]})
    assert "the paper's gap above our CI" in plain_summary({"simclr": [one_verdict(paired_grid(cases["reversed"], BASE))]})
    # a CI above the paper's gap that Holm's adjustment leaves undecided says so, not "inside"
    below = one_verdict(paired_grid(list(np.array(BASE) + 1.5 + 0.3 * alternating), BASE))
    holm_undecided = replace(below, p_adjusted=0.2)
    assert below.paper_position == "below" and holm_undecided.word == "inconclusive"
    assert plain_reading([holm_undecided])["undecided"] == [holm_undecided]
    assert "the paper's gap below our CI" in plain_summary({"simclr": [holm_undecided]})


def two_regimes(face: dict[int, float], default: dict[int, float], worse: str = "fixmatch") -> list[dict]:
    """Ada-CM and ``worse`` at 400 labels in `face` and the default regime, with the given gap per seed."""
    return [r for regime, gaps in (("face", face), (None, default)) for s, g in gaps.items()
            for r in (paired_run("adacm", s, BASE[s] + g, regime), paired_run(worse, s, BASE[s], regime))]


def contrasts(results: list[dict]) -> list:
    return regime_contrasts(regime_verdicts(results, "cpu", bootstrap=False), "simclr")


def test_a_regime_that_changes_the_gap_is_told_apart_from_one_that_does_not() -> None:
    noise = np.random.default_rng(3)
    face, default = dict(enumerate(6 + noise.normal(0, 1, 5))), dict(enumerate(-0.5 + noise.normal(0, 1, 5)))
    (c,) = contrasts(two_regimes(face, default))
    assert c.claim == Claim("adacm", "fixmatch", "fer2013", 400, 2) and c.regime == "face" and c.test.n == 5
    # by hand: the per-seed difference of the gaps, its mean and t-interval; one contrast, nothing to adjust
    d = np.array(list(face.values())) - np.array(list(default.values()))
    half = 2.7764451 * d.std(ddof=1) / np.sqrt(5)  # t(0.975, 4)
    assert c.test.mean == pytest.approx(d.mean()) and c.gap == pytest.approx(np.mean(list(face.values())))
    assert c.test.ci == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-6)
    assert c.family == 1 and c.p_adjusted == c.test.p_two_sided
    assert c.word == "differs" and "**differs**" in contrast_table([c], "simclr")
    assert "it does for adacm > fixmatch @ 400 in `face`" in contrast_summary([c], "simclr")
    # two-sided: a regime that lowers the gap as much differs too
    (lower,) = contrasts(two_regimes({s: -g for s, g in face.items()}, {s: -g for s, g in default.items()}))
    assert lower.test.mean == pytest.approx(-d.mean()) and lower.word == "differs"
    # the same gap in both regimes, seed noise apart: a different verdict need not mean a different gap
    same = contrasts(two_regimes(dict(enumerate(1 + noise.normal(0, 1, 5))), dict(enumerate(1 + noise.normal(0, 1, 5)))))
    assert [c.word for c in same] == ["not shown to differ"] and "none of the 1 is shown to differ" in contrast_summary(same, "simclr")


def test_contrasts_pair_by_seed_not_by_position() -> None:
    face = {2: 5.0, 3: 7.5, 4: 6.0}
    default = {0: 9.0, 1: -9.0, 2: 0.0, 3: 2.0, 4: 1.5}  # seeds 0 and 1 only here, far from the others
    (c,) = contrasts(two_regimes(face, default))
    assert c.test.n == 3 and c.test.mean == pytest.approx((5 + 5.5 + 4.5) / 3)
    assert c.default_gap == pytest.approx((0 + 2 + 1.5) / 3)
    assert contrasts(two_regimes({0: 5.0}, default)) == []  # one shared seed: no contrast


def test_each_regime_adjusts_over_its_own_contrasts() -> None:
    noise = np.random.default_rng(5)
    results = []
    for regime, shift in (("face", {"fixmatch": 3.0, "supervised": 0.5}), (None, {"fixmatch": 0.0, "supervised": 0.0}),
                          ("scratch", {"fixmatch": 0.0})):  # scratch shares seeds with the default too: another family
        for s in range(4):
            results.append(paired_run("adacm", s, BASE[s] + noise.normal(0, 1), regime))
            results += [paired_run(worse, s, BASE[s] - d + noise.normal(0, 1), regime) for worse, d in shift.items()]
    cs = contrasts(results)
    by_regime = {r: [c for c in cs if c.regime == r] for r in ("face", "scratch")}
    assert {c.claim.worse for c in by_regime["face"]} == {"fixmatch", "supervised"} and len(by_regime["scratch"]) == 1
    for regime, family in by_regime.items():
        assert [c.family for c in family] == [len(family)] * len(family)
        assert [c.p_adjusted for c in family] == holm([c.test.p_two_sided for c in family])
