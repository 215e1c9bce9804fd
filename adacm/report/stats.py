"""Paired statistics over seeds for the verdict engine (``adacm.report.claims``).

A claim "A beats B" is judged on pairs: the two methods' runs with the same seed share the
labeled split and the initialisation, so the per-seed difference removes what the seed does to
both. Confidence intervals are the paired t-interval and, where both runs stored their
per-image test predictions, a two-level bootstrap (seeds, then test images within each seed,
the same images for both methods), which also carries the test set's finite size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
MAX_SEEDS = 10_000  # where a search for seeds needed gives up (an effect of ~0 needs infinitely many)


@dataclass(frozen=True)
class PairedTest:
    n: int
    mean: float
    sd: float  # sample SD of the paired differences
    ci: tuple[float, float]  # two-sided 1 − ALPHA t-interval of the mean difference
    p_greater: float  # one-sided: H1 mean > 0
    p_two_sided: float
    share_positive: float  # share of pairs where A > B (ties count half)


def paired_test(diffs: np.ndarray) -> PairedTest:
    """The paired t-test of differences A − B (n ≥ 2)."""
    d = np.asarray(diffs, dtype=float)
    n = len(d)
    if n < 2:
        raise ValueError(f"a paired test needs at least 2 pairs, not {n}")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    share = float((np.sum(d > 0) + 0.5 * np.sum(d == 0)) / n)
    if sd == 0:  # every pair differs by the same amount: the t statistic is infinite (or 0/0)
        p_greater = 0.0 if mean > 0 else 1.0 if mean < 0 else 0.5
        return PairedTest(n, mean, 0.0, (mean, mean), p_greater, 1.0 if mean == 0 else 0.0, share)
    se = sd / math.sqrt(n)
    t = mean / se
    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * se
    return PairedTest(n, mean, sd, (mean - half, mean + half), float(stats.t.sf(t, n - 1)),
                      float(2 * stats.t.sf(abs(t), n - 1)), share)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (family-wise error rate), in the input's order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def bootstrap_ci(correct_a: np.ndarray, correct_b: np.ndarray, replicates: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """Two-level percentile bootstrap CI (1 − ALPHA) of the mean accuracy difference in points.

    ``correct_a``/``correct_b``: [pairs, images] booleans, whether each method got each test image
    right in each pair's runs. A replicate draws pairs with replacement, then, within each drawn
    pair, test images with replacement (the same images for both methods)."""
    diff = correct_a.astype(np.int8) - correct_b.astype(np.int8)
    n, m = diff.shape
    rng = np.random.default_rng(seed)
    means = np.empty(replicates)
    for r in range(replicates):
        rows = rng.integers(0, n, n)
        cols = rng.integers(0, m, (n, m))
        means[r] = diff[rows[:, None], cols].mean()
    low, high = np.quantile(means, [ALPHA / 2, 1 - ALPHA / 2])
    return float(100 * low), float(100 * high)


def power(effect: float, sd: float, n: int) -> float:
    """Power of the two-sided paired t-test at ALPHA with n pairs, for a true mean difference ``effect``."""
    if n < 2:
        return 0.0
    df = n - 1
    crit = stats.t.ppf(1 - ALPHA / 2, df)
    shift = abs(effect) / sd * math.sqrt(n)
    return float(stats.nct.sf(crit, df, shift) + stats.nct.cdf(-crit, df, shift))


def seeds_needed(effect: float, sd: float) -> int | None:
    """Fewest pairs for POWER to detect ``effect`` (two-sided, unadjusted ALPHA) given the paired SD;
    None if more than MAX_SEEDS."""
    if sd <= 0:
        return 2
    if effect == 0:
        return None
    lo, hi = 2, 2
    while power(effect, sd, hi) < POWER:
        if hi >= MAX_SEEDS:
            return None
        lo, hi = hi, min(2 * hi, MAX_SEEDS)
    while lo < hi:  # power grows with n
        mid = (lo + hi) // 2
        if power(effect, sd, mid) >= POWER:
            hi = mid
        else:
            lo = mid + 1
    return hi


def pooled_sd(groups: list[tuple[int, float]]) -> float | None:
    """The pooled SD of several sets of paired differences, each given as (n, sd)."""
    dof = sum(n - 1 for n, _ in groups if n > 1)
    if dof == 0:
        return None
    return math.sqrt(sum((n - 1) * sd ** 2 for n, sd in groups if n > 1) / dof)
