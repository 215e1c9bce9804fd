"""Does the precision change results? The fp32-vs-bf16 study (docs/operations.md, "Precision").

Design, fixed before any run: the `cpu` default (SimCLR ResNet-18), FER2013 at 4,000 labels,
Baseline and Ada-CM, seeds 0-4, each run once in bf16 autocast (the results store) and once in
fp32 (a store of its own, ``results/studies/precision-fp32``: the two share a config key). A
pair is one config in both precisions. Equivalence margin, stated in advance: ±1 point of test
accuracy, about the smallest gap the paper claims (Ada-CM over FixMatch at 4,000 labels, 1.1);
the precisions are called equivalent when the 90% CI of the mean fp32 − bf16 difference lies
inside it (two one-sided tests at 5%), and the CI of the difference of Ada-CM's gap over the
Baseline between the precisions is reported too, since a claim is a gap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from adacm.errors import UserError
from adacm.report.stats import paired_test
from adacm.run.config import RunConfig
from adacm.run.numerics import result_numerics
from adacm.run.protocols import get_protocol
from adacm.run.store import load_results

METHODS = ("supervised", "adacm")
SEEDS = (0, 1, 2, 3, 4)
DATASET, LABELS = "fer2013", 4000
MARGIN = 1.0
FP32_STORE = Path("studies/precision-fp32")  # under the results store


def design_configs() -> list[RunConfig]:
    """The study's configs, both members of a seed side by side."""
    protocol = get_protocol("cpu")
    return [protocol.config(DATASET, m, LABELS, s) for s in SEEDS for m in METHODS]


def stored_arms(results_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(bf16 runs, fp32 runs) of the design stored so far."""
    keys = {c.key() for c in design_configs()}
    bf16 = [r for r in load_results(results_dir, "cpu") if r["key"] in keys]
    fp32 = [r for r in load_results(results_dir / FP32_STORE, "cpu") if r["key"] in keys]
    return bf16, fp32


def tost_ci(diffs: np.ndarray) -> tuple[float, float]:
    """The 90% t-interval of the mean difference: inside ±MARGIN means equivalent at 5%."""
    n = len(diffs)
    half = stats.t.ppf(0.95, n - 1) * diffs.std(ddof=1) / np.sqrt(n)
    return float(diffs.mean() - half), float(diffs.mean() + half)


def study_report(bf16: list[dict[str, Any]], fp32: list[dict[str, Any]]) -> str:
    """The study's table from its two arms' results (each: the runs of one precision)."""
    def acc(runs: list[dict[str, Any]], precision: str) -> dict[tuple[str, int], float]:
        for r in runs:
            if result_numerics(r)["precision"] != precision:
                raise UserError(f"{r['name']} ran in {result_numerics(r)['precision']}, not {precision}: it does not "
                                f"belong in the {precision} arm's store")
        return {(r["config"]["method"], r["config"]["seed"]): r["summary"]["test_acc_last"] for r in runs}

    a, b = acc(fp32, "fp32"), acc(bf16, "bf16")
    pairs = sorted(set(a) & set(b))
    lines = ["| method | seed | fp32 | bf16 | fp32 − bf16 |", "|---|---|---|---|---|"]
    lines += [f"| {m} | {s} | {a[m, s]:.2f} | {b[m, s]:.2f} | {a[m, s] - b[m, s]:+.2f} |" for m, s in pairs]
    if len(pairs) < 2:
        return "\n".join(lines + ["", f"{len(pairs)} pair(s): too few to judge"])
    d = np.array([a[p] - b[p] for p in pairs])
    t, low_high = paired_test(d), tost_ci(d)
    equivalent = -MARGIN < low_high[0] and low_high[1] < MARGIN
    lines += ["", f"per run, fp32 − bf16 over {len(pairs)} pairs: mean {t.mean:+.2f}, SD {t.sd:.2f}, 95% CI "
                  f"[{t.ci[0]:+.2f}, {t.ci[1]:+.2f}], 90% CI [{low_high[0]:+.2f}, {low_high[1]:+.2f}] → "
                  + ("equivalent within ±1 point" if equivalent else "not shown equivalent within ±1 point")]
    seeds = [s for s in SEEDS if all((m, s) in a and (m, s) in b for m in METHODS)]
    if len(seeds) >= 2:
        gap = np.array([(a["adacm", s] - a["supervised", s]) - (b["adacm", s] - b["supervised", s]) for s in seeds])
        g = paired_test(gap)
        lines.append(f"Ada-CM − Baseline gap, fp32 minus bf16, over {len(seeds)} seeds: {g.mean:+.2f}, 95% CI "
                     f"[{g.ci[0]:+.2f}, {g.ci[1]:+.2f}]")
    return "\n".join(lines)
