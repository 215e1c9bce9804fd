"""The paper's claims, checked against stored results: the verdict engine.

Two kinds of check:

* ``within_tolerance`` — a number of ours against the paper's reported mean ± std (only
  meaningful for the ``paper`` protocol, whose data and schedule are the paper's): the gap must
  be within ``k`` standard errors of the difference of two means plus a floor of 1 point.
* ``CLAIMS`` — the paper's comparative statements ("A beats B at N labels") evaluated on any
  protocol's stored runs. The two methods' runs are paired by seed (same split: checked; same
  pretrained build: pairs that differ are excluded and named); per claim the paired mean
  difference with its t-interval (and a two-level bootstrap over seeds and test images, over the
  pairs whose two runs stored per-image predictions; the table names their number where it is
  fewer than the pairs), the one-sided paired p-value, the share of seeds
  where A wins, and the two-sided p-value adjusted by Holm over the family of evaluated claims.

  Holm, not Benjamini–Hochberg: each verdict is read on its own ("this claim is supported"), so
  the guarantee wanted is on every single verdict (family-wise error), not on the share of false
  ones among the supported (FDR); with ~30 claims Holm costs little power over Bonferroni.

  Verdict: **supported** (A > B, adjusted p < 0.05), **reversed** (B > A, adjusted p < 0.05),
  **inconclusive** otherwise, **not evaluable** with one pair. An inconclusive verdict says
  how many seeds 80% power would take, for the paper's gap and for a 1-point gap, from the
  pooled paired spread of its setting. Seeds are fixed before runs are made: adding seeds until
  a test passes (optional stopping) inflates the error rate the adjusted p-values promise.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from adacm.data.datasets import load_dataset, paper_dataset
from adacm.errors import UserError
from adacm.report import paper
from adacm.report.paper import Cell
from adacm.report.paper_tables import PAPER_TABLES
from adacm.report.stats import (
    ALPHA,
    PairedTest,
    bootstrap_ci,
    holm,
    paired_test,
    pooled_sd,
    seeds_needed,
)
from adacm.report.tables import (
    Aggregate,
    default_backbone,
    matches,
    metric_value,
)
from adacm.run.machine import machine_kind
from adacm.run.numerics import result_numerics
from adacm.run.predictions import test_predictions
from adacm.run.pretrain import build_of
from adacm.run.protocols import get_protocol
from adacm.run.store import check_results_dir, load_results

PAPER_SEEDS = 5


def within_tolerance(ours: Aggregate, paper: Cell, k: float = 2.0, floor: float = 1.0) -> bool:
    """Whether our mean ± std agrees with the paper's mean ± std (5 seeds)."""
    paper_var = (paper.std or 0.0) ** 2 / PAPER_SEEDS
    ours_var = ours.std ** 2 / max(ours.n, 1)
    return abs(ours.mean - paper.mean) <= k * math.sqrt(paper_var + ours_var) + floor


@dataclass(frozen=True)
class Claim:
    """"``better`` beats ``worse`` on ``dataset`` with ``n_labels`` labels" (from a paper table)."""

    better: str
    worse: str
    dataset: str
    n_labels: int
    table: int  # the paper's table that makes the claim; its backbone is the table's (Tables 1-3 train one)

    @property
    def override(self) -> dict[str, Any]:
        """The table's backbone as overrides of a protocol's default ({}: the default)."""
        (override,) = PAPER_TABLES[self.table].backbones.values()
        return dict(override)

    @property
    def short(self) -> str:
        """The claim within one table, dataset and backbone (a regime report's row)."""
        return f"{self.better} > {self.worse} @ {self.n_labels}"

    @property
    def name(self) -> str:
        backbone = f", {self.override['model']}" if self.override else ""
        return f"{self.better} > {self.worse} @ {self.dataset} {self.n_labels} (Table {self.table}{backbone})"

    def backbone(self, protocol: str, regime: str | None = None) -> dict[str, Any]:
        """The config fields of the runs this claim compares: its backbone with the protocol's settings,
        in a named regime (a protocol variant) or the protocol's default."""
        return default_backbone(protocol, **{**get_protocol(protocol).variant(regime), **self.override})

    def paper_gap(self) -> float | None:
        """The gap the paper reports, in points."""
        dataset = paper_dataset(self.dataset)
        a, b = (paper.reported(self.table, m, dataset=dataset, labels=self.n_labels) for m in (self.better, self.worse))
        return a.mean - b.mean if a and b else None


def table_claims(number: int) -> list[Claim]:
    """The comparisons paper Table ``number`` claims (``PAPER_TABLES``), named in the `cpu`
    protocol's datasets (its stand-ins), which every protocol's runs are evaluated in."""
    cpu = get_protocol("cpu")
    return [Claim(better, worse, *cpu.setting(d, n), number) for better, worse, d, n in PAPER_TABLES[number].claimed]


#: Table 2: FixMatch and Ada-CM above the Baseline, Ada-CM above FixMatch; Table 1: Ada-CM (Lu + Lc,
#: adaptive margin) above every other row; Table 3: Ada-CM above every other SS-DFER row, WRN-28-2
TABLE_CLAIMS = {number: table_claims(number) for number in (1, 2, 3)}


def once(claims: list[Claim]) -> list[Claim]:
    """Each comparison once, under the first table that makes it (Table 1's FER2013 Baseline and
    FixMatch runs are Table 2's)."""
    unique: dict[tuple[Any, ...], Claim] = {}
    for c in claims:
        unique.setdefault((c.better, c.worse, c.dataset, c.n_labels, tuple(sorted(c.override.items()))), c)
    return list(unique.values())


CLAIMS = once(TABLE_CLAIMS[2] + TABLE_CLAIMS[1] + TABLE_CLAIMS[3])




class SplitMismatch(UserError):
    """Two runs of one seed and setting with different labeled splits: they cannot be paired."""


class AmbiguousRuns(UserError):
    """Two runs of one method, seed and setting: which one the claim compares would be arbitrary."""


@dataclass(frozen=True)
class Pairing:
    """A claim's runs paired by seed: A's and B's metric per pair, and what was left out or mixed."""

    seeds: list[int]
    a: list[float]
    b: list[float]
    excluded: list[str] = field(default_factory=list)  # pairs left out, with why
    mixed: list[str] = field(default_factory=list)  # pairs whose runs come from two machine kinds or precisions
    correct: tuple[np.ndarray, np.ndarray] | None = None  # [pairs with predictions, test images] right or wrong
    predicted_seeds: list[int] = field(default_factory=list)  # the seeds of ``correct``'s rows

    @property
    def diffs(self) -> np.ndarray:
        return np.asarray(self.a) - np.asarray(self.b)


def run_numerics(result: dict[str, Any]) -> str:
    """Where and how a run was computed, for spotting mixed pairs; runs stored before machines were
    recorded read as their device string."""
    where = machine_kind(result["machine"]) if "machine" in result else f"{result.get('device', '?')} (not recorded)"
    return f"{where}, {result_numerics(result)['precision']}"


def init_build(result: dict[str, Any]) -> str | None:
    """The weights a run started from: its recorded build where one names them, else the digest."""
    digest = result.get("init_sha256")
    return build_of(digest) or digest


@lru_cache(maxsize=None)
def test_labels(dataset: str) -> np.ndarray | None:
    try:
        return load_dataset(dataset).test.y
    except UserError:  # data not on this machine: the bootstrap over images is skipped
        return None


def pair_runs(claim: Claim, results: list[dict[str, Any]], protocol: str, metric: str = "test_acc_last",
              regime: str | None = None) -> Pairing:
    """Pair the claim's two methods' runs by seed on its dataset, labels and backbone (in ``regime``)."""
    where = {**claim.backbone(protocol, regime), "dataset": claim.dataset, "n_labels": claim.n_labels}
    by_method: dict[str, dict[int, dict[str, Any]]] = {claim.better: {}, claim.worse: {}}
    for r in results:
        if r["config"]["method"] in by_method and matches(r, where) and metric_value(r, metric) is not None:
            cell, seed = by_method[r["config"]["method"]], r["config"]["seed"]
            if seed in cell:  # two configs the claim cannot tell apart: pairing either would be a silent choice
                raise AmbiguousRuns(f"{claim.name}: seed {seed} has two stored runs of {r['config']['method']}, "
                                    f"{cell[seed]['name']} and {r['name']}, that differ only in fields the claim does "
                                    "not fix; move one out of the results store")
            cell[seed] = r
    seeds, a, b, excluded, mixed, preds = [], [], [], [], [], []
    for seed in sorted(set(by_method[claim.better]) & set(by_method[claim.worse])):
        ra, rb = by_method[claim.better][seed], by_method[claim.worse][seed]
        if ra["split_hash"] != rb["split_hash"]:
            raise SplitMismatch(f"{claim.name}: seed {seed}'s runs {ra['name']} and {rb['name']} have different "
                                f"labeled splits ({ra['split_hash']} vs {rb['split_hash']}): one was made with other "
                                "data or split code; re-run it")
        if init_build(ra) != init_build(rb):
            excluded.append(f"seed {seed}: the two runs start from different builds of the {ra['config']['init']} "
                            f"weights ({str(init_build(ra))[:12]}…, {str(init_build(rb))[:12]}…)")
            continue
        if run_numerics(ra) != run_numerics(rb):
            mixed.append(f"seed {seed}: {run_numerics(ra)} vs {run_numerics(rb)}")
        seeds.append(seed)
        a.append(metric_value(ra, metric))
        b.append(metric_value(rb, metric))
        preds.append((test_predictions(ra), test_predictions(rb)))
    # runs stored before predictions were recorded still count at the seed level; the bootstrap uses the others
    predicted = [(s, pa, pb) for s, (pa, pb) in zip(seeds, preds) if pa is not None and pb is not None]
    labels = test_labels(claim.dataset) if predicted and metric == "test_acc_last" else None
    if labels is None:
        return Pairing(seeds, a, b, excluded, mixed)
    correct = (np.stack([pa[0] == labels for _, pa, _ in predicted]), np.stack([pb[0] == labels for *_, pb in predicted]))
    return Pairing(seeds, a, b, excluded, mixed, correct, [s for s, *_ in predicted])


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    pairing: Pairing
    test: PairedTest | None  # None with fewer than two pairs
    p_adjusted: float | None = None
    bootstrap: tuple[float, float] | None = None
    seeds_for_paper_gap: int | None = None
    seeds_for_one_point: int | None = None
    family: int = 0  # the claims Holm adjusted over together (a report may show fewer of them)

    @property
    def n(self) -> int:
        return len(self.pairing.seeds)

    @property
    def word(self) -> str:
        if self.test is None or self.p_adjusted is None:
            return "not evaluable"
        if self.p_adjusted < ALPHA:
            return "supported" if self.test.mean > 0 else "reversed"
        return "inconclusive"

    @property
    def paper_position(self) -> str | None:
        """Where the paper's gap lies against our CI: inside, above (a paper-sized effect is excluded
        here) or below it."""
        gap = self.claim.paper_gap()
        if gap is None or self.test is None:
            return None
        low, high = self.test.ci
        return "inside" if low <= gap <= high else "above" if gap > high else "below"

    def to_dict(self) -> dict[str, Any]:
        t = self.test
        return {"claim": self.claim.name, "table": self.claim.table, "better": self.claim.better,
                "worse": self.claim.worse, "dataset": self.claim.dataset, "n_labels": self.claim.n_labels,
                "n": self.n, "seeds": self.pairing.seeds, "verdict": self.word,
                "mean_better": float(np.mean(self.pairing.a)) if self.n else None,
                "mean_worse": float(np.mean(self.pairing.b)) if self.n else None,
                "diff": t.mean if t else (float(self.pairing.diffs[0]) if self.n else None),
                "sd_diff": t.sd if t else None, "ci_t": list(t.ci) if t else None,
                "ci_bootstrap": list(self.bootstrap) if self.bootstrap else None,
                "seeds_bootstrap": self.pairing.predicted_seeds if self.bootstrap else None,
                "p_one_sided": t.p_greater if t else None, "p_two_sided": t.p_two_sided if t else None,
                "p_holm": self.p_adjusted, "share_better_wins": t.share_positive if t else None,
                "paper_gap": self.claim.paper_gap(), "paper_gap_vs_ci": self.paper_position,
                "seeds_for_paper_gap": self.seeds_for_paper_gap, "seeds_for_one_point": self.seeds_for_one_point,
                "excluded": self.pairing.excluded, "mixed": self.pairing.mixed}


def setting_of(claim: Claim) -> tuple[Any, ...]:
    """The claims whose pairs share a spread: one dataset, label count and backbone."""
    return claim.dataset, claim.n_labels, tuple(sorted(claim.override.items()))


def evaluate(results: list[dict[str, Any]], protocol: str, claims: list[Claim] = CLAIMS,
             metric: str = "test_acc_last", bootstrap: bool = True, regime: str | None = None) -> list[Verdict]:
    """Verdicts for every claim with at least one pair of ``protocol``'s runs (``results``: the
    protocol's stored runs, any backbone) in ``regime`` (default: the protocol's own); Holm's
    adjustment runs over those with two or more."""
    pairings = [(c, pair_runs(c, results, protocol, metric, regime)) for c in claims]
    pairings = [(c, p) for c, p in pairings if p.seeds]
    tests = {c: paired_test(p.diffs) if len(p.seeds) >= 2 else None for c, p in pairings}
    family = [c for c, _ in pairings if tests[c] is not None]
    adjusted = dict(zip(family, holm([tests[c].p_two_sided for c in family])))
    spreads: dict[tuple[Any, ...], list[tuple[int, float]]] = defaultdict(list)
    for c in family:
        spreads[setting_of(c)].append((tests[c].n, tests[c].sd))
    out = []
    for c, p in pairings:
        sd = pooled_sd(spreads.get(setting_of(c), []))
        gap = c.paper_gap()
        boot = bootstrap_ci(*p.correct) if bootstrap and len(p.predicted_seeds) >= 2 else None
        out.append(Verdict(c, p, tests[c], adjusted.get(c), boot,
                           seeds_needed(gap, sd) if sd is not None and gap is not None else None,
                           seeds_needed(1.0, sd) if sd is not None else None, len(family)))
    return out


def bold_decided(word: str) -> str:
    """A verdict word as a table shows it: the decided ones stand out."""
    return f"**{word}**" if word in ("supported", "reversed", "differs") else word


def fmt_p(p: float | None) -> str:
    return "—" if p is None else f"{p:.2g}" if p >= 0.001 else "<0.001"


def fmt_ci(ci: tuple[float, float] | list[float] | None) -> str:
    return "—" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def claims_table(verdicts: list[Verdict]) -> str:
    """One row per claim: pairs, paired difference and CIs, p-values, wins, verdict, the paper's gap."""
    lines = ["| claim | n | A − B (paired) | 95% CI (t) | 95% CI (bootstrap) | p (A>B) | p (Holm) | A wins | "
             "verdict | paper's gap | paper's gap vs CI | seeds for 80% power: paper's gap / 1 pt |", "|" + "---|" * 12]
    for v in verdicts:
        d = v.to_dict()
        word = bold_decided(v.word)
        gap = "—" if d["paper_gap"] is None else f"{d['paper_gap']:+.2f}"
        d_all = v.pairing.diffs
        ties = int(np.sum(d_all == 0))
        wins = f"{int(np.sum(d_all > 0))}/{v.n}" + (f" ({ties} tied)" if ties else "")
        need = " / ".join("—" if s is None else (f"≤{v.n}" if s <= v.n else str(s))
                          for s in (v.seeds_for_paper_gap, v.seeds_for_one_point))
        boot = fmt_ci(d["ci_bootstrap"])
        if d["seeds_bootstrap"] and len(d["seeds_bootstrap"]) < v.n:
            boot += f" ({len(d['seeds_bootstrap'])} pairs)"
        lines.append(f"| {v.claim.name} | {v.n} | {d['diff']:+.2f} | {fmt_ci(d['ci_t'])} | {boot} | "
                     f"{fmt_p(d['p_one_sided'])} | {fmt_p(d['p_holm'])} | {wins} | {word} | {gap} | "
                     f"{d['paper_gap_vs_ci'] or '—'} | {need} |")
    words = [v.word for v in verdicts]
    family = max(v.family for v in verdicts)
    lines.insert(0, f"{len(verdicts)} claims: " + ", ".join(f"{words.count(w)} {w}" for w in
                                                           ("supported", "reversed", "inconclusive", "not evaluable"))
                 + f" (Holm over the family of {family} claims with two or more pairs)\n")
    notes = [f"- {v.claim.name}: {note}" for v in verdicts for note in v.pairing.excluded]
    notes += [f"- {v.claim.name}: mixed pair, {note}" for v in verdicts for note in v.pairing.mixed]
    if notes:
        lines += ["", "Pairs excluded or mixed:", *notes]
    return "\n".join(lines)


def claims_report(results_dir: Path, protocol: str, table: int | None = None, fmt: str = "markdown") -> str:
    """``adacm claims``: every claim evaluated on the protocol's stored runs (the whole family, for
    the adjustment), then shown for one table or all, as markdown or JSON."""
    check_results_dir(results_dir)
    verdicts = [v for v in evaluate(load_results(results_dir, protocol), protocol) if table in (None, v.claim.table)]
    if fmt == "json":
        return json.dumps([v.to_dict() for v in verdicts], indent=1)
    if not verdicts:
        return f"no claim has a pair of stored `{protocol}` runs in {results_dir}"
    return claims_table(verdicts)
