"""Fig. 3's sensitivity sweeps of Ada-CM's margin: B (its peak) and γ (its growth with epochs).

(a) B ∈ {0.85, 0.9, 0.93, 0.95, 0.97, 0.99} at γ = e; (b) γ ∈ {1.5, 2, e, 3} at B = 0.97.
A swept run is the plain Ada-CM config with one method option set; at the default value the
option is left unset, so the default point is the stored Ada-CM run itself (trained once).
Shared by ``experiments/fig3.py`` (trains) and ``notebooks/fig3_sweeps`` (draws stored runs).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from adacm.config import RunConfig
from adacm.tables import Aggregate, aggregate, matches

SWEEPS: dict[str, list[float]] = {"b": [0.85, 0.9, 0.93, 0.95, 0.97, 0.99], "gamma": [1.5, 2.0, math.e, 3.0]}
DEFAULTS: dict[str, float] = {"b": 0.97, "gamma": math.e}


def sweep_configs(base: list[RunConfig]) -> dict[str, list[tuple[float, list[RunConfig]]]]:
    """Per swept option, per value, the Ada-CM configs (one per seed) that measure it."""
    return {name: [(v, base if v == DEFAULTS[name] else
                    [replace(c, method_overrides={**c.method_overrides, name: v}) for c in base]) for v in values]
            for name, values in SWEEPS.items()}


def sweep_points(results: list[dict[str, Any]], base: dict[str, Any], metric: str = "test_acc_last"
                 ) -> dict[str, list[tuple[float, Aggregate]]]:
    """(value, mean ± std over seeds) per swept option, from the stored runs whose other config
    fields equal ``base`` (a config dict without method options)."""
    fixed = {k: v for k, v in base.items() if k not in ("seed", "method_overrides")}
    points: dict[str, list[tuple[float, Aggregate]]] = {name: [] for name in SWEEPS}
    for name, values in SWEEPS.items():
        for value in values:
            wanted = {} if value == DEFAULTS[name] else {name: value}
            runs = [r for r in results if matches(r, {**fixed, "method_overrides": wanted})]
            points[name] += [(value, a) for a in aggregate(runs, metric).values()]
    return points
