"""Fig. 3: sensitivity of Ada-CM to B (the margin's peak) and to γ (its growth with epochs).

(a) B ∈ {0.85, 0.9, 0.93, 0.95, 0.97, 0.99} at γ = e; (b) γ ∈ {1.5, 2, e, 3} at B = 0.97
(adacm/report/sweeps.py).
The paper does not name the setting of its Fig. 3; this script uses Table 1's RAF-DB setting
(100 labels; FER2013 under the `cpu` protocol). The default (B = 0.97, γ = e) is drawn in red.
Writes figures/fig3.png and .pdf. Example: python experiments/fig3.py --protocol smoke
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adacm.errors import run_cli
from adacm.report.plots import sweep_figure
from adacm.report.sweeps import (
    DEFAULTS,
    SETTING,
    sweep_configs,
    sweep_points,
    sweep_report,
)
from adacm.run.runner import add_grid_args, grid_from_args, run_configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grid_args(parser, ["adacm"])
    parser.add_argument("--figure", type=Path, default=Path("figures/fig3"))
    args = parser.parse_args()
    run_cli(lambda: fig3(args))


def fig3(args: argparse.Namespace) -> None:
    base = grid_from_args(args, [SETTING])
    configs = list(dict.fromkeys(c for grid in sweep_configs(base).values() for _, cs in grid for c in cs))
    results = run_configs(configs, args.results_dir, "fig3", args.rerun, args.dry_run, args.shard, args.precision,
                          jobs=args.jobs, workers=args.workers)
    points = sweep_points(results, base[0].to_dict(), args.metric)
    print(sweep_report(points))
    if not args.dry_run:
        print(f"figure: {sweep_figure(points, DEFAULTS, args.figure)}")


if __name__ == "__main__":
    main()
