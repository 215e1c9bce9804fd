"""The paper's claims, checked against stored results.

Two kinds of check:

* ``within_tolerance`` — a number of ours against the paper's reported mean ± std (only
  meaningful for the ``paper`` protocol, whose data and schedule are the paper's): the gap must
  be within ``k`` standard errors of the difference of two means plus a floor of 1 point.
* ``CLAIMS`` — the paper's comparative statements ("A beats B at N labels") evaluated on any
  protocol's stored results: a claim holds when A's mean over seeds exceeds B's, and is called
  *clear* when the gap also exceeds the larger of the two standard deviations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from adacm import paper
from adacm.paper import Cell
from adacm.protocols import PAPER_DATASET
from adacm.tables import TABLE_BACKBONES, Aggregate, aggregate, default_backbone, matches

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
        (override,) = TABLE_BACKBONES[self.table]
        return override

    @property
    def name(self) -> str:
        backbone = f", {self.override['model']}" if self.override else ""
        return f"{self.better} > {self.worse} @ {self.dataset} {self.n_labels} (Table {self.table}{backbone})"

    def backbone(self, protocol: str) -> dict[str, Any]:
        """The config fields of the runs this claim compares: its backbone with the protocol's settings."""
        return default_backbone(protocol, **self.override)

    def paper_gap(self) -> float | None:
        """The gap the paper reports, in points."""
        dataset = PAPER_DATASET.get(self.dataset, self.dataset)
        a, b = (paper.reported(self.table, m, dataset=dataset, labels=self.n_labels) for m in (self.better, self.worse))
        return a.mean - b.mean if a and b else None


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    better: Aggregate
    worse: Aggregate

    @property
    def gap(self) -> float:
        return self.better.mean - self.worse.mean

    @property
    def holds(self) -> bool:
        return self.gap > 0

    @property
    def clear(self) -> bool:
        return self.gap > max(self.better.std, self.worse.std)

    def __str__(self) -> str:
        word = "clearly holds" if self.clear else "holds" if self.holds else "does not hold"
        return f"{self.claim.name}: {word} (gap {self.gap:+.2f} pp; {self.better} vs {self.worse})"


TABLE2_CLAIMS = [
    Claim(better, worse, "fer2013", n, 2)
    for n in (100, 400, 4000)
    for better, worse in (("fixmatch", "supervised"), ("adacm", "supervised"), ("adacm", "fixmatch"))
]
#: Table 1: Ada-CM (Lu + Lc, adaptive margin) above every other row, in both of its settings
TABLE1_CLAIMS = [
    Claim("adacm", worse, dataset, n, 1)
    for dataset, n in (("fer2013", 100), ("sfew", 400))
    for worse in ("supervised", "fixmatch@0.5", "fixmatch@0.8", "fixmatch", "flexmatch", "adacm_lu", "adacm_lc")
]

#: Table 3: Ada-CM above every other SS-DFER row, WRN-28-2 from scratch
TABLE3_CLAIMS = [
    Claim("adacm", worse, "fer2013", n, 3)
    for n in (400, 1000, 4000)
    for worse in ("supervised", "meanteacher", "mixmatch", "marginmix")
]


def once(claims: list[Claim]) -> list[Claim]:
    """Each comparison once, under the first table that makes it (Table 1's FER2013 Baseline and
    FixMatch runs are Table 2's)."""
    unique: dict[tuple[Any, ...], Claim] = {}
    for c in claims:
        unique.setdefault((c.better, c.worse, c.dataset, c.n_labels, tuple(sorted(c.override.items()))), c)
    return list(unique.values())


CLAIMS = once(TABLE2_CLAIMS + TABLE1_CLAIMS + TABLE3_CLAIMS)


def evaluate(results: list[dict[str, Any]], protocol: str, claims: list[Claim] = CLAIMS,
             metric: str = "test_acc_last", min_seeds: int = 3) -> list[Verdict]:
    """Verdicts for the claims whose two methods both have at least ``min_seeds`` stored runs of
    ``protocol`` on the claim's backbone (``results``: the protocol's stored runs, any backbone)."""
    out = []
    for c in claims:
        where = c.backbone(protocol)
        agg = aggregate([r for r in results if matches(r, where)], metric)
        a, b = agg.get((c.better, c.dataset, c.n_labels)), agg.get((c.worse, c.dataset, c.n_labels))
        if a and b and min(a.n, b.n) >= min_seeds:
            out.append(Verdict(c, a, b))
    return out


def claims_table(verdicts: list[Verdict]) -> str:
    """One row per evaluated claim: our two means, the gap beside the paper's, and the verdict."""
    lines = ["| claim | ours: better | ours: worse | gap (ours) | gap (paper) | verdict |", "|" + "---|" * 6]
    for v in verdicts:
        gap = v.claim.paper_gap()
        word = "clearly holds" if v.clear else "holds" if v.holds else "**does not hold**"
        lines.append(f"| {v.claim.name} | {v.better} | {v.worse} | {v.gap:+.2f} | "
                     f"{'—' if gap is None else f'{gap:+.2f}'} | {word} |")
    return "\n".join(lines)
