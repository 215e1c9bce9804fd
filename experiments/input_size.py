"""Which input size for a pretrained start? Frozen-feature linear probes and the training step's cost
per input side (issue 19: the ImageNet start's size, chosen with evidence).

Design, fixed before measuring: FER2013's 48 px grey faces resized (bilinear, as the trainer does)
to each side; the start's pooled features, frozen (evaluation mode, fp32); a logistic regression on
them (``adacm.run.pretrain.linear_probe``, the SimCLR build's probe) fitted on the ``LABELS``-label
training sets of split seed 0, scored on FER2013's test set; and the `cpu` protocol's Ada-CM
training step at that side (``adacm.studies.bench.suite_speed``), as minutes for a whole run. The
rule: the smallest side whose probe at the most labels is within ``WITHIN`` points of the start's
best side's (a best side that is the largest probed is flagged: a larger one might do better
still). The default start and the `face` regime's are probed the same way, at their own sides, for
reference. The machine's load average is recorded: minutes from a busy machine are not speed figures.
Writes results/studies/input-size/input_size_<machine>_<time>.json.
Example: python experiments/input_size.py --sizes 48 64 96 112 128 160
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from adacm.data.augment import to_tensor
from adacm.data.dataset import NUM_CLASSES
from adacm.data.datasets import load_dataset
from adacm.data.splits import labeled_indices
from adacm.data.streams import resize_images
from adacm.errors import UserError, run_cli
from adacm.models import build_model, check_init, check_model
from adacm.run.machine import machine
from adacm.run.numerics import Numerics
from adacm.run.pretrain import linear_probe
from adacm.run.protocols import CPU_VARIANTS, get_protocol
from adacm.run.trainer import git_commit, pick_device
from adacm.studies.bench import (
    images_per_iteration,
    suite_speed,
    write_record,
)

LABELS = (400, 4000)
WITHIN = 1.0  # points: the rule's tolerance
REFERENCES = ("simclr", "face")  # variants probed at their own side for comparison


def probe_start(model: str, init: str, size: int, steps: int) -> dict[str, Any]:
    """Probe accuracies at ``LABELS`` and the Ada-CM step's cost of one start at one side."""
    fer = load_dataset("fer2013")
    test = resize_images(fer.test.x, size)
    calibration = to_tensor(resize_images(fer.train.x[:: len(fer.train.x) // 512][:512], size))
    net, _ = build_model(model, NUM_CLASSES, init, calibration=calibration)
    row: dict[str, Any] = {"model": model, "init": init, "size": size}
    for n in LABELS:
        idx = labeled_indices(fer.train.y, n, 0, "fer2013", NUM_CLASSES)
        row[f"probe_{n}"] = round(linear_probe(net.backbone, resize_images(fer.train.x[idx], size), fer.train.y[idx],
                                               test, fer.test.y, Numerics()), 2)
    # the bench's trainer (a 2,000-face subset; a step costs the same at any label count), scratch: same cost
    cfg = get_protocol("cpu").config("fer2013", "adacm", 400, 0, model=model, init="scratch", image_size=size)
    speed, numerics = suite_speed(cfg, steps, 2, pick_device())
    row |= {"images_per_s": round(speed, 1), "numerics": numerics.to_dict(),
            "minutes_per_run": round(cfg.epochs * cfg.iters_per_epoch * images_per_iteration(cfg) / speed / 60, 1)}
    probes = ", ".join(f"{row[f'probe_{n}']:.2f}% ({n:,} labels)" for n in LABELS)
    print(f"{model}:{init} {size} px: probe {probes}; {row['images_per_s']:.0f} images/s, "
          f"≈ {row['minutes_per_run']:.1f} min per run", flush=True)
    return row


def chosen_size(rows: list[dict[str, Any]]) -> int:
    key = f"probe_{max(LABELS)}"
    best = max(r[key] for r in rows)
    return min(r["size"] for r in rows if r[key] >= best - WITHIN)


def study(model: str, init: str, sizes: list[int], steps: int) -> dict[str, Any]:
    for size in sizes:
        check_model(model, size)
    for start in [(model, init), *((CPU_VARIANTS[v]["model"], CPU_VARIANTS[v]["init"]) for v in REFERENCES)]:
        check_init(*start)  # every start's weights, before the first probe
    load = os.getloadavg()[0]
    rows = [probe_start(model, init, size, steps) for size in sizes]
    references = [probe_start(CPU_VARIANTS[v]["model"], CPU_VARIANTS[v]["init"], CPU_VARIANTS[v]["image_size"], steps)
                  | {"variant": v} for v in REFERENCES]
    chosen = chosen_size(rows)
    return {"machine": machine(), "code": git_commit(), "load_average_1min": round(load, 2), "steps": steps,
            "start": {"model": model, "init": init}, "rows": rows, "references": references,
            "rule": f"the smallest side whose 4,000-label probe is within {WITHIN} point of the best side's",
            "chosen_size": chosen, "chosen_is_largest": chosen == max(sizes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=CPU_VARIANTS["imagenet"]["model"])
    parser.add_argument("--init", default=CPU_VARIANTS["imagenet"]["init"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[48, 64, 96, 112, 128, 160])
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per side (default 5)")
    parser.add_argument("--out", type=Path, default=Path("results/studies/input-size"))
    args = parser.parse_args()

    def run() -> None:
        if args.steps < 1:
            raise UserError(f"--steps {args.steps} must be ≥ 1")
        report = study(args.model, args.init, args.sizes, args.steps)
        path = write_record(args.out, "input_size", report)
        largest = " — the largest side probed: a larger one might do better still" if report["chosen_is_largest"] else ""
        print(f"chosen: {report['chosen_size']} px ({report['rule']}){largest}; wrote {path}")

    run_cli(run)


if __name__ == "__main__":
    main()
