"""Fig. 3's sweeps (``adacm.report.sweeps``): the grid, its points and its report."""

from __future__ import annotations

import math

from conftest import run

from adacm.report.sweeps import sweep_configs, sweep_points, sweep_report
from adacm.run.protocols import get_protocol


def test_sweep_points_pick_the_default_run_and_one_value_each() -> None:
    base = [get_protocol("cpu").config("fer2013", "adacm", 100, s) for s in range(2)]
    grid = sweep_configs(base)
    assert [v for v, _ in grid["gamma"]] == [1.5, 2.0, math.e, 3.0]
    assert dict(grid["b"])[0.97] == base  # the default point is the plain Ada-CM run
    runs = [run("adacm", s, 30.0 + s) for s in range(2)] + [run("adacm", s, 20.0, method_overrides={"b": 0.9})
                                                           for s in range(2)]
    runs.append(run("adacm", 0, 99.0, method_overrides={"b": 0.9}, lr=1e-3))  # another setting: ignored
    runs.append(run("adacm", 2, 40.0, method_overrides={"b": 0.9}))  # a seed the default lacks
    points = sweep_points(runs, base[0].to_dict())
    b = {p.value: p for p in points["b"]}
    assert set(b) == {0.9, 0.97} and (b[0.9].agg.mean, b[0.9].agg.n) == (80 / 3, 3) and b[0.97].agg.mean == 30.5
    assert b[0.9].by_seed == {0: 20.0, 1: 20.0, 2: 40.0}
    gap = b[0.9].gap(b[0.97])  # paired over seeds 0 and 1 only: 20 − 30 and 20 − 31
    assert (gap.mean, gap.n) == (-10.5, 2)
    assert [p.value for p in points["gamma"]] == [math.e]
    rows = sweep_report(points).splitlines()
    assert "| b | 0.900 | 26.67 ± 11.55 (n=3) | s0 20.00, s1 20.00, s2 40.00 | -10.50 ± 0.71 pp (n=2) |" in rows
    assert "| b | 0.970 | 30.50 ± 0.71 (n=2) | s0 30.00, s1 31.00 | default |" in rows
