"""Crash safety and bad input (issue 6): SIGKILL at random points loses nothing but the work
since the last checkpoint; a NaN loss stops with the step named; concurrent writers to one
results store lose nothing; every bad input of an experiment script is one line, exit 2,
no traceback and no result written."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from adacm.errors import UserError
from adacm.paths import data_dir
from adacm.run.protocols import get_protocol
from adacm.run.store import load_results
from adacm.run.trainer import Trainer

pytestmark = pytest.mark.slow  # every test here trains or starts processes

ROOT = Path(__file__).resolve().parent.parent

#: a child process that trains one short smoke run (1 thread, so every process computes alike)
CHILD = """
import json, sys
from dataclasses import replace
from pathlib import Path
import torch
torch.set_num_threads(1)
from adacm.data.datasets import load_dataset
from adacm.run.protocols import get_protocol
from adacm.run.trainer import Trainer
cfg = replace(get_protocol("smoke").config("fer2013_ci", "adacm", 70, seed=3), epochs=8, iters_per_epoch=5)
result = Trainer(cfg, load_dataset("fer2013_ci"), checkpoint_dir=Path(sys.argv[1]), progress=False).fit()
Path(sys.argv[2]).write_text(json.dumps(result))
"""

#: what may differ between an interrupted and an uninterrupted run: when and how long
TIMING = {"wall_time_s", "finished_at", "resumed", "time_s"}


def start_child(checkpoints: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(checkpoints), str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def without_timing(value: object) -> object:
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def test_sigkill_at_random_points_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    start = time.perf_counter()
    straight = start_child(tmp_path / "a", tmp_path / "a.json")
    assert straight.wait(timeout=300) == 0, straight.stderr.read().decode() if straight.stderr else ""
    duration = time.perf_counter() - start

    rng = random.Random(6)
    kills = 0
    epochs_at_kill = []
    for _ in range(6):  # kill at random moments of the run: start-up, training, evaluation, checkpointing
        child = start_child(tmp_path / "b", tmp_path / "b.json")
        try:
            child.wait(timeout=rng.uniform(0.25, 0.6) * duration)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            kills += 1
            ckpt = next((tmp_path / "b").glob("*/checkpoint.pt"), None)
            epochs_at_kill.append(torch.load(ckpt, weights_only=False)["epoch"] if ckpt else 0)
        if (tmp_path / "b.json").exists():
            break
    if not (tmp_path / "b.json").exists():
        assert start_child(tmp_path / "b", tmp_path / "b.json").wait(timeout=300) == 0
    assert kills >= 2 and max(epochs_at_kill) > 0, epochs_at_kill  # resumed from a real checkpoint at least once

    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert b["resumed"] and not a["resumed"]
    assert without_timing(b) == without_timing(a)
    assert not list((tmp_path / "b").glob("*/.checkpoint.*.tmp"))  # torn temp files of killed writers are swept


def test_nan_loss_names_the_step_and_keeps_the_last_good_checkpoint(ci_data, tmp_path: Path) -> None:
    cfg = replace(get_protocol("smoke").config("fer2013_ci", "fixmatch", 70, seed=0), epochs=3, iters_per_epoch=4)
    trainer = Trainer(cfg, ci_data, checkpoint_dir=tmp_path, progress=False)
    loss = trainer.algorithm.loss

    def poisoned(model: torch.nn.Module, batch):  # type: ignore[no-untyped-def]
        value, stats = loss(model, batch)
        return (value * float("nan") if batch.step == 6 else value), stats

    trainer.algorithm.loss = poisoned  # type: ignore[method-assign]
    with pytest.raises(UserError, match=r"loss became nan at step 7 of 12 \(epoch 2, iteration 3\)"):
        trainer.fit()
    state = torch.load(trainer.checkpoint_path, weights_only=False)
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


WRITER = """
import sys
from pathlib import Path
from adacm.run.config import RunConfig
from adacm.run.store import save_result

store, first = Path(sys.argv[1]), int(sys.argv[2])
for seed in range(first, first + 40):
    cfg = RunConfig("smoke", "fer2013_ci", "supervised", 70, seed)
    save_result(store, "race", {"key": cfg.key(), "config": cfg.to_dict(), "summary": {}, "payload": "x" * 20000})
    save_result(store, "race", {"key": "shared", "config": RunConfig("smoke", "fer2013_ci", "adacm", 70, 0).to_dict(),
                                "summary": {}, "payload": str(first) * 20000})
"""


def test_two_processes_writing_one_store_lose_nothing(tmp_path: Path) -> None:
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(first)], cwd=ROOT)
               for first in (0, 1000)]
    seen_partial = False
    while any(w.poll() is None for w in writers):  # read while they write: every file is whole
        for path in (tmp_path / "smoke" / "race").glob("*.json") if (tmp_path / "smoke").exists() else []:
            try:
                json.loads(path.read_text())
            except json.JSONDecodeError:
                seen_partial = True
            except FileNotFoundError:
                pass
    assert [w.returncode for w in writers] == [0, 0]
    results = load_results(tmp_path, "smoke", "race")
    assert not seen_partial
    assert len(results) == 81  # 2 × 40 distinct runs + the one both wrote
    assert not list((tmp_path / "smoke" / "race").glob(".*.tmp"))


def run_table2(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "experiments/table2.py", "--results-dir", str(tmp_path / "results"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def corrupt_data_dir(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "fer2013_ci.npz").write_bytes((data_dir() / "fer2013_ci.npz").read_bytes()[:5000])  # truncated
    return {"ADACM_DATA": str(folder)}


def truncated_init(tmp_path: Path) -> str:
    path = tmp_path / "weights.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    return str(path)


SMOKE_ARGS = ["--protocol", "smoke", "--methods", "adacm"]


def a_file(tmp_path: Path) -> str:
    path = tmp_path / "not_a_folder"
    path.write_text("x")
    return str(path)


def corrupt_stored_result(tmp_path: Path) -> Path:
    """A truncated result file where the smoke grid's Ada-CM run would be found."""
    from adacm.run.protocols import get_protocol

    cfg = get_protocol("smoke").config("fer2013_ci", "adacm", 70, 0)
    path = tmp_path / "results" / "smoke" / "table2" / f"{cfg.run_name()}.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"key": "')
    return path


@pytest.mark.parametrize("case,args,message", [
    ("unknown method", ["--methods", "fixmach"], "unknown method 'fixmach'"),
    ("unknown dataset", ["--dataset", "rafdb"], "runs on fer2013, sfew"),
    ("dataset not on disk", ["--protocol", "paper"], "dataset 'rafdb' not found: put RAF-DB/basic/"),
    ("unknown protocol", ["--protocol", "gpu"], "invalid choice: 'gpu'"),
    ("unknown model", [*SMOKE_ARGS, "--model", "resnet19"], "unknown model 'resnet19'"),
    ("unknown variant", ["--variant", "imagenet"], "has no variant 'imagenet'"),
    ("fewer labels than classes", ["--labels", "3"], "at least 7"),
    ("more labels than images", [*SMOKE_ARGS, "--labels", "700"], "has 448 labeled training images in all"),
    ("method option on supervised", ["--protocol", "smoke", "--methods", "supervised", "--set", "b=0.9"],
     "supervised takes no options"),
    ("B outside (0, 1]", [*SMOKE_ARGS, "--set", "b=1.5"], "B=1.5 must lie in (0, 1]"),
    ("gamma not above 1", [*SMOKE_ARGS, "--set", "gamma=0.5"], "gamma=0.5 must exceed 1"),
    ("unknown method option", [*SMOKE_ARGS, "--set", "tau=0.5"], "unexpected keyword argument 'tau'"),
    ("malformed --set", [*SMOKE_ARGS, "--set", "b"], "--set 'b' must look like NAME=VALUE"),
    ("negative learning rate", [*SMOKE_ARGS, "--lr", "-0.001"], "learning rate -0.001 must be positive"),
    ("zero epochs", [*SMOKE_ARGS, "--epochs", "0"], "epochs 0 must be at least 1"),
    ("dlib input too small", [*SMOKE_ARGS, "--model", "dlib_face", "--image-size", "64"], "at least 103 px"),
    ("missing init weights", [*SMOKE_ARGS, "--init", "/no/such/weights.pt"], "/no/such/weights.pt not found"),
    ("unreadable init weights", [*SMOKE_ARGS, "--init", truncated_init], "cannot read pretrained weights"),
    ("missing data dir", [*SMOKE_ARGS], "data directory /no/such/dir (--data-root or ADACM_DATA) is not a directory"),
    ("missing --data-root", [*SMOKE_ARGS, "--data-root", "/no/such/root"],
     "data directory /no/such/root (--data-root or ADACM_DATA) is not a directory"),
    ("corrupt data file", [*SMOKE_ARGS], "is not a readable .npz file"),
    ("bad shard", ["--shard", "3/2"], "need 0 ≤ I < N"),
    ("negative seed", [*SMOKE_ARGS, "--seeds", "-1"], "argument --seeds: -1 must be 0 or more"),
    ("results dir is a file", [*SMOKE_ARGS, "--results-dir", a_file], "is a file, not a folder"),
    ("option of the wrong type", [*SMOKE_ARGS, "--set", "gamma=abc"],
     "--set gamma=abc: adacm's option gamma takes a number, not 'abc'"),
    ("corrupt stored result", [*SMOKE_ARGS], "is not a readable result"),
    ("unknown precision", [*SMOKE_ARGS, "--precision", "fp16"], "invalid choice: 'fp16'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case: str, args: list, message: str, tmp_path: Path) -> None:
    args = [a(tmp_path) if callable(a) else a for a in args]
    env = {"ADACM_DATA": "/no/such/dir"} if case == "missing data dir" else \
        corrupt_data_dir(tmp_path) if case == "corrupt data file" else None
    corrupt = [corrupt_stored_result(tmp_path)] if case == "corrupt stored result" else []
    out = run_table2(tmp_path, "--seeds", "0", *args, env=env)
    assert out.returncode == 2, (case, out.stderr[-2000:])
    last = out.stderr.strip().splitlines()[-1]
    assert "error:" in last and message in last, (case, last)
    assert "Traceback" not in out.stderr, case
    assert list((tmp_path / "results").rglob("*.json")) == corrupt, case  # nothing half-done left in the store
    if corrupt:
        assert str(corrupt[0]) in last and corrupt[0].read_text() == '{"key": "'  # named, and left as it was


def test_bad_hyperparameters_are_caught_before_any_run_trains(tmp_path: Path) -> None:
    """A grid whose last run is invalid fails before its first (valid) run starts."""
    out = run_table2(tmp_path, *SMOKE_ARGS, "--seeds", "0", "--labels", "70", "700")
    assert out.returncode == 2 and "running" not in out.stderr, out.stderr[-2000:]
    assert not list((tmp_path / "results").rglob("*.json"))
