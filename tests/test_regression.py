"""CI regression against the stored results.

* ``smoke`` results are re-trained from their stored config and must reproduce within the
  stated tolerance (different CPUs may pick different oneDNN kernels, so not bit-exact).
* Every stored ``cpu`` result must still describe this data and split: its data fingerprint
  and split hash are recomputed (cheap, no training).
* The tables in the README must be exactly what the stored results aggregate to, so no
  number in the README can be edited by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from adacm.config import RunConfig
from adacm.data.datasets import NUM_CLASSES, load_dataset
from adacm.data.splits import labeled_indices, split_hash
from adacm.results import load_results
from adacm.train import Trainer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
#: test accuracy tolerance for re-running a smoke result: 4 of the 112 test faces
SMOKE_TOLERANCE_PP = 100 * 4 / 112

SMOKE = load_results(RESULTS, "smoke")
CPU = load_results(RESULTS, "cpu")


def test_stored_results_exist() -> None:
    assert SMOKE, "no stored smoke results: run `python experiments/table2.py --protocol smoke` and commit results/smoke"
    assert CPU, "no stored cpu results under results/cpu"


@pytest.fixture
def stored_threads(request: pytest.FixtureRequest) -> None:
    """Run with the thread count the result was made with (its ``device`` says "N threads"):
    another count changes the order of floating-point reductions, and near chance a tiny
    difference flips many predictions. Other tests set their own counts, so restore it after."""
    before = torch.get_num_threads()
    match = re.search(r"(\d+) threads", request.node.callspec.params["stored"]["device"])
    torch.set_num_threads(int(match.group(1)) if match else before)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("stored", SMOKE, ids=[r["name"] for r in SMOKE])
def test_smoke_result_reproduces(stored: dict, tmp_path: Path, stored_threads: None) -> None:
    cfg = RunConfig(**stored["config"])
    fresh = Trainer(cfg, checkpoint_dir=tmp_path, progress=False).fit()
    assert fresh["split_hash"] == stored["split_hash"]
    assert fresh["data_sha256"] == stored["data_sha256"]
    for new, old in zip(fresh["epochs"], stored["epochs"]):
        assert abs(new["test_acc"] - old["test_acc"]) <= SMOKE_TOLERANCE_PP, (new["epoch"], new["test_acc"], old["test_acc"])


@pytest.mark.parametrize("stored", CPU, ids=[r["name"] for r in CPU])
def test_cpu_result_matches_data_and_split(stored: dict) -> None:
    cfg = RunConfig(**stored["config"])
    assert stored["key"] == cfg.key()
    data = load_dataset(cfg.dataset)
    assert stored["data_sha256"] == data.fingerprint
    idx = labeled_indices(data.train.y, cfg.n_labels, cfg.seed, cfg.dataset, NUM_CLASSES)
    assert stored["split_hash"] == split_hash(idx)
    assert len(stored["epochs"]) == cfg.epochs
    assert stored["summary"]["test_acc_last"] == stored["epochs"][-1]["test_acc"]
    assert np.isfinite([e["loss_x"] for e in stored["epochs"]]).all()


def readme_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"<!-- generated: (.+?) -->\n(.*?)<!-- /generated -->", text, flags=re.S)


def test_readme_tables_are_generated_from_stored_results() -> None:
    from adacm.report import render

    blocks = readme_blocks()
    assert blocks, "README has no generated blocks"
    for command, body in blocks:
        assert render(json.loads(command)).strip() == body.strip(), f"README block {command} is stale: run `adacm report`"
