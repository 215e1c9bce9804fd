"""Checks adacm.report.paper against the paper's Tables 1-4."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from adacm.algorithms import METHODS, method_label
from adacm.report.paper import (
    FULLY_SUPERVISED,
    TABLE1,
    TABLE2,
    TABLE3,
    TABLE4,
    Cell,
    reported,
)

_REPO = Path(__file__).resolve().parents[1]
_PAPER_NAME = "ada-cm-cvpr2022.md"
_PAPER_DIRS = (
    Path("/work/shared/paper"),
    _REPO.parent / "shared" / "paper",
    _REPO / "shared" / "paper",
)
_NUMBER = re.compile(r"\d+\.\d+")


@pytest.mark.parametrize(
    ("table", "method", "dataset", "labels", "backbone", "expected"),
    [
        (2, "adacm", "sfew", 100, None, Cell(41.88, 2.12)),
        (2, "supervised", "affectnet", 10000, None, Cell(53.18, 0.68)),
        (2, "pseudo_label", "rafdb", 100, None, Cell(54.96, 4.24)),
        (2, "remixmatch", "rafdb", 4000, "resnet18", Cell(83.51, 0.18)),
        (3, "marginmix", None, 1000, None, Cell(66.47, None)),
        (3, "meanteacher", "rafdb", 4000, "wrn28_2", Cell(60.36, None)),
        (4, "fixmatch", None, 100, "resnet18", Cell(73.62, 1.78)),
        (4, "supervised", "ckplus", 4000, "wrn28_2", Cell(70.97, 2.21)),
        (1, "flexmatch", "sfew", 400, None, Cell(50.99, 1.45)),
        (1, "fixmatch@0.5", "rafdb", 100, None, Cell(57.49, 1.77)),
        (1, "adacm_lu", "sfew", 400, None, Cell(51.04, 0.58)),
        (1, "adacm_lc", "rafdb", 100, None, Cell(54.27, 2.79)),
    ],
)
def test_cells_match_the_text(
    table: int,
    method: str,
    dataset: str | None,
    labels: int,
    backbone: str | None,
    expected: Cell,
) -> None:
    assert reported(table, method, dataset, labels, backbone) == expected


def test_fully_supervised_references() -> None:
    assert FULLY_SUPERVISED[(2, "rafdb", "[16]")] == Cell(84.13, None)
    assert FULLY_SUPERVISED[(2, "sfew", "[16]")] == Cell(51.05, None)
    assert FULLY_SUPERVISED[(2, "affectnet", "[32]")] == Cell(52.97, None)
    assert FULLY_SUPERVISED[(4, "ckplus", "[19]")] == Cell(81.07, None)
    assert FULLY_SUPERVISED[(4, "ckplus", "[18]")] == Cell(81.72, None)


def test_gains_quoted_in_the_text() -> None:
    # Sec. 4.3: Ada-CM beats fully supervised by 0.29 / 1.38 / 4.45 points, and
    # MarginMix by 13.28 / 1.91 / 5.3 points; Sec. 4.4: [18] by 3.6 points.
    def gain(a: Cell, b: Cell) -> float:
        return round(a.mean - b.mean, 2)

    assert gain(TABLE2[("adacm", "rafdb", 4000)], FULLY_SUPERVISED[(2, "rafdb", "[16]")]) == 0.29
    assert gain(TABLE2[("adacm", "sfew", 400)], FULLY_SUPERVISED[(2, "sfew", "[16]")]) == 1.38
    assert (
        gain(TABLE2[("adacm", "affectnet", 10000)], FULLY_SUPERVISED[(2, "affectnet", "[32]")])
        == 4.45
    )
    assert [gain(TABLE3[("adacm", n)], TABLE3[("marginmix", n)]) for n in (400, 1000, 4000)] == [
        13.28,
        1.91,
        5.3,
    ]
    assert gain(TABLE4[("adacm", "resnet18", 4000)], FULLY_SUPERVISED[(4, "ckplus", "[18]")]) == 3.6


@pytest.mark.parametrize("method", ["supervised", "fixmatch", "adacm"])
@pytest.mark.parametrize(("dataset", "labels"), [("rafdb", 100), ("sfew", 400)])
def test_tables_1_and_2_agree(method: str, dataset: str, labels: int) -> None:
    assert TABLE1[(method, dataset, labels)] == TABLE2[(method, dataset, labels)]


def test_cell_counts() -> None:
    assert len(TABLE1) == 8 * 2  # 8 rows x (RAF-DB 100, SFEW 400)
    assert len(TABLE2) == 7 * 8  # 7 methods x 8 dataset/label columns
    assert len(TABLE3) == 5 * 3  # 5 methods x (400, 1000, 4000)
    assert len(TABLE4) == 4 * 2 * 2  # 4 methods x 2 backbones x (100, 4000)
    assert len(FULLY_SUPERVISED) == 3 + 2
    assert all(cell.std is not None for t in (TABLE1, TABLE2, TABLE4) for cell in t.values())
    assert all(cell.std is None for t in (TABLE3, FULLY_SUPERVISED) for cell in t.values())


def test_every_method_of_the_paper_is_registered_with_a_label() -> None:
    used = {key[0] for table in (TABLE1, TABLE2, TABLE3, TABLE4) for key in table}
    assert all(method.partition("@")[0] in METHODS and method_label(method) != method for method in used)


def test_reported_misses_and_errors() -> None:
    assert reported(2, "adacm", "rafdb", 1000) is None  # no such column
    assert reported(2, "flexmatch", "rafdb", 100) is None  # FlexMatch is in Table 1 only
    assert reported(2, "adacm", "rafdb", 100, backbone="wrn28_2") is None
    assert reported(3, "adacm", "sfew", 400) is None
    assert reported(4, "adacm", None, 100) is None  # backbone required
    with pytest.raises(ValueError):
        reported(5, "adacm", "rafdb", 100)


def test_data_is_immutable() -> None:
    with pytest.raises(TypeError):
        TABLE2[("adacm", "rafdb", 100)] = Cell(0.0, None)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TABLE2[("adacm", "rafdb", 100)].mean = 0.0  # type: ignore[misc]


# --- re-parsing the paper's markdown ---------------------------------------


def _paper_text() -> str:
    for directory in _PAPER_DIRS:
        path = directory / _PAPER_NAME
        if path.is_file():
            return path.read_text(encoding="utf-8")
    pytest.skip("paper markdown not found")


def _table_rows(text: str, number: int) -> list[list[str]]:
    """Tab-separated lines of the table whose caption starts 'Table <number>.'."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"Table {number}."))
    first = next(i for i in range(start + 1, len(lines)) if "\t" in lines[i])
    rows = []
    for line in lines[first:]:
        if "\t" not in line:
            break
        rows.append(re.sub(r"</?b>", "", line).split("\t"))
    return rows


@pytest.mark.parametrize(
    ("number", "cells", "references"),
    [(1, TABLE1, 0), (2, TABLE2, 3), (3, TABLE3, 0), (4, TABLE4, 2)],
)
def test_every_number_of_each_table_is_transcribed(
    number: int, cells: Mapping[Any, Cell], references: int
) -> None:
    # Numbers outside the first (method) column, e.g. not Table 1's "FT = 0.5".
    printed = Counter(
        float(n)
        for row in _table_rows(_paper_text(), number)
        for field in row[1:]
        for n in _NUMBER.findall(field)
    )
    fully = [cell.mean for (table, _, _), cell in FULLY_SUPERVISED.items() if table == number]
    ours = Counter(
        [cell.mean for cell in cells.values()]
        + [cell.std for cell in cells.values() if cell.std is not None]
        + fully
    )
    assert len(fully) == references
    assert printed == ours


def test_table2_rows_reparsed() -> None:
    header, sublabels, *body = _table_rows(_paper_text(), 2)
    # Header spans: a dataset name heads every column up to the next one.
    columns: dict[int, tuple[str, int]] = {}
    dataset = ""
    names = {"RAF-DB": "rafdb", "SFEW": "sfew", "AffectNet": "affectnet"}
    for i, (top, sub) in enumerate(zip(header, sublabels, strict=True)):
        dataset = names.get(top.strip(), dataset)
        if sub.strip().endswith(" labels"):
            columns[i] = (dataset, int(sub.split()[0]))
    assert len(columns) == 8

    by_label = {method_label(key[0]): key[0] for key in TABLE2}
    parsed: dict[tuple[str, str, int], Cell] = {}
    for row in body:
        name = re.sub(r"\s*\[\d+\]$", "", row[0].strip())
        if name == "Fully Supervised":
            for i, field in enumerate(row[1:], start=1):
                if field.strip():
                    data, _ = columns[i]
                    [cell] = [c for (t, d, _), c in FULLY_SUPERVISED.items() if (t, d) == (2, data)]
                    assert cell.mean == float(field)
            continue
        method = by_label[name]
        for i, (data, labels) in columns.items():
            parsed[(method, data, labels)] = Cell(float(row[i]), float(row[i + 1]))
    assert parsed == dict(TABLE2)
