"""Fig. 3's sensitivity sweeps of Ada-CM's margin: B (its peak) and γ (its growth with epochs).

(a) B ∈ {0.85, 0.9, 0.93, 0.95, 0.97, 0.99} at γ = e; (b) γ ∈ {1.5, 2, e, 3} at B = 0.97.
A swept run is the plain Ada-CM config with one method option set; at the default value the
option is left unset, so the default point is the stored Ada-CM run itself (trained once).
Shared by ``experiments/fig3.py`` (trains), ``notebooks/fig3_sweeps`` (draws stored runs) and
the generated block in docs/findings.md (``adacm report``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from adacm.report.tables import (
    Aggregate,
    default_backbone,
    matches,
    metric_value,
    summarise,
)
from adacm.run.config import RunConfig
from adacm.run.protocols import get_protocol

SWEEPS: dict[str, list[float]] = {"b": [0.85, 0.9, 0.93, 0.95, 0.97, 0.99], "gamma": [1.5, 2.0, math.e, 3.0]}
DEFAULTS: dict[str, float] = {"b": 0.97, "gamma": math.e}
#: the (paper dataset, labels) every sweep runs at: Table 1's RAF-DB setting (the paper does not name Fig. 3's)
SETTING = ("rafdb", 100)


def sweep_configs(base: list[RunConfig]) -> dict[str, list[tuple[float, list[RunConfig]]]]:
    """Per swept option, per value, the Ada-CM configs (one per seed) that measure it."""
    return {name: [(v, base if v == DEFAULTS[name] else
                    [replace(c, method_overrides={**c.method_overrides, name: v}) for c in base]) for v in values]
            for name, values in SWEEPS.items()}


@dataclass(frozen=True)
class SweepPoint:
    """One swept value's stored runs: the metric per seed. Seeds share a labeled split and an
    initialisation across values, so a value is best read against the default seed by seed."""

    value: float
    by_seed: dict[int, float]

    @property
    def agg(self) -> Aggregate:
        return summarise(list(self.by_seed.values()))

    def gap(self, default: SweepPoint) -> Aggregate | None:
        """Mean ± std over the seeds both have of (this value's metric − the default's)."""
        seeds = sorted(self.by_seed.keys() & default.by_seed.keys())
        return summarise([self.by_seed[s] - default.by_seed[s] for s in seeds]) if seeds else None


def sweep_points(results: list[dict[str, Any]], base: dict[str, Any], metric: str = "test_acc_last"
                 ) -> dict[str, list[SweepPoint]]:
    """The stored values of each swept option, in sweep order, from the runs whose other config
    fields equal ``base`` (a config dict without method options); a value with no run is absent."""
    fixed = {k: v for k, v in base.items() if k not in ("seed", "method_overrides")}
    points: dict[str, list[SweepPoint]] = {name: [] for name in SWEEPS}
    for name, values in SWEEPS.items():
        for value in values:
            wanted = {} if value == DEFAULTS[name] else {name: value}
            runs = [r for r in results if matches(r, {**fixed, "method_overrides": wanted})]
            by_seed = {r["config"]["seed"]: v for r in runs if (v := metric_value(r, metric)) is not None}
            if by_seed:
                points[name].append(SweepPoint(value, by_seed))
    return points


def sweep_base(protocol: str) -> dict[str, Any]:
    """The config fields every Fig. 3 run of ``protocol`` shares: its default Ada-CM run at the
    RAF-DB stand-in's 100 labels (Table 1's setting)."""
    dataset, n_labels = get_protocol(protocol).setting(*SETTING)
    return {**default_backbone(protocol), "protocol": protocol, "dataset": dataset, "method": "adacm",
            "n_labels": n_labels}


def sweep_report(points: dict[str, list[SweepPoint]]) -> str:
    """A markdown table, one row per stored value: mean ± std over seeds, each seed's value, and
    the paired gap to the default over the seeds both have."""
    lines = ["| parameter | value | test accuracy | per seed | vs default, same seeds |", "|" + "---|" * 5]
    for name, pts in points.items():
        default = next((p for p in pts if p.value == DEFAULTS[name]), None)
        for p in pts:
            gap = p.gap(default) if default and p is not default else None
            paired = f"{gap.mean:+.2f} ± {gap.std:.2f} pp (n={gap.n})" if gap else "default" if p is default else "—"
            seeds = ", ".join(f"s{s} {v:.2f}" for s, v in sorted(p.by_seed.items()))
            lines.append(f"| {name} | {p.value:.3f} | {p.agg} | {seeds} | {paired} |")
    return "\n".join(lines)
