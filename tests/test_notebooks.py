"""Every notebook runs with papermill on the stored results and writes its figures; the
jupytext ``.py`` source and the ``.ipynb`` are in sync."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_source_and_notebook_in_sync(notebook: Path) -> None:
    source = jupytext.read(notebook.with_suffix(".py"))
    paired = jupytext.read(notebook)
    strip = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert strip(source) == strip(paired), f"run `make notebooks` to re-pair {notebook.name}"


#: notebooks run once per value of a parameter (the rest run once with their defaults)
RUNS = [(nb, []) for nb in NOTEBOOKS if nb.stem != "paper_tables"] + \
       [(ROOT / "notebooks" / "paper_tables.ipynb", ["-p", "table", str(t)]) for t in (1, 2, 3, 4)]


def test_every_paper_table_has_a_chart() -> None:
    assert (ROOT / "notebooks" / "paper_tables.ipynb") in NOTEBOOKS


@pytest.mark.slow
@pytest.mark.parametrize("notebook,params", RUNS, ids=[p.stem + "".join(a[2:]) for p, a in RUNS])
def test_notebook_runs_and_writes_figures(notebook: Path, params: list[str], tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", str(notebook), str(tmp_path / "out.ipynb"),
                          "-p", "output_dir", str(tmp_path), *params], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = list(tmp_path.glob("*.png")) + list(tmp_path.glob("*.pdf"))
    assert figures and all(f.stat().st_size > 1000 for f in figures)
