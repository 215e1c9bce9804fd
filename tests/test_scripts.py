"""Every experiment script answers --help and runs its smoke grid end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "experiments").glob("*.py"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_help(script: Path) -> None:
    out = run(str(script), "--help")
    assert out.returncode == 0 and "usage:" in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize("script,extra", [
    ("table1.py", ["--methods", "supervised", "adacm_lc"]),  # the grid's plumbing, not every row (those train above)
    ("table3.py", ["--methods", "supervised", "marginmix"]),
    ("fig3.py", ["--figure"]),
    ("fig4.py", ["--figure"]),
    ("table4.py", []),
])
def test_smoke_grid(script: str, extra: list[str], tmp_path: Path) -> None:
    # one short epoch per run: the grid, storage, table and figure are what is tested here
    args = [f"experiments/{script}", "--protocol", "smoke", "--epochs", "1", "--iters", "6",
            "--results-dir", str(tmp_path / "results")]
    figure = extra == ["--figure"]
    args += [extra[0], str(tmp_path / "figure")] if figure else extra
    out = run(*args)
    assert out.returncode == 0, out.stderr[-3000:]
    stored = list((tmp_path / "results" / "smoke").glob("*/*.json"))
    assert stored, "the smoke grid stored no result"
    if figure:
        assert (tmp_path / "figure.png").stat().st_size > 1000 and (tmp_path / "figure.pdf").stat().st_size > 1000
    else:
        assert "not run" not in out.stdout  # every row of the table was trained
    if script == "table4.py":  # every run evaluated on CK+ and stored what Table 4 and Fig. 4 need
        runs = [json.loads(p.read_text()) for p in stored]
        assert {r["config"]["model"] for r in runs} == {"resnet18", "wrn28_2"} and len(runs) == 8
        assert all(0 <= r["cross_dataset"]["ckplus"]["acc"] <= 100 and r["cross_dataset"]["ckplus"]["tsne"] for r in runs)


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_table2_help() -> None:
    out = run_script("experiments/table2.py", "--help")
    assert out.returncode == 0 and "--protocol" in out.stdout and "--rerun" in out.stdout
