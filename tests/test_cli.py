"""The ``adacm`` command (``adacm.cli``): ``adacm data check`` and ``adacm data prepare`` on fake
trees in the owners' layouts; errors are one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_ckplus, make_rafdb, make_sfew

from adacm.data.readers import CLASSES8

REPO = Path(__file__).resolve().parent.parent


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adacm.cli", "data", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


@pytest.mark.slow
def test_cli_check_good_tree(tmp_path: Path) -> None:
    done = cli("check", make_sfew(tmp_path / "SFEW"))
    assert done.returncode == 0, done.stderr
    assert "layout: sfew" in done.stdout and "fingerprint: sfew:SFEW sha256 " in done.stdout
    assert "surprise" in done.stdout and "problems: none" in done.stdout and "note: Test/" in done.stdout


@pytest.mark.slow
def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    done = cli("check", tmp_path / "nope")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")
    root = make_rafdb(tmp_path / "raf")
    (root / "Image" / "aligned" / "train_00002_aligned.jpg").write_bytes(b"junk")
    done = cli("check", root)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Image/aligned/train_00002_aligned.jpg: corrupt or truncated image" in done.stdout
    assert done.stderr.strip().splitlines()[-1].startswith("error: 1 problem(s)")


@pytest.mark.slow
def test_cli_prepare_writes_suite_npz(tmp_path: Path) -> None:
    out = tmp_path / "cache" / "ck.npz"
    done = cli("prepare", make_ckplus(tmp_path / "ck"), "--out", out, "--size", "224", "--rgb")
    assert done.returncode == 0, done.stderr
    with np.load(out) as npz:
        assert sorted(npz.files) == ["classes", "split", "subject", "x", "y"]
        assert npz["x"].shape == (13, 224, 224, 3) and npz["y"].dtype == np.int64
        assert npz["classes"].tolist() == list(CLASSES8) and set(npz["split"]) == {"test"}
        assert set(npz["subject"]) == {"S005", "S010"}


def test_a_reader_that_stops_early_ends_a_command_quietly() -> None:
    # as `adacm claims | head -3` does: the rest of the output has nowhere to go
    code = "from adacm.errors import run_cli\nrun_cli(lambda: [print('a row of a long report') for _ in range(10**6)])"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.readline() == b"a row of a long report\n"
    child.stdout.close()
    assert child.wait(timeout=60) == 141 and child.stderr.read() == b""
