"""Augmentation throughput of the `paper` protocol's loader (per-image seeding) against its number
of worker processes, at 224 px RGB (issue 18): images/s of Ada-CM's views (the labeled weak view,
two weak and one strong view of each unlabeled face: 64 images a step) over a fixed plan of steps,
and each count's scaling against one worker (goal: ≥ 0.8 × N). A GPU needs the rate at which it
trains a plain ResNet-18 at 224 px (python -m adacm.studies.bench's ceiling on that device).
Writes results/bench/augment_<machine>_<time>.json. Run on an idle machine.
Example: python experiments/augment_scaling.py --workers 1 2
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from adacm.algorithms.adacm import AdaCM
from adacm.data.datasets import load_dataset
from adacm.data.loader import Augmenter, StepPlan
from adacm.errors import run_cli
from adacm.run.machine import machine
from adacm.run.trainer import git_commit
from adacm.studies.bench import write_record

SIZE, FACES, BATCH = 224, 512, 16


def faces_at(size: int, n: int) -> np.ndarray:
    """The first ``n`` FER2013 training faces as ``size`` px RGB (the paper protocol's input)."""
    x = load_dataset("fer2013").train.x[:n]
    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.Resampling.BICUBIC).convert("RGB"))
                     for f in x])


def measure(workers: list[int], steps: int) -> dict[str, Any]:
    x = faces_at(SIZE, FACES)
    rng = np.random.default_rng(0)
    plans = [StepPlan(s, rng.integers(0, FACES, BATCH), rng.integers(0, FACES, BATCH)) for s in range(steps)]
    augmenter = Augmenter(x, x, 0, AdaCM.unlabeled_views)
    images = steps * BATCH * (1 + len(AdaCM.unlabeled_views))
    rates = {}
    for n in workers:
        list(augmenter.iterate(plans[:2], n))  # warm: the pool's start and the first images
        start = time.perf_counter()
        list(augmenter.iterate(plans, n))
        rates[n] = images / (time.perf_counter() - start)
    base = rates.get(1)
    return {"machine": machine(), "code": git_commit(), "size": SIZE, "steps": steps, "images_per_step": images // steps,
            "images_per_s": {str(n): round(r, 1) for n, r in rates.items()},
            "scaling_vs_one_worker": {str(n): round(r / (n * base), 3) for n, r in rates.items() if base and n},
            "note": "0 workers: in the training process"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", nargs="+", type=int, default=list(range(0, (os.cpu_count() or 1) + 1)),
                        help="worker counts to time (default: 0 … cores)")
    parser.add_argument("--steps", type=int, default=24, help="steps of 64 images per count (default 24)")
    parser.add_argument("--out", type=Path, default=Path("results/bench"), help="folder for the record")
    args = parser.parse_args()

    def run() -> None:
        report = measure(args.workers, args.steps)
        for n, r in report["images_per_s"].items():
            scale = report["scaling_vs_one_worker"].get(n)
            print(f"{n} worker(s): {r:.0f} images/s" + (f" ({scale:.2f} × N × one worker's)" if scale else ""))
        path = write_record(args.out, "augment", report)
        print(f"wrote {path}")

    run_cli(run)


if __name__ == "__main__":
    main()
