"""The measurements behind two test tolerances (docs/operations.md, "Tests on any x86-64 CPU").

  smoke   re-train every stored smoke result in fp32 and bf16 at 2 and 1 threads and print how
          many of the 112 test faces each epoch moved (tests/test_regression.py's tolerance)
  chance  the chance test's setup (tests/test_trainer.py) for some methods in fp32 and bf16 at 2 and
          1 threads: the last epoch's accuracy on up to 150 FER2013 test faces per class

Each prints one JSON line per run; the committed outputs are results/studies/test-margins/.
Example: python experiments/test_margins.py chance --methods supervised adacm fixmatch
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from adacm.data.dataset import NUM_CLASSES, Part
from adacm.data.datasets import load_dataset
from adacm.run.config import RunConfig
from adacm.run.protocols import get_protocol
from adacm.run.store import load_results
from adacm.run.trainer import Trainer

COMBOS = [(threads, precision) for threads in (2, 1) for precision in ("fp32", "bf16")]


def smoke(_: argparse.Namespace) -> None:
    for threads, precision in COMBOS:
        torch.set_num_threads(threads)
        for stored in load_results(Path("results"), "smoke"):
            with tempfile.TemporaryDirectory() as tmp:
                r = Trainer(RunConfig.from_dict(stored["config"]), checkpoint_dir=Path(tmp), progress=False,
                            precision=precision).fit()
            moved = [round((a["test_acc"] - b["test_acc"]) * 112 / 100) for a, b in zip(r["epochs"], stored["epochs"])]
            print(json.dumps({"m": stored["config"]["method"], "threads": threads, "precision": precision,
                              "numerics": r["numerics"], "faces_diff": moved}), flush=True)


def chance(args: argparse.Namespace) -> None:
    ci, test = load_dataset("fer2013_ci"), load_dataset("fer2013").test
    keep = np.sort(np.concatenate([np.flatnonzero(test.y == c)[:150] for c in range(NUM_CLASSES)]))
    data = replace(ci, test=Part(test.x[keep], test.y[keep]))
    smoke_protocol = get_protocol("smoke")
    for threads, precision in COMBOS:
        torch.set_num_threads(threads)
        for method in args.methods:
            n = 448 if method == "supervised" else 224
            cfg = replace(smoke_protocol.config("fer2013_ci", method, n, seed=0, model="dlib_face", init="face",
                                                image_size=112), epochs=4, iters_per_epoch=25)
            with tempfile.TemporaryDirectory() as tmp:
                r = Trainer(cfg, data, checkpoint_dir=Path(tmp), progress=False, precision=precision).fit()
            print(json.dumps({"m": method, "threads": threads, "precision": precision, "n_test": len(keep),
                              "last": round(r["summary"]["test_acc_last"], 2),
                              "test": [round(e["test_acc"], 1) for e in r["epochs"]]}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("smoke").set_defaults(func=smoke)
    p = sub.add_parser("chance")
    p.add_argument("--methods", nargs="+", default=["supervised", "adacm", "adacm_lc", "fixmatch"])
    p.set_defaults(func=chance)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
