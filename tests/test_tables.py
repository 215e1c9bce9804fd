"""Aggregation of stored runs into the paper's tables, Fig. 3's sweeps and the results store's views."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from adacm.paths import sha256_file
from adacm.report.paper_tables import WRN
from adacm.report.sweeps import sweep_configs, sweep_points, sweep_report
from adacm.report.tables import (
    default_backbone,
    markdown_table,
    matches,
    metric_value,
    paper_layout,
)
from adacm.run.protocols import get_protocol
from adacm.run.runner import made_from_recorded_weights
from adacm.run.store import load_results, save_result


def run(method: str, seed: int, acc: float, n: int = 100, ck: float | None = None, **fields) -> dict:
    cfg = get_protocol("cpu").config("fer2013", method, n, seed, **fields)
    out = {"key": cfg.key(), "name": cfg.run_name(), "config": cfg.to_dict(), "summary": {"test_acc_last": acc}}
    if ck is not None:
        out["cross_dataset"] = {"ckplus": {"acc": ck}}
    return out


def test_a_run_stored_by_two_experiments_counts_once(tmp_path: Path) -> None:
    r = run("adacm", 0, 30.0)
    save_result(tmp_path, "table2", r)
    save_result(tmp_path, "pilot", r)
    assert len(load_results(tmp_path, "cpu")) == 1 and len(load_results(tmp_path, "cpu", "pilot")) == 1


def test_default_runs_exclude_variants_sweeps_and_trainer_ablations() -> None:
    default = default_backbone("cpu")
    assert matches(run("adacm", 0, 1.0), default)
    assert not matches(run("adacm", 0, 1.0, method_overrides={"b": 0.9}), default)
    assert not matches(run("adacm", 0, 1.0, joint_forward=False), default)
    assert not matches(run("adacm", 0, 1.0, model="dlib_face", init="face", image_size=112), default)  # a variant
    old = run("adacm", 0, 1.0, head_lr_mult=1.0)
    del old["config"]["head_lr_mult"]  # stored before the field existed: reads as its default
    assert matches(old, {"head_lr_mult": 1.0}) and not matches(old, default)


def test_table4_columns_are_backbones_and_its_cells_ckplus_accuracy() -> None:
    layout = paper_layout(4, "cpu")
    assert layout.by == "model" and layout.columns == [("wrn28_2", 100), ("wrn28_2", 4000),
                                                       ("resnet18", 100), ("resnet18", 4000)]
    runs = [run("adacm", s, 30.0, 4000, ck=50.0 + s) for s in range(3)] + [run("supervised", 0, 30.0, 4000)]
    assert metric_value(runs[0], "ckplus_acc") == 50.0 and metric_value(runs[-1], "ckplus_acc") is None
    table = markdown_table(runs, layout.methods, layout.columns, "ckplus_acc", 4, "model")
    row = next(line for line in table.splitlines() if "(`adacm`)" in line).split(" | ")
    assert row[5:9] == ["not run", "76.92 ± 3.57", "51.00 ± 1.00 (n=3)", "85.32 ± 0.98 |"]  # ours vs the paper's
    assert "| Baseline (`supervised`) | not run |" in table  # no CK+ evaluation stored: not a number


def test_table4_takes_each_backbone_as_the_protocol_trains_it() -> None:
    """The ResNet-18 columns hold the protocol's default start only (not a pilot's scratch variant),
    the WRN-28-2 columns WRN-28-2 with the protocol's settings for it (cpu: batch-norm momentum 0.01)."""
    layout = paper_layout(4, "cpu")
    assert layout.admits(run("adacm", 0, 30.0, 4000)) and layout.admits(run("adacm", 0, 30.0, 4000, **WRN))
    assert run("adacm", 0, 30.0, 4000, **WRN)["config"]["bn_momentum"] == 0.01
    assert not layout.admits(run("adacm", 0, 30.0, 4000, init="scratch"))  # a pilot variant
    assert not layout.admits(run("adacm", 0, 30.0, 4000, **WRN, bn_momentum=0.001))  # another WRN setting
    resnet = run("adacm", 0, 30.0, 4000)
    del resnet["config"]["bn_momentum"]  # stored before the field existed: reads as its default
    assert layout.admits(resnet)  # (that stored keys survive the new field: test_regression checks every one)


def test_metrics_table_sets_several_metrics_of_one_setting_side_by_side() -> None:
    from adacm.report.tables import metrics_table

    runs = [run("adacm", s, 50.0 + s, 4000, ck=70.0 + 2 * s) for s in range(3)] + [run("supervised", 0, 40.0, 4000)]
    rows = metrics_table(runs, ["supervised", "adacm", "fixmatch"], ["ckplus_acc", "test_acc_last"]).splitlines()
    assert rows[0] == "| Method | ckplus_acc | test_acc_last |"
    assert rows[2] == "| Baseline (`supervised`) | not run | 40.00 ± 0.00 (n=1) |"  # no CK+ evaluation stored
    assert rows[3] == "| Ada-CM (`adacm`) | 72.00 ± 2.00 (n=3) | 51.00 ± 1.00 (n=3) |"
    assert rows[4] == "| FixMatch (`fixmatch`) | not run | not run |"


@pytest.mark.parametrize("table,columns", [(1, [("fer2013", 100), ("sfew", 400)]),
                                           (3, [("fer2013", 400), ("fer2013", 1000), ("fer2013", 4000)])])
def test_paper_columns_map_to_the_protocols_stand_ins(table: int, columns: list) -> None:
    layout = paper_layout(table, "cpu")
    assert layout.columns == columns and layout.methods[0] == "supervised"
    assert ([b["model"] for b in layout.backbones] == ["wrn28_2"]) == (table == 3)


def test_sweep_points_pick_the_default_run_and_one_value_each() -> None:
    base = [get_protocol("cpu").config("fer2013", "adacm", 100, s) for s in range(2)]
    grid = sweep_configs(base)
    assert [v for v, _ in grid["gamma"]] == [1.5, 2.0, math.e, 3.0]
    assert dict(grid["b"])[0.97] == base  # the default point is the plain Ada-CM run
    runs = [run("adacm", s, 30.0 + s) for s in range(2)] + [run("adacm", s, 20.0, method_overrides={"b": 0.9})
                                                           for s in range(2)]
    runs.append(run("adacm", 0, 99.0, method_overrides={"b": 0.9}, lr=1e-3))  # another setting: ignored
    runs.append(run("adacm", 2, 40.0, method_overrides={"b": 0.9}))  # a seed the default lacks
    points = sweep_points(runs, base[0].to_dict())
    b = {p.value: p for p in points["b"]}
    assert set(b) == {0.9, 0.97} and (b[0.9].agg.mean, b[0.9].agg.n) == (80 / 3, 3) and b[0.97].agg.mean == 30.5
    assert b[0.9].by_seed == {0: 20.0, 1: 20.0, 2: 40.0}
    gap = b[0.9].gap(b[0.97])  # paired over seeds 0 and 1 only: 20 − 30 and 20 − 31
    assert (gap.mean, gap.n) == (-10.5, 2)
    assert [p.value for p in points["gamma"]] == [math.e]
    rows = sweep_report(points).splitlines()
    assert "| b | 0.900 | 26.67 ± 11.55 (n=3) | s0 20.00, s1 20.00, s2 40.00 | -10.50 ± 0.71 pp (n=2) |" in rows
    assert "| b | 0.970 | 30.50 ± 0.71 (n=2) | s0 30.00, s1 31.00 | default |" in rows


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


def test_a_rebuild_with_the_same_digest_is_added_to_its_record(tmp_path: Path, monkeypatch) -> None:
    import json

    from adacm.run.pretrain import build_of, record_build

    monkeypatch.setattr("adacm.run.pretrain.PRETRAIN_RECORDS", tmp_path)
    meta = {"name": "simclr_resnet18", "model": "resnet18", "sha256": "d" * 64, "machine": {"cpu_model": "A"}}
    path = record_build(meta, {"machine": {"cpu_model": "A"}})
    record_build(meta, {"machine": {"cpu_model": "B"}})
    record = json.loads(path.read_text())
    assert path.name == "simclr_resnet18_dddddddddddd.json"
    assert record["machine"] == {"cpu_model": "A"} and record["rebuilds"] == [{"machine": {"cpu_model": "B"}}]
    assert build_of("d" * 64) == "d" * 64 and build_of("e" * 64) is None


def test_saved_weights_have_the_same_bytes_whoever_writes_them(tmp_path: Path) -> None:
    import torch

    from adacm.models.weights import save_state

    state = {"w": torch.arange(6.0).reshape(2, 3)}
    digests = {save_state(state, tmp_path / name) for name in ("a.pt", "b.12345.pt")}
    assert len(digests) == 1 and digests == {sha256_file(tmp_path / "a.pt")}
    assert torch.equal(torch.load(tmp_path / "b.12345.pt")["w"], state["w"])


def test_pilot_view_gathers_every_seed_and_experiment_of_the_pilot_variants(tmp_path: Path) -> None:
    from adacm.report.pilot import stored_pilot_runs
    from adacm.report.tables import pilot_summary

    def pilot_run(method: str, seed: int, acc: float, mask: float, **fields) -> dict:
        r = run(method, seed, acc, 4000, **fields)
        r["epochs"] = [{"mask_rate": mask, "pl_acc_masked": 0.8}]
        return r

    face = {"model": "dlib_face", "init": "face", "image_size": 112, "head_lr_mult": 10.0}
    save_result(tmp_path, "pilot", pilot_run("adacm", 0, 40.0, 0.1, **face))
    save_result(tmp_path, "pilot", pilot_run("adacm", 1, 44.0, 0.3, **face))
    save_result(tmp_path, "table2", pilot_run("adacm", 0, 50.0, 0.2))  # the default variant is Table 2's
    save_result(tmp_path, "fig3", pilot_run("adacm", 0, 1.0, 0.2, method_overrides={"b": 0.9}))  # a sweep: not pilot
    save_result(tmp_path, "pilot", pilot_run("adacm", 0, 1.0, 0.2, **{**face, "head_lr_mult": 3.0}))  # not a variant
    runs = stored_pilot_runs(tmp_path, "cpu", 4000)
    assert sorted(r["summary"]["test_acc_last"] for r in runs) == [40.0, 44.0, 50.0]
    rows = pilot_summary(runs).splitlines()
    assert "| dlib_face:face:112px, head lr ×10 | 4000 | adacm | 2 | 42.00 ± 2.83 | 20.00 ± 14.14% | 80.00 ± 0.00% |" in rows
    assert "| resnet18:simclr:48px, head lr ×10 | 4000 | adacm | 1 | 50.00 ± 0.00 | 20.00 ± 0.00% | 80.00 ± 0.00% |" in rows
