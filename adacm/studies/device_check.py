"""The device check: what a session lent a GPU runs first (``make device-check``, under 8 min).

1. the benchmark on CUDA at 224 px (``adacm.studies.bench``): the suite's trainer, the official loop and
   the plain ResNet-18 ceiling, images/s, the suite with its data pipeline on; the loader's
   augmentation images/s against its workers (``experiments/augment_scaling.py``);
2. a short `paper`-protocol grid (Baseline and Ada-CM, one seed) on a synthetic RAF-DB tree
   (``adacm.data.synthetic``) from MS-Celeb-layout weights, in the protocol's numerics (fp32);
3. one record, ``results/bench/device_check_<device>_<time>.json``: the machine (GPU name), the
   bench's figures, each run's wall time, images/s and numerics.

Never a dependency of tests or CI: without a GPU it says so and stops (exit 2).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torchvision

from adacm.data.datasets import load_dataset
from adacm.data.synthetic import write_ckplus_subset, write_rafdb_tree
from adacm.errors import UserError, run_cli
from adacm.models.resnet import msceleb_layout
from adacm.paths import REPO_ROOT, data_dir
from adacm.run.config import RunConfig
from adacm.run.machine import machine
from adacm.run.store import load_results
from adacm.run.trainer import free_cores, git_commit
from adacm.studies import bench

TRAIN_PER_CLASS, TEST_PER_CLASS, LABELS = 60, 20, 70
EPOCHS, ITERS = 2, 50
METHODS = ("supervised", "adacm")


def paper_command(data_root: Path, init: Path, labels: int, methods: Sequence[str], epochs: int, iters: int,
                  results_dir: Path) -> list[str]:
    """Table 2's script on the `paper` protocol, seed 0, its schedule cut to ``epochs`` × ``iters``:
    a short grid on a RAF-DB tree under ``data_root`` from MS-Celeb-layout weights ``init``."""
    return [sys.executable, str(REPO_ROOT / "experiments" / "table2.py"), "--protocol", "paper",
            "--dataset", "rafdb", "--labels", str(labels), "--seeds", "0", "--methods", *methods,
            "--epochs", str(epochs), "--iters", str(iters), "--init", str(init), "--data-root", str(data_root),
            "--results-dir", str(results_dir)]


def paper_grid(out: Path) -> list[dict[str, Any]]:
    """Train the short `paper` grid on a synthetic tree in ``out``; the runs' summaries."""
    write_rafdb_tree(out, load_dataset("fer2013").train, TRAIN_PER_CLASS, TEST_PER_CLASS)
    write_ckplus_subset(data_dir() / "ckplus.npz", out / "ckplus.npz", per_class=20)
    weights = out / "resnet18_msceleb.pth"
    torch.save(msceleb_layout(torchvision.models.resnet18(weights=None).state_dict()), weights)
    subprocess.run(paper_command(out, weights, LABELS, METHODS, EPOCHS, ITERS, out / "results"), check=True)
    runs = []
    for r in load_results(out / "results", "paper"):
        cfg = RunConfig.from_dict(r["config"])
        train_s = sum(e["time_s"] for e in r["epochs"])  # evaluation included: what a run costs
        images = cfg.epochs * cfg.iters_per_epoch * bench.images_per_iteration(cfg)
        runs.append({"method": cfg.method, "wall_time_s": r["wall_time_s"], "images_per_s": round(images / train_s, 1),
                     "numerics": r["numerics"], "test_acc_last": r["summary"]["test_acc_last"],
                     "machine": r["machine"]})
    return runs


def device_check(out_dir: Path) -> Path:
    if not torch.cuda.is_available():
        raise UserError("no CUDA device here: the device check runs on a machine with a GPU (make device-check)")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        bench.main(["--sizes", "224", "--iters", "20", "--out", tmp])
        subprocess.run([sys.executable, str(REPO_ROOT / "experiments" / "augment_scaling.py"), "--out", tmp,
                        "--workers", "0", "1", "2", "4", "8", str(free_cores(torch.device("cuda")))], check=True)
        [bench_file] = Path(tmp).glob("bench_*.json")
        [augment_file] = Path(tmp).glob("augment_*.json")
        report = {"machine": machine(torch.device("cuda")), "code": git_commit(),
                  "bench": json.loads(bench_file.read_text()), "augment": json.loads(augment_file.read_text()),
                  "paper_runs": paper_grid(Path(tmp))}
    report["minutes"] = round((time.perf_counter() - start) / 60, 2)
    path = bench.write_record(out_dir, "device_check", report)
    print(f"wrote {path} ({report['minutes']} min)")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adacm.studies.device_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/bench"), help="folder for the record")
    args = parser.parse_args(argv)
    run_cli(lambda: device_check(args.out))


if __name__ == "__main__":
    main()
