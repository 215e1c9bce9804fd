"""The results store (``adacm.run.store``): a run stored by two experiments counts once; two
processes writing one store lose nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run

from adacm.run.store import load_results, save_result

ROOT = Path(__file__).resolve().parent.parent


def test_a_run_stored_by_two_experiments_counts_once(tmp_path: Path) -> None:
    r = run("adacm", 0, 30.0)
    save_result(tmp_path, "table2", r)
    save_result(tmp_path, "pilot", r)
    assert len(load_results(tmp_path, "cpu")) == 1 and len(load_results(tmp_path, "cpu", "pilot")) == 1


WRITER = """
import sys
from pathlib import Path
from adacm.run.config import RunConfig
from adacm.run.store import save_result

store, first = Path(sys.argv[1]), int(sys.argv[2])
for seed in range(first, first + 40):
    cfg = RunConfig("smoke", "fer2013_ci", "supervised", 70, seed)
    save_result(store, "race", {"key": cfg.key(), "config": cfg.to_dict(), "summary": {}, "payload": "x" * 20000})
    save_result(store, "race", {"key": "shared", "config": RunConfig("smoke", "fer2013_ci", "adacm", 70, 0).to_dict(),
                                "summary": {}, "payload": str(first) * 20000})
"""


@pytest.mark.slow
def test_two_processes_writing_one_store_lose_nothing(tmp_path: Path) -> None:
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(first)], cwd=ROOT)
               for first in (0, 1000)]
    seen_partial = False
    while any(w.poll() is None for w in writers):  # read while they write: every file is whole
        for path in (tmp_path / "smoke" / "race").glob("*.json") if (tmp_path / "smoke").exists() else []:
            try:
                json.loads(path.read_text())
            except json.JSONDecodeError:
                seen_partial = True
            except FileNotFoundError:
                pass
    assert [w.returncode for w in writers] == [0, 0]
    results = load_results(tmp_path, "smoke", "race")
    assert not seen_partial
    assert len(results) == 81  # 2 × 40 distinct runs + the one both wrote
    assert not list((tmp_path / "smoke" / "race").glob(".*.tmp"))
