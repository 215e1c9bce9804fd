"""Bad input across the experiment scripts' options (issue 6): every bad input is one line, exit 2,
no traceback and no result written. Crash safety: SIGKILL and NaN in test_trainer.py, concurrent
writers to one results store in test_store.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adacm.paths import data_dir

pytestmark = pytest.mark.slow  # every test here trains or starts processes

ROOT = Path(__file__).resolve().parent.parent


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
    ("unknown variant", ["--variant", "celeba"], "has no variant 'celeba'"),
    ("fewer labels than classes", ["--labels", "3"], "at least 7"),
    ("more labels than images", [*SMOKE_ARGS, "--labels", "700"], "has 448 labeled training images in all"),
    ("method option on supervised", ["--protocol", "smoke", "--methods", "supervised", "--set", "b=0.9"],
     "supervised takes no options"),
    ("B outside (0, 1]", [*SMOKE_ARGS, "--set", "b=1.5"], "B=1.5 must lie in (0, 1]"),
    ("gamma not above 1", [*SMOKE_ARGS, "--set", "gamma=0.5"], "gamma=0.5 must exceed 1"),
    ("unknown method option", [*SMOKE_ARGS, "--set", "tau=0.5"], "--set tau: not an option of adacm on the command line (its options are t0, b, gamma"),
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
