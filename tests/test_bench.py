"""The throughput benchmark (issue 5) in a tiny configuration, and its epoch profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from adacm.run.protocols import get_protocol
from adacm.run.trainer import pick_device
from adacm.studies.bench import compile_net_seconds, profile_epoch

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_tiny_bench_writes_its_report(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "adacm.studies.bench", "--sizes", "48", "--iters", "2", "--warmup", "1", "--steps",
                          "--out", str(tmp_path)], cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    [path] = tmp_path.glob("bench_*.json")
    report = json.loads(path.read_text())
    assert {"date", "host", "cpu_model", "device", "threads", "torch", "machine", "code", "settings", "images_per_s",
            "goal_48", "goal_48_met"} <= set(report)
    assert report["machine"]["cpu_model"] == report["cpu_model"] and "native_bf16" in report["machine"]
    assert report["threads"] == 1 and report["settings"]["images_per_iteration"] == 64
    speeds = report["images_per_s"]["48"]
    steps = {"suite in fp32", "suite in bf16", "suite without one joint forward"}
    ceilings = {f"ceiling {p}/{m}" for p in ("fp32", "bf16") for m in ("contiguous", "channels_last")}
    numerics = speeds.pop("suite numerics")
    assert numerics["precision"] in ("fp32", "bf16")
    assert set(speeds) == {"suite", "official", "ceiling", "suite/official", "suite/ceiling"} | steps | ceilings
    assert all(v > 0 for v in speeds.values())
    assert speeds["ceiling"] == max(speeds[c] for c in ceilings)  # the fastest numerics, not a fixed one
    assert "without one joint forward" in out.stdout
    assert "suite/official" in out.stdout and str(path) in out.stdout


@pytest.mark.slow
def test_profile_splits_one_epoch(ci_data) -> None:
    cfg = replace(get_protocol("smoke").config("fer2013_ci", "adacm", 70, seed=0), epochs=1, iters_per_epoch=2)
    backward = torch.Tensor.backward
    profile = profile_epoch(cfg, ci_data, pick_device())
    assert torch.Tensor.backward is backward  # the wrapper is gone again
    parts = profile["parts"]
    assert {"augmentation/batching", "forward (+ loss)", "backward", "optimizer (Adam)", "EMA (+ weight decay)",
            "margin update", "evaluation (EMA on labeled, val, test)", "checkpoint", "other"} == set(parts)
    assert all(p["s"] > 0 for name, p in parts.items() if name != "other")
    assert abs(sum(p["share"] for p in parts.values()) - 1) < 1e-9
    assert parts["other"]["share"] > -0.01  # exclusive times: nothing is counted twice


def test_compile_pays_only_when_its_saving_over_a_whole_run_exceeds_its_compile_time() -> None:
    # Baseline sees labeled images only: 10 × 160 steps of 64 images, 102,400 images
    cfg = replace(get_protocol("cpu").config("fer2013", "supervised", 400, 0), epochs=10, iters_per_epoch=160,
                  batch_labeled=64)
    plain, compiled = 512.0, 640.0  # images/s: 200 s and 160 s for the run's images
    assert compile_net_seconds({"suite": plain, "suite compiled": compiled, "compile seconds": 30.0}, cfg) == 10.0
    assert compile_net_seconds({"suite": plain, "suite compiled": compiled, "compile seconds": 50.0}, cfg) == -10.0


def test_the_bench_table_names_a_compile_cost_as_a_cost(tmp_path: Path) -> None:
    from adacm.report.documents import bench_table

    speeds = {"suite": 300.0, "official": 180.0, "ceiling": 330.0, "suite/official": 1.67, "suite/ceiling": 0.91,
              "suite compiled": 301.0, "compile seconds": 38.0}
    (tmp_path / "bench").mkdir()
    for net, name in ((-39.0, "a"), (12.0, "b")):
        record = {"date": "2026-12-01T16:54:00", "machine": {"cpu_model": "AMD EPYC"},
                  "images_per_s": {"48": {**speeds, "compile net seconds per run": net}}}
        (tmp_path / "bench" / f"bench_{name}.json").write_text(json.dumps(record))
    table = bench_table(tmp_path)
    assert "it costs 39 s)" in table and "it saves 12 s)" in table and "saved" not in table
