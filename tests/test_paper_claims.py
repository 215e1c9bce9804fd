"""The tolerance suite: stored results held against the paper.

* ``paper`` protocol results (the paper's data and schedule, run by users with GPUs) must
  agree with the reported mean ± std within ``within_tolerance``; none are stored yet, so
  that test skips, naming what to run.
* ``cpu`` protocol results are not comparable number-for-number (FER2013 at 48 px, another
  backbone, 1/10 of the schedule), so the paper's *comparative claims* are checked on them
  instead. Each claim's outcome under the `cpu` protocol is recorded in ``CPU_OUTCOMES`` — a
  finding, reported in the README — and the test fails if the stored results stop supporting
  it, in either direction.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adacm import paper
from adacm.claims import CLAIMS, TABLE3_CLAIMS, Claim, evaluate, within_tolerance
from adacm.protocols import PAPER_DATASET
from adacm.results import load_results
from adacm.tables import Aggregate, aggregate, matches

RESULTS = Path(__file__).resolve().parent.parent / "results"
CPU_RUNS = load_results(RESULTS, "cpu")  # every backbone: each claim picks its table's (default or WRN-28-2)
PAPER_RUNS = load_results(RESULTS, "paper")

#: claim name → does it hold (A's mean over 3 seeds above B's) under the `cpu` protocol?
CPU_OUTCOMES: dict[str, bool] = {
    # measured 2026-11-25 (README, "Findings"), 3 seeds each, SimCLR ResNet-18 start (the `cpu` default
    # since session 4; the dlib start's outcomes are in the README's pilot section and the session-3 note)
    "fixmatch > supervised @ fer2013 100 (Table 2)": True,    # +1.64 pp, within the spreads
    "adacm > supervised @ fer2013 100 (Table 2)": True,       # +0.51 pp: a tie
    "adacm > fixmatch @ fer2013 100 (Table 2)": False,        # −1.13 pp: does not reproduce
    "fixmatch > supervised @ fer2013 400 (Table 2)": True,    # +1.27 pp, clearly
    "adacm > supervised @ fer2013 400 (Table 2)": True,       # +1.89 pp, clearly
    "adacm > fixmatch @ fer2013 400 (Table 2)": True,         # +0.62 pp, within the spreads
    "fixmatch > supervised @ fer2013 4000 (Table 2)": True,   # +0.50 pp, within the spreads
    "adacm > supervised @ fer2013 4000 (Table 2)": False,     # −0.54 pp: does not reproduce
    "adacm > fixmatch @ fer2013 4000 (Table 2)": False,       # −1.04 pp, clearly: does not reproduce
    # Table 1 at FER2013 100 labels, measured 2026-11-25 (session 4); every gap within the spreads
    "adacm > fixmatch@0.5 @ fer2013 100 (Table 1)": False,  # −3.06 pp
    "adacm > fixmatch@0.8 @ fer2013 100 (Table 1)": False,  # −2.52 pp
    "adacm > flexmatch @ fer2013 100 (Table 1)": False,     # −2.91 pp
    "adacm > adacm_lu @ fer2013 100 (Table 1)": False,      # −1.21 pp: Lc does not help
    "adacm > adacm_lc @ fer2013 100 (Table 1)": True,       # +1.47 pp
    # Table 1 at SFEW 400 labels, measured 2026-11-25 (session 5); every gap within the spreads
    "adacm > supervised @ sfew 400 (Table 1)": True,      # +1.70 pp
    "adacm > fixmatch@0.5 @ sfew 400 (Table 1)": False,   # −0.77 pp
    "adacm > fixmatch@0.8 @ sfew 400 (Table 1)": False,   # −0.93 pp
    "adacm > fixmatch @ sfew 400 (Table 1)": False,       # ±0.00: an exact tie (same correct count over 3 seeds)
    "adacm > flexmatch @ sfew 400 (Table 1)": True,       # +0.08 pp
    "adacm > adacm_lu @ sfew 400 (Table 1)": True,        # +0.54 pp
    "adacm > adacm_lc @ sfew 400 (Table 1)": True,        # +3.17 pp
    # Table 3, WRN-28-2 from scratch at 32 px, measured 2026-11-30 (sessions 6-7)
    "adacm > supervised @ fer2013 400 (Table 3, wrn28_2)": False,   # −4.98 pp, clearly
    "adacm > meanteacher @ fer2013 400 (Table 3, wrn28_2)": True,   # +0.90 pp, within the spreads
    "adacm > mixmatch @ fer2013 400 (Table 3, wrn28_2)": True,      # +16.42 pp: MixMatch collapses
    "adacm > marginmix @ fer2013 400 (Table 3, wrn28_2)": True,     # +4.95 pp, clearly
    "adacm > supervised @ fer2013 4000 (Table 3, wrn28_2)": False,  # −7.84 pp, clearly: no pseudo-label passes T0
    "adacm > meanteacher @ fer2013 4000 (Table 3, wrn28_2)": True,  # +2.15 pp, within the spreads
    "adacm > mixmatch @ fer2013 4000 (Table 3, wrn28_2)": True,     # +15.39 pp: MixMatch collapses to one class
    "adacm > marginmix @ fer2013 4000 (Table 3, wrn28_2)": True,    # +4.11 pp, clearly
}


def test_tolerance_accepts_agreement_and_rejects_gaps() -> None:
    reported = paper.Cell(62.36, 1.10)
    assert within_tolerance(Aggregate(62.0, 1.0, 5), reported)
    assert not within_tolerance(Aggregate(55.0, 1.0, 5), reported)
    assert not within_tolerance(Aggregate(40.0, 0.5, 3), reported)


def test_paper_protocol_results_within_tolerance() -> None:
    if not PAPER_RUNS:
        pytest.skip("no `paper` protocol results stored: run experiments/table2.py --protocol paper on a GPU")
    for (method, dataset, n), ours in aggregate(PAPER_RUNS).items():
        cell = paper.reported(2, method, dataset=PAPER_DATASET.get(dataset, dataset), labels=n)
        if cell is not None:
            assert within_tolerance(ours, cell), (method, dataset, n, ours, cell)


def test_every_claim_has_a_recorded_cpu_outcome() -> None:
    verdicts = evaluate(CPU_RUNS, "cpu")
    assert {v.claim.name for v in verdicts} == set(CPU_OUTCOMES), "record the outcome of every evaluable claim"


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.name for c in CLAIMS])
def test_cpu_claim_outcome_is_as_recorded(claim: Claim) -> None:
    verdicts = {v.claim.name: v for v in evaluate(CPU_RUNS, "cpu", [claim])}
    if claim.name not in CPU_OUTCOMES:
        pytest.skip(f"{claim.name}: not evaluated under the cpu protocol")
    verdict = verdicts[claim.name]
    assert verdict.holds == CPU_OUTCOMES[claim.name], str(verdict)


def test_table3_claims_compare_wrn_runs_only() -> None:
    """Table 2's ResNet-18 runs share Table 3's methods and label counts (Baseline and Ada-CM at 4,000);
    a Table 3 claim must not be judged on them, nor a Table 2 claim on WRN-28-2 runs."""
    wrn = [r for r in CPU_RUNS if matches(r, TABLE3_CLAIMS[0].backbone("cpu"))]
    others = [r for r in CPU_RUNS if r not in wrn]
    assert wrn and {r["config"]["model"] for r in wrn} == {"wrn28_2"}
    assert not evaluate(others, "cpu", TABLE3_CLAIMS)
    assert not [v for v in evaluate(wrn, "cpu") if v.claim not in TABLE3_CLAIMS]


def test_claims_table_sets_our_gap_beside_the_papers() -> None:
    from adacm.claims import TABLE1_CLAIMS, Verdict, claims_table

    sfew_lc = next(c for c in TABLE1_CLAIMS if c.worse == "adacm_lc" and c.dataset == "sfew")
    assert sfew_lc.paper_gap() == pytest.approx(52.43 - 45.99)
    table = claims_table([Verdict(sfew_lc, Aggregate(40.0, 1.0, 3), Aggregate(41.5, 0.5, 3))])
    assert table.splitlines()[-1] == ("| adacm > adacm_lc @ sfew 400 (Table 1) | 40.00 ± 1.00 (n=3) | 41.50 ± 0.50 (n=3) | "
                                      "-1.50 | +6.44 | **does not hold** |")
