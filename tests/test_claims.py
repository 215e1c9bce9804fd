"""The verdict engine on synthetic results with known answers (``adacm.report.claims``). Its statistics
by hand: test_stats.py."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ADACM_OVER_FIXMATCH, one_verdict, paired_grid, paired_run

from adacm.report.claims import (
    AmbiguousRuns,
    Claim,
    SplitMismatch,
    claims_table,
    evaluate,
    pair_runs,
)
from adacm.report.stats import holm
from adacm.run.predictions import encode

RNG = np.random.default_rng(20261201)
BASE = list(50 + RNG.normal(0, 3, 10))  # seed effects shared by both methods: what pairing removes


def test_a_large_consistent_effect_is_supported() -> None:
    v = one_verdict(paired_grid([x + 5 + RNG.normal(0, 0.5) for x in BASE], BASE))
    assert v.word == "supported" and v.n == 10 and v.test.ci[0] > 0 and v.test.share_positive == 1.0


def test_a_consistent_negative_effect_is_reversed() -> None:
    v = one_verdict(paired_grid([x - 2 + RNG.normal(0, 0.5) for x in BASE], BASE))
    assert v.word == "reversed" and v.test.ci[1] < 0 and v.test.p_greater > 0.99


def test_pure_noise_is_inconclusive_and_says_what_it_would_take() -> None:
    noise = np.random.default_rng(7)
    v = one_verdict(paired_grid(list(50 + noise.normal(0, 2, 10)), list(50 + noise.normal(0, 2, 10))))
    assert v.word == "inconclusive" and v.test.ci[0] < 0 < v.test.ci[1]
    assert v.seeds_for_one_point is not None and v.seeds_for_one_point > v.n  # more seeds than we have
    assert v.paper_position in ("inside", "above", "below")


def test_pairs_with_different_splits_are_an_error() -> None:
    results = paired_grid(BASE[:3], BASE[:3])
    results[0]["split_hash"] = "another split"
    with pytest.raises(SplitMismatch, match="different labeled splits"):
        evaluate(results, "cpu", [ADACM_OVER_FIXMATCH])


def test_two_runs_of_one_cell_are_an_error_not_a_silent_choice() -> None:
    results = paired_grid(BASE[:3], BASE[:3])
    twin = paired_run("adacm", 1, 99.0)
    results.append({**twin, "key": "another config", "name": "adacm_twin"})
    with pytest.raises(AmbiguousRuns, match="seed 1 has two stored runs of adacm, adacm_fer2013_400_s1_.* and adacm_twin"):
        evaluate(results, "cpu", [ADACM_OVER_FIXMATCH])


def test_one_seed_is_not_evaluable() -> None:
    v = one_verdict(paired_grid(BASE[:1], BASE[:1]))
    assert v.word == "not evaluable" and v.test is None and v.p_adjusted is None
    assert "not evaluable" in claims_table([v])


def test_pairs_from_different_builds_are_excluded_and_mixed_numerics_named() -> None:
    results = paired_grid(BASE[:4], BASE[:4])
    results[0]["init_sha256"] = "v" * 64  # Ada-CM's seed-0 run from another build of the weights
    amd = {"machine": {"cpu_model": "AMD EPYC", "cpu_capability": "AVX512", "native_bf16": True},
           "numerics": {"precision": "bf16"}}
    intel = {"machine": {"cpu_model": "Intel Xeon", "cpu_capability": "AVX512", "native_bf16": False},
             "numerics": {"precision": "fp32"}}
    results[1].update(amd)  # Ada-CM seed 1 on one machine, FixMatch seed 1 on another
    results[5].update(intel)
    pairing = pair_runs(ADACM_OVER_FIXMATCH, results, "cpu")
    assert pairing.seeds == [1, 2, 3]
    assert len(pairing.excluded) == 1 and pairing.excluded[0].startswith("seed 0: the two runs start from different builds")
    assert len(pairing.mixed) == 1 and "AMD EPYC" in pairing.mixed[0] and "Intel Xeon" in pairing.mixed[0]
    table = claims_table(evaluate(results, "cpu", [ADACM_OVER_FIXMATCH]))
    assert "seed 0: the two runs start from different builds" in table and "mixed pair, seed 1" in table


def test_the_family_is_every_evaluated_claim() -> None:
    """Adding a second claim to the family raises the first one's adjusted p-value (Holm)."""
    other = Claim("adacm", "supervised", "fer2013", 400, 2)
    results = paired_grid([x + 1 + RNG.normal(0, 1) for x in BASE], BASE)
    results += [paired_run("supervised", s, x + RNG.normal(0, 1)) for s, x in enumerate(BASE)]
    (alone,) = evaluate(results, "cpu", [ADACM_OVER_FIXMATCH])
    both = {v.claim: v for v in evaluate(results, "cpu", [ADACM_OVER_FIXMATCH, other])}
    p = sorted([both[ADACM_OVER_FIXMATCH].test.p_two_sided, both[other].test.p_two_sided])
    assert alone.p_adjusted == pytest.approx(alone.test.p_two_sided)
    assert both[ADACM_OVER_FIXMATCH].p_adjusted == pytest.approx(holm([both[ADACM_OVER_FIXMATCH].test.p_two_sided, both[other].test.p_two_sided])[0])
    assert max(v.p_adjusted for v in both.values()) == pytest.approx(max(min(1, 2 * p[0]), p[1]))
    # a report showing one of them still names the family its p-value was adjusted over
    assert "1 claims: " in (shown := claims_table([both[ADACM_OVER_FIXMATCH]])) and "family of 2 claims" in shown


def test_per_image_predictions_feed_the_bootstrap(monkeypatch) -> None:
    labels = np.arange(200) % 7
    monkeypatch.setattr("adacm.report.claims.test_labels", lambda dataset: labels)
    rng = np.random.default_rng(5)

    def with_predictions(r: dict, right: float) -> dict:
        pred = np.where(rng.random(200) < right, labels, (labels + 1) % 7)
        return r | {"predictions": {"test": encode(pred, np.full(200, 0.5))}}

    results = [with_predictions(paired_run("adacm", s, 0.0), 0.6) for s in range(3)]
    results += [with_predictions(paired_run("fixmatch", s, 0.0), 0.4) for s in range(3)]
    v = one_verdict(results)
    assert v.bootstrap is not None and 5 < v.bootstrap[0] < v.bootstrap[1] < 35
    results[0] = {k: x for k, x in results[0].items() if k != "predictions"}  # one run stored without them
    v = one_verdict(results)
    assert v.n == 3 and v.pairing.predicted_seeds == [1, 2] and v.bootstrap is not None
    assert "(2 pairs)" in claims_table([v])
    results[1] = {k: x for k, x in results[1].items() if k != "predictions"}  # one pair left: no bootstrap
    assert one_verdict(results).bootstrap is None
