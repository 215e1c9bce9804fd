"""The numbers the Ada-CM paper reports, transcribed from its Tables 1-4.

Source: H. Li, N. Wang, X. Yang, X. Wang, X. Gao, "Towards Semi-Supervised Deep
Facial Expression Recognition with An Adaptive Confidence Margin", CVPR 2022
(text in ``shared/paper/ada-cm-cvpr2022.md``). Every number of Tables 1-4 is
here, and ``tests/test_paper.py`` re-checks them against that text. This module
is the suite's single copy of the paper's results: nothing else in the suite
may hard-code a reported number; look it up here with :func:`reported`.

All values are overall test accuracy in %, the mean (and standard deviation,
where the paper gives one) over 5 runs with different random seeds. Methods,
datasets and backbones are keyed by the suite's registry names (see
:data:`adacm.algorithms.METHODS`, whose entries carry the paper's names); ``labels`` is the
number of labeled training images.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Cell:
    """One reported accuracy (%): mean over 5 seeds, std where the paper gives one."""

    mean: float
    std: float | None


def _with_std(
    method: str, columns: tuple[tuple[str, int], ...], values: tuple[float, ...]
) -> dict[tuple[str, str, int], Cell]:
    """Key a table row given as alternating mean, std values in column order."""
    assert len(values) == 2 * len(columns)
    return {
        (method, *column): Cell(values[2 * i], values[2 * i + 1])
        for i, column in enumerate(columns)
    }


_TABLE1_COLUMNS = (("rafdb", 100), ("sfew", 400))
_TABLE2_COLUMNS = (
    ("rafdb", 100),
    ("rafdb", 400),
    ("rafdb", 2000),
    ("rafdb", 4000),
    ("sfew", 100),
    ("sfew", 400),
    ("affectnet", 2000),
    ("affectnet", 10000),
)
_TABLE4_COLUMNS = (("wrn28_2", 100), ("wrn28_2", 4000), ("resnet18", 100), ("resnet18", 4000))

TABLE1: Mapping[tuple[str, str, int], Cell] = MappingProxyType(
    {
        **_with_std("supervised", _TABLE1_COLUMNS, (52.43, 2.24, 43.85, 2.83)),
        **_with_std("fixmatch@0.5", _TABLE1_COLUMNS, (57.49, 1.77, 47.85, 1.89)),
        **_with_std("fixmatch@0.8", _TABLE1_COLUMNS, (58.94, 2.05, 48.58, 1.32)),
        **_with_std("fixmatch", _TABLE1_COLUMNS, (60.67, 2.25, 50.37, 0.45)),
        **_with_std("flexmatch", _TABLE1_COLUMNS, (61.23, 2.27, 50.99, 1.45)),
        **_with_std("adacm_lu", _TABLE1_COLUMNS, (61.50, 2.10, 51.04, 0.58)),
        **_with_std("adacm_lc", _TABLE1_COLUMNS, (54.27, 2.79, 45.99, 0.35)),
        **_with_std("adacm", _TABLE1_COLUMNS, (62.36, 1.10, 52.43, 0.67)),
    }
)
"""Ablation, ResNet-18, RAF-DB 100 / SFEW 400 labels: test accuracy %, mean ± std over 5 seeds."""

# Rows as printed: RAF-DB 100, 400, 2000, 4000; SFEW 100, 400; AffectNet 2000, 10000.
# fmt: off
TABLE2: Mapping[tuple[str, str, int], Cell] = MappingProxyType(
    {
        **_with_std(
            "supervised",
            _TABLE2_COLUMNS,
            (52.43, 2.24, 67.75, 0.95, 78.91, 0.43, 81.90, 0.48,
             33.76, 1.84, 43.85, 2.83, 47.52, 0.75, 53.18, 0.68),
        ),
        **_with_std(
            "pseudo_label",
            _TABLE2_COLUMNS,
            (54.96, 4.24, 69.99, 1.81, 79.18, 0.27, 82.88, 0.49,
             34.27, 1.67, 45.27, 1.32, 48.78, 0.67, 53.82, 1.29),
        ),
        **_with_std(
            "mixmatch",
            _TABLE2_COLUMNS,
            (54.57, 4.16, 73.14, 1.40, 79.63, 0.91, 83.57, 0.49,
             34.13, 2.58, 44.91, 1.87, 49.63, 0.49, 53.49, 0.47),
        ),
        **_with_std(
            "uda",
            _TABLE2_COLUMNS,
            (58.15, 1.54, 72.39, 1.64, 81.16, 0.54, 83.56, 0.82,
             39.22, 2.30, 48.90, 1.56, 50.42, 0.45, 56.49, 0.27),
        ),
        **_with_std(
            "remixmatch",
            _TABLE2_COLUMNS,
            (58.83, 2.34, 73.34, 1.82, 79.66, 0.66, 83.51, 0.18,
             35.69, 2.73, 48.39, 0.71, 50.38, 0.63, 55.81, 0.34),
        ),
        **_with_std(
            "fixmatch",
            _TABLE2_COLUMNS,
            (60.67, 2.25, 73.36, 1.59, 81.27, 0.27, 83.31, 0.33,
             38.90, 1.90, 50.37, 0.45, 50.79, 0.37, 56.50, 0.43),
        ),
        **_with_std(
            "adacm",
            _TABLE2_COLUMNS,
            (62.36, 1.10, 74.44, 1.53, 82.05, 0.22, 84.42, 0.49,
             41.88, 2.12, 52.43, 0.67, 51.22, 0.29, 57.42, 0.43),
        ),
    }
)
"""SSL methods, ResNet-18, RAF-DB/SFEW/AffectNet: test accuracy %, mean ± std over 5 seeds."""
# fmt: on

TABLE3: Mapping[tuple[str, int], Cell] = MappingProxyType(
    {
        (method, labels): Cell(mean, None)
        for method, means in (
            ("supervised", (26.75, 35.25, 55.66)),
            ("meanteacher", (28.23, 36.53, 60.36)),
            ("mixmatch", (42.25, 60.37, 65.24)),
            ("marginmix", (45.75, 66.47, 70.68)),
            ("adacm", (59.03, 68.38, 75.98)),
        )
        for labels, mean in zip((400, 1000, 4000), means, strict=True)
    }
)
"""SS-DFER methods, WRN-28-2, RAF-DB: test accuracy %, mean over 5 seeds (no std printed)."""

TABLE4: Mapping[tuple[str, str, int], Cell] = MappingProxyType(
    {
        **_with_std(
            "supervised", _TABLE4_COLUMNS, (44.29, 3.04, 70.97, 2.21, 59.02, 3.63, 80.63, 0.62)
        ),
        **_with_std(
            "mixmatch", _TABLE4_COLUMNS, (50.42, 8.36, 71.76, 1.48, 59.94, 5.46, 83.87, 1.02)
        ),
        **_with_std(
            "fixmatch", _TABLE4_COLUMNS, (52.52, 9.69, 76.98, 2.15, 73.62, 1.78, 84.18, 0.99)
        ),
        **_with_std("adacm", _TABLE4_COLUMNS, (56.13, 6.85, 79.34, 1.14, 76.92, 3.57, 85.32, 0.98)),
    }
)
"""RAF-DB-trained (labels on RAF-DB), tested on CK+: test accuracy %, mean ± std over 5 seeds."""

FULLY_SUPERVISED: Mapping[tuple[int, str, str], Cell] = MappingProxyType(
    {
        (2, "rafdb", "[16]"): Cell(84.13, None),
        (2, "sfew", "[16]"): Cell(51.05, None),
        (2, "affectnet", "[32]"): Cell(52.97, None),
        (4, "ckplus", "[19]"): Cell(81.07, None),
        (4, "ckplus", "[18]"): Cell(81.72, None),
    }
)
"""Fully-supervised accuracy % quoted from prior work, keyed (table, test dataset, citation).

Table 2: DLP-CNN [16] on RAF-DB and SFEW, RAN [32] on AffectNet, each trained on
all labeled data. Table 4 (trained on RAF-DB, tested on CK+): [19] and [18], the
latter a ResNet-50 with channel attention.
"""


#: every table by number, as ``reported`` reads them
TABLES: Mapping[int, Mapping[tuple, Cell]] = MappingProxyType({1: TABLE1, 2: TABLE2, 3: TABLE3, 4: TABLE4})


def reported(
    table: int,
    method: str,
    dataset: str | None = None,
    labels: int | None = None,
    backbone: str | None = None,
) -> Cell | None:
    """The paper's number for one setting, or None where the table has no such cell.

    Tables 1 and 2 need ``dataset`` and ``labels`` (their backbone is ResNet-18);
    Table 3 needs ``labels`` (RAF-DB, WRN-28-2); Table 4 needs ``backbone`` and
    ``labels`` (its test set is CK+). A fixed setting passed explicitly must match
    the table's, else the result is None. Raises ValueError for tables other than 1-4.
    """
    if table in (1, 2):
        if dataset is None or labels is None or backbone not in (None, "resnet18"):
            return None
        return (TABLE1 if table == 1 else TABLE2).get((method, dataset, labels))
    if table == 3:
        if labels is None or dataset not in (None, "rafdb") or backbone not in (None, "wrn28_2"):
            return None
        return TABLE3.get((method, labels))
    if table == 4:
        if backbone is None or labels is None or dataset not in (None, "ckplus"):
            return None
        return TABLE4.get((method, backbone, labels))
    raise ValueError(f"the paper has Tables 1-4, not {table}")
