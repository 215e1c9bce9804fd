"""Does the precision change results? Baseline and Ada-CM at 4,000 labels, seeds 0-4, in bf16
autocast and in fp32 (the design is fixed in adacm/report/precision.py and docs/operations.md).

Trains what is missing of both arms (bf16 into the results store, fp32 into
results/studies/precision-fp32), then prints each pair and the equivalence test.
Example: python experiments/precision.py --dry-run
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adacm.errors import run_cli
from adacm.report.precision import FP32_STORE, design_configs, stored_arms, study_report
from adacm.run.runner import positive_int, run_configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results-dir", type=Path, default=Path("results"), help="the bf16 arm's store (default: results/)")
    parser.add_argument("--arms", nargs="+", choices=("bf16", "fp32"), default=["bf16", "fp32"],
                        help="which arms to train (default both; the report reads both stores)")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and whether they are stored; train nothing")
    parser.add_argument("--jobs", type=positive_int, default=1, help="runs trained at once (see the table scripts)")
    args = parser.parse_args()
    run_cli(lambda: study(args))


def study(args: argparse.Namespace) -> None:
    stores = {"bf16": args.results_dir, "fp32": args.results_dir / FP32_STORE}
    for precision in ("bf16", "fp32"):
        train = precision in args.arms and not args.dry_run
        run_configs(design_configs(), stores[precision], "table2" if precision == "bf16" else "precision",
                    dry_run=not train, precision=precision, jobs=args.jobs)
    print(study_report(*stored_arms(args.results_dir)))


if __name__ == "__main__":
    main()
