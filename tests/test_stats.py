"""The statistics under the verdicts (``adacm.report.stats``), against hand computations and textbook values."""

from __future__ import annotations

import numpy as np
import pytest

from adacm.report.stats import bootstrap_ci, holm, paired_test, power, seeds_needed


def test_holm_against_a_hand_computation() -> None:
    # sorted: 0.01 × 4 = 0.04; 0.02 × 3 = 0.06; 0.03 × 2 = 0.06 (monotone); 0.5 × 1 = 0.5
    assert holm([0.03, 0.5, 0.01, 0.02]) == pytest.approx([0.06, 0.5, 0.04, 0.06])
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 0.8 × 2 capped at 1; 0.9 × 1 raised to it (monotone)


def test_paired_t_interval_by_hand() -> None:
    t = paired_test(np.array([1.0, 2.0, 3.0]))  # mean 2, sd 1, se 1/√3, t(0.975, 2) = 4.302653
    assert t.mean == 2.0 and t.sd == 1.0
    assert t.ci == pytest.approx((2 - 4.302653 / 3 ** 0.5, 2 + 4.302653 / 3 ** 0.5), abs=1e-5)
    assert t.p_greater == pytest.approx(0.037090, abs=1e-5)  # t = 3.4641 on 2 df


def test_seeds_needed_matches_textbook_paired_t_sample_sizes() -> None:
    """Two-sided α = 0.05, power 0.8 (as G*Power gives): d = 0.5 → 34, 0.8 → 15, 1.0 → 10 pairs."""
    assert [seeds_needed(d, 1.0) for d in (0.5, 0.8, 1.0)] == [34, 15, 10]
    n = seeds_needed(1.0, 1.8)
    assert power(1.0, 1.8, n) >= 0.8 > power(1.0, 1.8, n - 1)
    assert seeds_needed(0.0, 1.0) is None


def test_bootstrap_ci_is_close_to_the_t_interval_on_normal_data() -> None:
    rng = np.random.default_rng(3)
    n, m = 20, 5000
    acc_b = 0.5 + rng.normal(0, 0.03, n)
    acc_a = acc_b + 0.02 + rng.normal(0, 0.03, n)
    correct_a = rng.random((n, m)) < acc_a[:, None]
    correct_b = rng.random((n, m)) < acc_b[:, None]
    t = paired_test(100 * (correct_a.mean(1) - correct_b.mean(1)))
    low, high = bootstrap_ci(correct_a, correct_b, replicates=1000)
    assert abs((low + high) / 2 - t.mean) < 0.5
    assert 0.75 < (high - low) / (t.ci[1] - t.ci[0]) < 1.25
