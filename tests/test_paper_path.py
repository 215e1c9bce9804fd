"""The `paper` protocol end to end on CPU: RAF-DB in its owners' layout at 224 px, MS-Celeb-style
weights, fp32, a few steps: it trains, records, resumes and renders a table.

The tree is synthetic (the CI faces upsampled); RAF-DB and the MS-Celeb-1M weights are users'.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torchvision

from adacm.data.dataset import NUM_CLASSES
from adacm.data.datasets import load_dataset
from adacm.data.synthetic import write_ckplus_subset, write_rafdb_tree
from adacm.models.resnet import msceleb_layout
from adacm.paths import data_dir, sha256_file
from adacm.run.protocols import get_protocol
from adacm.run.trainer import Trainer
from adacm.studies.device_check import paper_command

pytestmark = pytest.mark.slow

TRAIN_PER_CLASS, TEST_PER_CLASS = 4, 2
LABELS = 14  # 2 per class
CKPLUS_PER_CLASS = 4  # Table 4's cross-dataset evaluation runs on a few CK+ faces


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding RAF-DB/basic (label file, aligned 224 px JPEGs) and a few CK+ faces."""
    root = tmp_path_factory.mktemp("data")
    write_rafdb_tree(root, load_dataset("fer2013_ci").train, TRAIN_PER_CLASS, TEST_PER_CLASS)
    write_ckplus_subset(data_dir() / "ckplus.npz", root / "ckplus.npz", CKPLUS_PER_CLASS)
    return root


@pytest.fixture(scope="module")
def msceleb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet18_msceleb.pth"
    torch.save(msceleb_layout(torchvision.models.resnet18(weights=None, num_classes=16).state_dict()), path)
    return path


def test_paper_protocol_trains_records_resumes_and_renders(tree: Path, msceleb: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    monkeypatch.delenv("ADACM_PRECISION", raising=False)  # the protocol's own default is what is checked, here too
    env = {**os.environ, "ADACM_CACHE": str(tmp_path / "cache")}
    command = paper_command(tree, msceleb, LABELS, ["adacm"], epochs=2, iters=1, results_dir=results)
    trained = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "| Ada-CM (`adacm`) | " in trained.stdout

    [path] = (results / "paper" / "table2").glob("adacm_rafdb_14_s0_*.json")
    stored = json.loads(path.read_text())
    cfg = stored["config"]
    assert (cfg["image_size"], cfg["init"], cfg["joint_forward"], cfg["ema_decay"]) == (224, str(msceleb), False, 0.999)
    assert stored["numerics"]["precision"] == "fp32"  # the official code's numerics unless bf16 is asked for
    assert stored["init_sha256"] == sha256_file(msceleb)
    assert any(k.startswith("rafdb:") for k in stored["data_sha256"])
    assert stored["n_unlabeled"] == NUM_CLASSES * TRAIN_PER_CLASS - LABELS
    assert "ckplus" in stored["cross_dataset"]

    again = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and "1 stored, 0 to train" in again.stderr and again.stdout == trained.stdout

    # killed after its first epoch and started again, the run ends where the uninterrupted one did
    monkeypatch.setenv("ADACM_DATA", str(tree))
    torch.set_num_threads(stored["machine"]["threads"])
    protocol = get_protocol("paper")
    run = replace(protocol.config("rafdb", "adacm", LABELS, 0, init=str(msceleb)), epochs=2, iters_per_epoch=1)
    assert run.key() == stored["key"]
    first = Trainer(run, checkpoint_dir=tmp_path / "ckpt", progress=False)
    save = first.save_checkpoint

    def save_then_die() -> None:
        save()
        raise Interrupted

    first.save_checkpoint = save_then_die  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        first.fit()
    resumed = Trainer(run, checkpoint_dir=tmp_path / "ckpt", progress=False).fit()
    strip = lambda h: [{k: v for k, v in r.items() if k != "time_s"} for r in h]  # noqa: E731
    assert resumed["resumed"]
    assert strip(resumed["epochs"]) == strip(stored["epochs"])
