"""The paper's Tables 1-4 as the suite runs them, each defined once: its rows and settings (read
from the paper's numbers, ``paper.TABLES``), the backbones its runs train, the methods its script
trains by default, its metric and the comparative claims it makes. The experiment scripts, the
table layouts, the claims and the notebooks all derive from ``PAPER_TABLES``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from adacm.report import paper

#: WRN-28-2 as Tables 3 and 4 train it: from scratch at 32 px, its design size
WRN: Mapping[str, Any] = MappingProxyType({"model": "wrn28_2", "init": "scratch", "image_size": 32})
DEFAULT: Mapping[str, Any] = MappingProxyType({})  # the protocol's own backbone


@dataclass(frozen=True)
class PaperTable:
    number: int
    #: the backbones its runs train, by name, as overrides of a protocol's default
    backbones: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: {"default": DEFAULT})
    #: the methods its script trains by default (None: every row of the paper's table)
    grid_methods: tuple[str, ...] | None = None
    #: its script's default settings are the protocol's own grid rather than the paper's columns
    protocol_grid: bool = False
    metric: str = "test_acc_last"
    #: the row the paper says beats every other row of the table, in every claimed setting
    best: str | None = None
    #: pairs (better, worse) the paper claims, where not "``best`` beats every row"
    pairs: tuple[tuple[str, str], ...] = ()
    #: the paper's (dataset, labels) where its claims are made (default: every setting)
    claim_settings: tuple[tuple[str, int], ...] | None = None

    @property
    def experiment(self) -> str:
        """The results store's folder for the runs its script trains."""
        return f"table{self.number}"

    @property
    def rows(self) -> list[str]:
        """The paper's rows (methods, by registry name), in the paper's order."""
        return list(dict.fromkeys(key[0] for key in paper.TABLES[self.number]))

    @property
    def methods(self) -> list[str]:
        return list(self.grid_methods or self.rows)

    @property
    def by(self) -> str:
        """What a column's first part names: the dataset, or (a table over several backbones) the model."""
        return "model" if len(self.backbones) > 1 else "dataset"

    @property
    def settings(self) -> list[tuple[str, int]]:
        """The paper's (dataset, labels) settings; Tables 3 and 4 train on RAF-DB only (their keys
        carry the labels last)."""
        keys = paper.TABLES[self.number]
        if self.number in (3, 4):
            return list(dict.fromkeys(("rafdb", key[-1]) for key in keys))
        return list(dict.fromkeys((key[1], key[2]) for key in keys))

    @property
    def claimed(self) -> list[tuple[str, str, str, int]]:
        """(better, worse, paper dataset, labels) of every comparison the table claims."""
        pairs = self.pairs or tuple((self.best, row) for row in self.rows if self.best and row != self.best)
        return [(better, worse, d, n) for d, n in (self.claim_settings or self.settings) for better, worse in pairs]


PAPER_TABLES: Mapping[int, PaperTable] = MappingProxyType({
    1: PaperTable(1, best="adacm"),
    2: PaperTable(2, grid_methods=("supervised", "fixmatch", "adacm"), protocol_grid=True,
                  pairs=(("fixmatch", "supervised"), ("adacm", "supervised"), ("adacm", "fixmatch")),
                  claim_settings=(("rafdb", 100), ("rafdb", 400), ("rafdb", 4000))),
    3: PaperTable(3, backbones={"wrn28_2": WRN}, best="adacm"),
    4: PaperTable(4, backbones={"default": DEFAULT, "wrn28_2": WRN}, metric="ckplus_acc"),
})
