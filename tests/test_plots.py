"""Figures: the same results redraw the same bytes."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt

from adacm.report.plots import save_figure

ROOT = Path(__file__).resolve().parents[1]


def draw(path: Path) -> bytes:
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 0, 1], label="a")
    ax.legend()
    save_figure(fig, path)
    return path.with_suffix(".pdf").read_bytes() + path.with_suffix(".png").read_bytes()


def test_a_figure_redraws_byte_for_byte(tmp_path) -> None:
    assert draw(tmp_path / "one") == draw(tmp_path / "two")
    assert b"/CreationDate" not in (tmp_path / "one.pdf").read_bytes()  # two draws within a second would hide it


def test_every_figure_is_saved_through_save_figure() -> None:
    # a bare savefig writes a PDF with its creation date: git would see a change on every run
    sources = [*(ROOT / "adacm").rglob("*.py"), *(ROOT / "notebooks").glob("*.py"), *(ROOT / "experiments").glob("*.py")]
    bare = [p.relative_to(ROOT) for p in sources if p.name != "plots.py" and re.search(r"\.savefig\(", p.read_text())]
    assert not bare, f"save figures with adacm.report.plots.save_figure: {bare}"
