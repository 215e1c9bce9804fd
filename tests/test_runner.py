"""The runner (``adacm.run.runner``): shards partition the grid, a run's lock, which stored runs stand
when the weights they were made from changed, and the --jobs mode: runs trained side by side compute
what they compute alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import run

from adacm.paths import sha256_file
from adacm.run.protocols import get_protocol
from adacm.run.runner import (
    made_from_recorded_weights,
    plan_grid,
    run_configs,
    stored_to_reuse,
)
from adacm.run.store import save_result
from adacm.run.trainer import Trainer

SMOKE = get_protocol("smoke")


def metrics(result: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    epochs = [{k: v for k, v in e.items() if k != "time_s"} for e in result["epochs"]]
    return epochs, result["predictions"]


@pytest.mark.slow
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


def test_shards_partition_the_grid() -> None:
    from adacm.run.runner import in_shard

    configs = [SMOKE.config("fer2013_ci", m, 70, seed=s) for m in ("supervised", "fixmatch", "adacm") for s in range(5)]
    owners = [[i for i in range(3) if in_shard(c, (i, 3))] for c in configs]
    assert all(len(o) == 1 for o in owners)  # every run in exactly one shard
    assert len({o[0] for o in owners}) > 1


def test_run_lock_excludes_a_second_holder_and_recovers_stale_locks(tmp_path: Path) -> None:
    from adacm.run.runner import run_lock

    with run_lock(tmp_path / "run") as first:
        with run_lock(tmp_path / "run") as second:
            assert first and not second
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "lock").write_text("999999999")  # no such process
    with run_lock(tmp_path / "run") as again:
        assert again


def test_a_run_from_since_changed_weights_is_trained_again(tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"first")
    r = run("adacm", 0, 30.0, init=str(weights))
    cfg = get_protocol("cpu").config("fer2013", "adacm", 100, 0, init=str(weights))
    r["init_sha256"] = sha256_file(weights)
    assert made_from_recorded_weights(r, cfg)
    weights.write_bytes(b"second, e.g. after `adacm pretrain` went on")
    assert not made_from_recorded_weights(r, cfg)
    weights.unlink()  # gone: the stored run stands
    assert made_from_recorded_weights(r, cfg)


def test_the_plan_sets_aside_a_stored_run_from_other_weights_and_says_so(tmp_path: Path, capsys) -> None:
    """One decision (``stored_to_reuse``) serves the planner, each run's lock and the torchrun launcher."""
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"first")
    cfg = get_protocol("cpu").config("fer2013", "adacm", 100, 0, init=str(weights))
    save_result(tmp_path / "results", "t", run("adacm", 0, 30.0, init=str(weights)) | {"init_sha256": sha256_file(weights)})
    assert stored_to_reuse(tmp_path / "results", cfg) is not None
    assert plan_grid([cfg], tmp_path / "results").to_train == []
    weights.write_bytes(b"second")
    assert stored_to_reuse(tmp_path / "results", cfg) is None
    assert capsys.readouterr().err == ""
    assert plan_grid([cfg], tmp_path / "results").to_train == [cfg]
    assert "stored from other" in capsys.readouterr().err


def test_runs_from_any_recorded_build_stand_whichever_build_is_here(tmp_path: Path, monkeypatch) -> None:
    """SimCLR runs: a run from a recorded build (or a digest its record names as the same weights)
    is kept even when this machine's cache holds another build; a run from an unrecorded file is not."""
    import json

    monkeypatch.setenv("ADACM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("adacm.run.pretrain.PRETRAIN_RECORDS", tmp_path / "records")
    (tmp_path / "records").mkdir()
    cfg = get_protocol("cpu").config("fer2013", "adacm", 100, 0)
    r = run("adacm", 0, 30.0) | {"init_sha256": "a" * 64}
    assert not made_from_recorded_weights(r, cfg)  # no record, no file
    record = {"name": "simclr_resnet18", "model": "resnet18", "sha256": "b" * 64, "same_weights_as": {"a" * 64: "why"}}
    (tmp_path / "records" / "simclr_resnet18_bbbbbbbbbbbb.json").write_text(json.dumps(record))
    assert made_from_recorded_weights(r, cfg)
    assert made_from_recorded_weights(r | {"init_sha256": "b" * 64}, cfg)
    assert not made_from_recorded_weights(r | {"init_sha256": "c" * 64}, cfg)
    here = tmp_path / "cache" / "simclr_resnet18.pt"  # this machine's own, not yet recorded, build
    here.parent.mkdir(exist_ok=True)
    here.write_bytes(b"another build")
    assert made_from_recorded_weights(r | {"init_sha256": sha256_file(here)}, cfg)
    assert made_from_recorded_weights(r, cfg)  # the recorded build's runs still stand


@pytest.mark.slow
def test_rerun_trains_a_stored_run_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADACM_CACHE", str(tmp_path / "cache"))
    fits: list[str] = []
    fit = Trainer.fit
    monkeypatch.setattr(Trainer, "fit", lambda self: fits.append(self.cfg.key()) or fit(self))
    cfg = replace(SMOKE.config("fer2013_ci", "supervised", 70, seed=0), epochs=1, iters_per_epoch=1)
    for rerun in (False, False, True):
        run_configs([cfg], tmp_path / "results", "t", rerun=rerun, precision="fp32")
    assert fits == [cfg.key(), cfg.key()]  # trained, reused, trained again
