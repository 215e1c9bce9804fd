"""Pilot that picks the `cpu` protocol's backbone (issues 3 and 9).

Runs Baseline, FixMatch and Ada-CM from each backbone variant under the `cpu` protocol and
reports, per variant and label count: final EMA test accuracy, and the last epoch's mask rate
and pseudo-label accuracy (subset I), per run and as mean ± std over seeds, with a figure of
the per-epoch curves in figures/ drawn from every stored pilot run at that label count (so
re-running one variant redraws the whole figure). A variant is
MODEL:INIT[:IMAGE_SIZE[:HEAD_LR_MULT]], e.g. dlib_face:face:112:10 (the classifier's learning
rate ÷ the rest's; 1 by default).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adacm.errors import run_cli
from adacm.report.pilot import (
    METHODS,
    VARIANTS,
    pilot_configs,
    pilot_figure,
    pilot_summary,
    pilot_table,
    stored_pilot_runs,
)
from adacm.run.runner import run_configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", default="cpu")
    parser.add_argument("--variants", nargs="+", default=VARIANTS)
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--labels", nargs="+", type=int, default=[400])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--figure", type=Path, default=Path("figures/pilot"))
    parser.add_argument("--rerun", action="store_true")
    args = parser.parse_args()
    run_cli(lambda: pilot(args))


def pilot(args: argparse.Namespace) -> None:
    configs = pilot_configs(args.protocol, args.variants, args.methods, args.labels, args.seeds)
    results = run_configs(configs, args.results_dir, "pilot", args.rerun)
    print(pilot_table(results))
    for n in args.labels:
        shown = stored_pilot_runs(args.results_dir, args.protocol, n, list(dict.fromkeys(VARIANTS + args.variants)),
                                  args.methods)
        print(pilot_summary(shown))
        print(f"figure: {pilot_figure(shown, n, args.figure.with_name(f'{args.figure.name}_{n}'))}")


if __name__ == "__main__":
    main()
