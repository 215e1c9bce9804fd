"""Aggregation of stored runs into the paper's tables (``adacm.report.tables``)."""

from __future__ import annotations

import pytest
from conftest import run

from adacm.report.paper_tables import WRN
from adacm.report.tables import (
    default_backbone,
    markdown_table,
    matches,
    metric_value,
    paper_layout,
)


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
