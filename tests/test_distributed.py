"""Data-parallel training under torchrun (gloo on CPU) against a single process with the same global batch."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adacm.errors import UserError
from adacm.run.distributed import Distributed
from adacm.run.protocols import get_protocol
from adacm.run.trainer import Trainer

pytestmark = pytest.mark.slow  # every test here trains or starts processes

ROOT = Path(__file__).resolve().parent.parent
SMOKE = get_protocol("smoke")

# Trains the smoke runs (a single process, or one rank of a torchrun job) and records, per method,
# rank 0's result and every rank's digest of its model, EMA model and algorithm state.
SCRIPT = '''
import hashlib, json, sys
from dataclasses import replace
from pathlib import Path

import torch.distributed as dist

from adacm.data.datasets import load_dataset
from adacm.run.protocols import get_protocol
from adacm.run.trainer import Trainer


out, methods = Path(sys.argv[1]), sys.argv[2:]
data = load_dataset("fer2013_ci")
report = {}
for method in methods:
    cfg = replace(get_protocol("smoke").config("fer2013_ci", method, 70, seed=0), epochs=2, iters_per_epoch=4)
    trainer = Trainer(cfg, data, checkpoint_dir=out / "runs", progress=False)
    result = trainer.fit()
    digest = hashlib.sha256(repr(trainer.algorithm.state_dict()).encode())
    for state in (trainer.model.state_dict(), trainer.ema.model.state_dict()):
        for tensor in state.values():
            digest.update(tensor.cpu().numpy().tobytes())
    digests = [digest.hexdigest()]
    if trainer.dist.enabled:
        digests = [None] * trainer.dist.world_size
        dist.all_gather_object(digests, digest.hexdigest())
    report[method] = {"result": result, "digests": digests}
ctx = trainer.dist
if ctx.is_main:
    (out / "report.json").write_text(json.dumps(report))
del trainer  # its DDP wrapper holds the process group, which close() tears down
ctx.close()
ctx.exit()
'''

# Tolerances between the 2-process and the single-process run; in brackets the largest gap measured
# over seeds 0–3, both methods, both epochs. The ranks see the same global batches, but draw their own
# augmentations, normalise with batch-norm statistics of their half, and Ada-CM's contrastive term
# sees their half of subset II.
#
# loss_x [≤ 0.0085 nats]: per-image cross-entropy spreads by ≈ 0.03 at this stage, so the difference of
# two 64-image epoch means has a standard error ≈ 0.03·√2/8 ≈ 0.005; the tolerance is ≈ 4 of them.
LOSS_X_TOL = 0.02
# test accuracy [≤ 4.5 points]: 8 steps from scratch leave the EMA model near chance; 10 points are 3
# binomial standard errors of an accuracy near 1/7 on the 112 test faces (100·√(1/7·6/7/112) ≈ 3.3).
ACC_TOL = 10.0
# loss_c: InfoNCE over n = 16 pairs has 2n − 1 = 31 candidates per anchor, over a rank's 8 pairs 15;
# with equal similarities (nearly so at initialisation) the loss drops by exactly ln(31/15) = 0.73.
# The tolerance [residual ≤ 0.16] covers what unequal similarities add to or take from that drop.
HALF_NEGATIVES = math.log(31 / 15)
LOSS_C_TOL = 0.3


def run(args: list[str], out: Path) -> dict[str, Any]:
    """Run the script with ``args`` in front (a launcher or nothing), one thread per process."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a rank that aborts prints its Python stack
    script = out / "train_smoke.py"
    out.mkdir()
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, *args, str(script), str(out), "supervised", "adacm"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr if len(proc.stderr) < 12000 else proc.stderr[:6000] + proc.stderr[-6000:]
    return json.loads((out / "report.json").read_text())


def test_two_processes_match_one(tmp_path: Path) -> None:
    two = run(["-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone"], tmp_path / "two")
    one = run([], tmp_path / "one")
    for method in ("supervised", "adacm"):
        a, b = one[method]["result"], two[method]["result"]
        assert a["world_size"] == 1 and b["world_size"] == 2
        assert len(set(two[method]["digests"])) == 1, "model, EMA or threshold differ between the ranks"
        assert a["key"] == b["key"] and len(a["epochs"]) == len(b["epochs"]) == 2
        for ea, eb in zip(a["epochs"], b["epochs"]):
            assert abs(ea["loss_x"] - eb["loss_x"]) <= LOSS_X_TOL, (method, ea, eb)
            if method == "adacm":
                assert ea["mask_rate"] == eb["mask_rate"] == 0  # so subset II is every unlabeled image
                assert ea["loss_u"] == eb["loss_u"] == 0
                assert abs(ea["loss_c"] - eb["loss_c"] - HALF_NEGATIVES) <= LOSS_C_TOL, (ea, eb)
                assert ea["threshold"] == eb["threshold"]
        assert abs(a["summary"]["test_acc_last"] - b["summary"]["test_acc_last"]) <= ACC_TOL


def test_ranks_split_the_single_process_global_batch(ci_data, tmp_path: Path) -> None:
    """Every rank draws the global batch a single process draws (and leaves the shared generator
    where it would) and keeps its interleaved slice, augmented by a generator of its own."""
    cfg = replace(SMOKE.config("fer2013_ci", "adacm", 70, seed=0), epochs=1, iters_per_epoch=3)
    single, *ranks = (Trainer(cfg, ci_data, checkpoint_dir=tmp_path, progress=False) for _ in range(3))
    for rank, trainer in enumerate(ranks):
        trainer.dist = Distributed(rank=rank, world_size=2)  # next_batch needs no process group
    for step in range(3):
        whole = single.next_batch(step)
        parts = [trainer.next_batch(step) for trainer in ranks]
        for rank, (trainer, part) in enumerate(zip(ranks, parts)):
            assert trainer.rng.bit_generator.state == single.rng.bit_generator.state
            assert part.y.tolist() == whole.y[rank::2].tolist()
            assert part.u_index.tolist() == whole.u_index[rank::2].tolist()
            assert part.u_true.tolist() == whole.u_true[rank::2].tolist()
            assert len(part.x) == 8 and [len(v) for v in part.u_views] == [8, 8, 8]


def test_global_batch_must_split_evenly() -> None:
    cfg = SMOKE.config("fer2013_ci", "adacm", 70, seed=0)
    Distributed(rank=0, world_size=4).check_batch_sizes(cfg)
    with pytest.raises(UserError, match="divisible by the number of processes"):
        Distributed(rank=0, world_size=3).check_batch_sizes(cfg)


def test_launcher_lists_its_runs(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "adacm.run.launch", "--protocol", "smoke", "--methods", "adacm",
                          "--results-dir", str(tmp_path), "--dry-run"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert "1 runs, 1 to train on 1 process(es)" in out.stderr and "adacm_fer2013_ci_70_s0" in out.stderr


@pytest.mark.slow
def test_launcher_trains_a_grid_on_two_processes(tmp_path: Path) -> None:
    # the launcher's loop is the runner's train_one: rank 0 locks and stores, the other rank follows
    env = {**{k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")},
           "OMP_NUM_THREADS": "1", "ADACM_CACHE": str(tmp_path / "cache")}
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", "-m",
            "adacm.run.launch", "--protocol", "smoke", "--methods", "supervised", "--epochs", "1", "--iters", "2",
            "--results-dir", str(tmp_path / "results")]
    first = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr[-6000:]
    (stored,) = (tmp_path / "results").rglob("*.json")
    assert json.loads(stored.read_text())["world_size"] == 2
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "1 runs, 0 to train" in again.stderr, again.stderr[-3000:]
