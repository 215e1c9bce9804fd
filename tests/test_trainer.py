"""The trainer (``adacm.run.trainer``) end to end on the tiny FER2013 subset: resume after an
interruption or a SIGKILL at random points, a NaN loss, learning above chance, the result's provenance."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import binom

from adacm.algorithms import METHODS
from adacm.algorithms.thresholds import FixedThreshold
from adacm.data.dataset import NUM_CLASSES, Dataset, Part
from adacm.data.datasets import load_dataset
from adacm.errors import UserError
from adacm.run.protocols import get_protocol
from adacm.run.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
SMOKE = get_protocol("smoke")
CHANCE_TEST_PER_CLASS = 150


@pytest.fixture(scope="module")
def chance_data(ci_data: Dataset) -> Dataset:
    """The CI subset's training faces, tested on up to 150 FER2013 test faces per class: enough
    faces that the test-set noise (±1.4 points) is small beside the margin over the bar."""
    test = load_dataset("fer2013").test
    keep = np.sort(np.concatenate([np.flatnonzero(test.y == c)[:CHANCE_TEST_PER_CLASS] for c in range(NUM_CLASSES)]))
    return replace(ci_data, test=Part(test.x[keep], test.y[keep]))


class Interrupted(Exception):
    pass


@pytest.mark.slow
def test_resume_gives_the_same_metrics_as_an_uninterrupted_run(ci_data, tmp_path: Path) -> None:
    cfg = replace(SMOKE.config("fer2013_ci", "adacm", 70, seed=1), epochs=3, iters_per_epoch=4)
    straight = Trainer(cfg, ci_data, checkpoint_dir=tmp_path / "a", progress=False).fit()

    first = Trainer(cfg, ci_data, checkpoint_dir=tmp_path / "b", progress=False)
    save = first.save_checkpoint

    def save_then_die() -> None:
        save()
        if first.epoch == 1:
            raise Interrupted

    first.save_checkpoint = save_then_die  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        first.fit()
    resumed = Trainer(cfg, ci_data, checkpoint_dir=tmp_path / "b", progress=False).fit()
    assert resumed["resumed"] and not straight["resumed"]
    strip = lambda h: [{k: v for k, v in r.items() if k != "time_s"} for r in h]  # noqa: E731
    assert strip(resumed["epochs"]) == strip(straight["epochs"])


#: methods that sit at the bar within this budget, recorded with what keeps them there (checked
#: instead of the bar, which they straddle: on 955 faces at the last epoch FlexMatch 18.8% / 18.0%
#: and MarginMix 20.1% / 18.7% in bf16 at 2 threads / fp32 at 1 thread, bar 17.9%). FlexMatch: no
#: prediction reaches τ = 0.95, so its warm-up keeps every class threshold at 0 and every unlabeled
#: face is pseudo-labeled (mask rate 1 in every epoch). MarginMix: its centroid self-labels are right
#: for 14–19% of the unlabeled faces and λu = 75 pulls the classifier towards them: the labeled loss
#: stays at ln 7 (1.919–1.936 measured); see the module's docstring.
AT_THE_BAR: dict[str, Callable[[list[dict]], bool]] = {
    "flexmatch": lambda epochs: all(e["mask_rate"] == 1.0 for e in epochs),
    "marginmix": lambda epochs: all(abs(e["loss_x"] - math.log(7)) < 0.05 for e in epochs),
}


#: registry entries that are another entry's class with other options (Table 1's ablations); their
#: losses are checked by hand in test_adacm, and each chance run costs ~40 s of CI
SAME_CLASS_AS_ANOTHER = {"adacm_lu", "adacm_lc"}


@pytest.mark.slow
@pytest.mark.parametrize("method", [m for m in METHODS if m not in SAME_CLASS_AS_ANOTHER])
def test_smoke_training_beats_chance(method: str, chance_data: Dataset, tmp_path: Path) -> None:
    """A short run of every method from a pretrained backbone on the 448 balanced training faces
    (224 labeled and 224 unlabeled; all 448 labeled for the Baseline), 4 epochs of 25 steps, must
    beat 1/7 at its last epoch on FER2013 test faces, up to 150 per class (955).

    Bar: the accuracy whose probability under guessing (Binomial(955, 1/7)) is below 0.1%: 17.9%.
    Its margin, measured on an AMD EPYC for the Baseline, FixMatch, Ada-CM and Ada-CM (Lc) in
    fp32 and bf16 at 1 and 2 threads (16 runs, docs/operations.md): the last epoch at 20.8-30.7%.
    (On the 112 faces of the CI subset, selected on validation, the same runs swung by ±10 faces
    and an Intel Xeon fell below that bar.) dlib's face network, not the `cpu` default (SimCLR): its
    weights ship in a pip package, so a fresh clone has them without the hour of pretraining.
    """
    n_labels = 448 if method == "supervised" else 224
    cfg = replace(SMOKE.config("fer2013_ci", method, n_labels, seed=0, model="dlib_face", init="face", image_size=112),
                  epochs=4, iters_per_epoch=25)
    result = Trainer(cfg, chance_data, checkpoint_dir=tmp_path, progress=False).fit()
    if method in AT_THE_BAR:
        assert AT_THE_BAR[method](result["epochs"]), result["epochs"]
        return
    n = len(chance_data.test)
    bar = 100 * binom.ppf(0.999, n, 1 / 7) / n
    assert result["summary"]["test_acc_last"] > bar, (result["summary"], bar)


@pytest.mark.slow
def test_result_records_provenance(ci_data, tmp_path: Path) -> None:
    cfg = replace(SMOKE.config("fer2013_ci", "fixmatch", 70, seed=0), epochs=1, iters_per_epoch=2)
    r = Trainer(cfg, ci_data, checkpoint_dir=tmp_path, progress=False).fit()
    assert r["key"] == cfg.key() and r["config"]["method"] == "fixmatch"
    assert len(r["split_hash"]) == 16 and "fer2013_ci.npz" in r["data_sha256"]
    assert {"test_acc_last", "test_acc_best_val", "test_acc_best_test_oracle"} <= set(r["summary"])
    assert {"mask_rate", "pl_acc_all", "threshold", "val_acc", "test_acc"} <= set(r["epochs"][0])
    json.dumps(r)  # serialisable


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


def kill_after_first_checkpoint(child: subprocess.Popen, folder: Path) -> None:
    """SIGKILL ``child`` as soon as its checkpoint holds a finished epoch; fail if it never does."""
    seen = None
    deadline = time.monotonic() + 300
    while child.poll() is None and time.monotonic() < deadline:
        ckpt = next(folder.glob("*/checkpoint.pt"), None)
        try:  # written by rename: a file opened is a whole one, and may be gone again by now
            stamp = ckpt.stat().st_mtime_ns if ckpt else None
            epoch = torch.load(ckpt, weights_only=False)["epoch"] if ckpt and stamp != seen else 0
        except FileNotFoundError:
            stamp, epoch = None, 0
        seen = stamp
        if epoch > 0:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            return
        time.sleep(0.02)
    raise AssertionError(f"the run ended (exit {child.poll()}) before a checkpoint could be seen")


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    start = time.perf_counter()
    straight = start_child(tmp_path / "a", tmp_path / "a.json")
    assert straight.wait(timeout=300) == 0, straight.stderr.read().decode() if straight.stderr else ""
    duration = time.perf_counter() - start

    # one kill right after a checkpoint, so a resume from a real one is sure whatever the machine's load
    kill_after_first_checkpoint(start_child(tmp_path / "b", tmp_path / "b.json"), tmp_path / "b")
    rng = random.Random(6)
    for _ in range(5):  # then at random moments: start-up, training, evaluation, checkpointing
        child = start_child(tmp_path / "b", tmp_path / "b.json")
        try:
            child.wait(timeout=rng.uniform(0.25, 0.6) * duration)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        if (tmp_path / "b.json").exists():
            break
    if not (tmp_path / "b.json").exists():
        assert start_child(tmp_path / "b", tmp_path / "b.json").wait(timeout=300) == 0

    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert b["resumed"] and not a["resumed"]
    assert without_timing(b) == without_timing(a)
    assert not list((tmp_path / "b").glob("*/.checkpoint.*.tmp"))  # torn temp files of killed writers are swept


@pytest.mark.slow
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


@pytest.mark.slow
def test_the_labeled_pass_runs_only_for_thresholds_that_learn_from_it(ci_data, tmp_path: Path, monkeypatch) -> None:
    # FixMatch's fixed threshold learns nothing from the labeled set: predicting it anyway (as every
    # run once did) must change nothing the run reports
    cfg = replace(SMOKE.config("fer2013_ci", "fixmatch", 70, seed=0), epochs=2, iters_per_epoch=3)
    cut = Trainer(cfg, ci_data, checkpoint_dir=tmp_path / "cut", progress=False).fit()
    monkeypatch.setattr(FixedThreshold, "learns_from_labeled", True)
    full = Trainer(cfg, ci_data, checkpoint_dir=tmp_path / "full", progress=False).fit()
    assert all("labeled_acc" not in e for e in cut["epochs"]) and all("labeled_acc" in e for e in full["epochs"])
    drop = ("labeled_acc", "time_s")
    assert [{k: v for k, v in e.items() if k not in drop} for e in cut["epochs"]] == \
        [{k: v for k, v in e.items() if k not in drop} for e in full["epochs"]]
    assert cut["summary"] == full["summary"] and cut["predictions"] == full["predictions"]
