"""Aggregate stored runs into mean ± std over seeds and print them beside the paper's numbers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from adacm.algorithms import method_label
from adacm.data.datasets import paper_dataset
from adacm.models import paper_backbone
from adacm.report import paper
from adacm.report.paper_tables import PAPER_TABLES
from adacm.run.config import ADDED_LATER
from adacm.run.protocols import get_protocol


def metric_value(result: dict[str, Any], metric: str) -> float | None:
    """A run's value of ``metric``: a summary field, or ``ckplus_*`` from its CK+ evaluation."""
    if metric.startswith("ckplus_"):
        return result.get("cross_dataset", {}).get("ckplus", {}).get(metric.removeprefix("ckplus_"))
    return result["summary"].get(metric)


@dataclass(frozen=True)
class Aggregate:
    mean: float
    std: float  # sample standard deviation (ddof=1); 0 for a single seed
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.std:.2f} (n={self.n})"


def aggregate(results: Iterable[dict[str, Any]], metric: str = "test_acc_last",
              group: tuple[str, ...] = ("method", "dataset", "n_labels")) -> dict[tuple[Any, ...], Aggregate]:
    """Mean ± std of ``metric`` over the runs sharing the ``group`` config fields (i.e. over seeds)."""
    values: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for r in results:
        value = metric_value(r, metric)
        if value is not None:
            values[tuple(r["config"][g] for g in group)].append(value)
    return {k: summarise(v) for k, v in values.items()}


def summarise(values: list[float]) -> Aggregate:
    return Aggregate(float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values))


def paper_value(table: int, method: str, by: str, value: str, n_labels: int) -> paper.Cell | None:
    """The paper's number for a column keyed by dataset (Tables 1-3) or by backbone (Table 4)."""
    if by == "dataset":
        return paper.reported(table, method, dataset=paper_dataset(value), labels=n_labels)
    return paper.reported(table, method, labels=n_labels, backbone=paper_backbone(value))


def paper_cell(table: int, method: str, by: str, value: str, n_labels: int) -> str:
    cell = paper_value(table, method, by, value, n_labels)
    if cell is None:
        return "—"
    return f"{cell.mean:.2f}" + (f" ± {cell.std:.2f}" if cell.std is not None else "")


def row_label(method: str) -> str:
    """A table row's name: the paper's label for the method, and the name it is run by."""
    return f"{method_label(method)} (`{method}`)"


def markdown_table(results: list[dict[str, Any]], methods: list[str], columns: list[tuple[str, int]],
                   metric: str = "test_acc_last", paper_table: int = 2, by: str = "dataset") -> str:
    """Rows = methods; per (dataset or model, labels) column: this suite's mean ± std and the paper's number."""
    agg = aggregate(results, metric, group=("method", by, "n_labels"))
    paper_name = paper_dataset if by == "dataset" else paper_backbone
    head = ["Method"]
    for value, n in columns:
        head += [f"{value} {n} (ours)", f"{paper_name(value)} {n} (paper)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in methods:
        row = [row_label(method)]
        for value, n in columns:
            a = agg.get((method, value, n))
            row += [str(a) if a else "not run", paper_cell(paper_table, method, by, value, n)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Layout:
    """How one of the paper's tables maps onto a protocol's stored runs."""

    methods: list[str]
    columns: list[tuple[str, int]]  # (dataset or model, labels)
    by: str  # the config field a column's first part names
    backbones: tuple[dict[str, Any], ...]  # a run of the table has every field of one of these (its backbone's)

    def admits(self, result: dict[str, Any]) -> bool:
        return any(matches(result, where) for where in self.backbones)


def paper_layout(table: int, protocol: str) -> Layout:
    """Rows and columns of the paper's Table ``table`` in a protocol's terms: its stand-in
    datasets (Tables 1-3) or its backbones (Table 4), and the backbones its runs use."""
    proto, spec = get_protocol(protocol), PAPER_TABLES[table]
    backbones = tuple(default_backbone(protocol, **b) for b in spec.backbones.values())
    if spec.by == "model":  # the paper's columns are its backbones: ours are the protocol's model and WRN-28-2
        models = {"resnet18": proto.model, "wrn28_2": "wrn28_2"}
        columns = list(dict.fromkeys((models[b], proto.setting("rafdb", n)[1]) for _, b, n in paper.TABLES[table]))
    else:
        settings = (proto.setting(d, n) for d, n in spec.settings)
        columns = list(dict.fromkeys((d, n) for d, n in settings if d in proto.datasets))
    return Layout(spec.rows, columns, spec.by, backbones)


#: the config fields that make a protocol's default run (a run differing in any is a variant or a sweep)
DEFAULT_FIELDS = ("model", "init", "image_size", "bn_momentum", "epochs", "iters_per_epoch", "batch_labeled",
                  "batch_unlabeled", "lr", "ema_decay", "ema_weight_decay", "joint_forward", "head_lr_mult",
                  "method_overrides")


def default_backbone(protocol: str, **backbone: Any) -> dict[str, Any]:
    """The config fields of a protocol's default run (its backbone, schedule, no method options);
    ``backbone`` names another backbone (e.g. ``**WRN``), which gets the protocol's settings for it."""
    proto = get_protocol(protocol)
    base = proto.config(proto.datasets[0], "supervised", 7, 0, **backbone).to_dict()
    return {k: base[k] for k in DEFAULT_FIELDS}


def matches(result: dict[str, Any], where: dict[str, Any]) -> bool:
    """Whether a stored run has every ``where`` field (fields added later read as their default)."""
    return all(result["config"].get(k, ADDED_LATER.get(k)) == v for k, v in where.items())


def metrics_table(results: list[dict[str, Any]], methods: list[str], metrics: list[str]) -> str:
    """Rows = methods, columns = metrics (e.g. Fig. 4's CK+ accuracy, silhouette and 5-NN accuracy):
    mean ± std over the runs of each method; ``not run`` where none stored the metric."""
    cells = {metric: {k[0]: a for k, a in aggregate(results, metric, ("method",)).items()} for metric in metrics}
    lines = ["| Method | " + " | ".join(metrics) + " |", "|" + "---|" * (len(metrics) + 1)]
    for method in methods:
        row = [str(cells[metric][method]) if method in cells[metric] else "not run" for metric in metrics]
        lines.append(f"| {row_label(method)} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def mean_std(a: Aggregate) -> str:
    return f"{a.mean:.2f} ± {a.std:.2f}"
