"""The runner's --jobs mode: runs trained side by side compute what they compute alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adacm.run.protocols import get_protocol
from adacm.run.runner import run_configs

pytestmark = pytest.mark.slow


def metrics(result: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    epochs = [{k: v for k, v in e.items() if k != "time_s"} for e in result["epochs"]]
    return epochs, result["predictions"]


def test_a_run_beside_another_computes_what_it_computes_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADACM_CACHE", str(tmp_path / "cache"))
    smoke = get_protocol("smoke")
    run, other = (smoke.config("fer2013_ci", method, 70, 0, epochs=2, iters_per_epoch=4)
                  for method in ("fixmatch", "supervised"))
    alone = run_configs([run], tmp_path / "alone", "jobs", jobs=2)
    beside = run_configs([run, other], tmp_path / "beside", "jobs", jobs=2)
    assert len(alone) == 1 and len(beside) == 2
    assert beside[0]["machine"]["concurrent_runs"] == 2
    assert metrics(alone[0]) == metrics(beside[0])
