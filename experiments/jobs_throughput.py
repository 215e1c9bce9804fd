"""Grid throughput here: runs per hour one at a time (all cores) against N side by side (cores ÷ N
threads each), on the `cpu` protocol's Table 2 runs (issue 18).

Design, fixed before the runs: Ada-CM at 4,000 labels (the grid's costliest kind of run); seeds 3
and 4 one at a time, then seeds 5 and 6 two at a time. They are Table 2 grid runs: stored in the
results store, they count there. Each mode's clock runs from its start to its last result. Every
run must still be missing (a stored one would not be timed). Run it on an idle machine; writes
results/bench/jobs_<machine>_<time>.json.
Example: python experiments/jobs_throughput.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from adacm.errors import UserError, run_cli
from adacm.run.machine import machine
from adacm.run.protocols import get_protocol
from adacm.run.runner import run_configs, threads_per_job
from adacm.run.store import find_result
from adacm.run.trainer import git_commit
from adacm.studies.bench import write_record

METHOD, LABELS = "adacm", 4000
MODES = {1: (3, 4), 2: (5, 6)}  # jobs → seeds


def measure(results_dir: Path) -> dict[str, Any]:
    cpu = get_protocol("cpu")
    modes = {jobs: [cpu.config("fer2013", METHOD, LABELS, seed) for seed in seeds] for jobs, seeds in MODES.items()}
    stored = [c.run_name() for configs in modes.values() for c in configs if find_result(results_dir, c)]
    if stored:
        raise UserError(f"already stored, so not timed: {', '.join(stored)}; choose other seeds")
    out: dict[str, Any] = {"machine": machine(), "code": git_commit(), "method": METHOD, "labels": LABELS, "modes": []}
    for jobs, configs in modes.items():
        start = time.perf_counter()
        results = run_configs(configs, results_dir, "table2", jobs=jobs)
        seconds = time.perf_counter() - start
        out["modes"].append({"jobs": jobs, "threads_per_run": threads_per_job(jobs), "runs": len(results),
                             "seconds": round(seconds, 1), "runs_per_hour": round(3600 * len(results) / seconds, 2),
                             "run_wall_time_s": [r["wall_time_s"] for r in results],
                             "test_acc_last": [r["summary"]["test_acc_last"] for r in results]})
    one, two = (m["runs_per_hour"] for m in out["modes"])
    out["speedup"] = round(two / one, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results-dir", type=Path, default=Path("results"), help="the results store (default: results/)")
    parser.add_argument("--out", type=Path, default=Path("results/bench"), help="folder for the record")
    args = parser.parse_args()

    def run() -> None:
        report = measure(args.results_dir)
        path = write_record(args.out, "jobs", report)
        for m in report["modes"]:
            print(f"{m['jobs']} at a time ({m['threads_per_run']} thread(s) each): {m['runs']} runs in "
                  f"{m['seconds'] / 60:.1f} min, {m['runs_per_hour']:.2f} runs/hour")
        print(f"side by side / one at a time: {report['speedup']:.2f}×; wrote {path}")

    run_cli(run)


if __name__ == "__main__":
    main()
