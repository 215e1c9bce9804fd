"""Aggregate stored runs into mean ± std over seeds and print them beside the paper's numbers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from adacm import paper
from adacm.protocols import PAPER_DATASET

METRICS = {
    "test_acc_last": "test accuracy at the last epoch",
    "test_acc_best_val": "test accuracy at the best-validation epoch",
    "test_acc_best_test_oracle": "best test accuracy over epochs (the paper's practice: selected on the test set)",
    "ckplus_acc": "CK+ accuracy of the final EMA model (six basic expressions), trained on the RAF-DB stand-in",
    "ckplus_silhouette": "silhouette score (cosine) of the final model's CK+ features",
    "ckplus_knn_acc": "subject-disjoint 5-NN accuracy of the final model's CK+ features",
}
#: the paper's backbone a model of this suite stands in for (Table 4 columns)
PAPER_BACKBONE = {"resnet18": "resnet18", "dlib_face": "resnet18", "wrn28_2": "wrn28_2"}


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
    return {k: Aggregate(float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v))
            for k, v in values.items()}


def paper_cell(table: int, method: str, by: str, value: str, n_labels: int) -> str:
    """The paper's number for a column keyed by dataset (Tables 1-3) or by backbone (Table 4)."""
    if by == "dataset":
        cell = paper.reported(table, method, dataset=PAPER_DATASET.get(value, value), labels=n_labels)
    else:
        cell = paper.reported(table, method, labels=n_labels, backbone=PAPER_BACKBONE.get(value, value))
    if cell is None:
        return "—"
    return f"{cell.mean:.2f}" + (f" ± {cell.std:.2f}" if cell.std is not None else "")


def markdown_table(results: list[dict[str, Any]], methods: list[str], columns: list[tuple[str, int]],
                   metric: str = "test_acc_last", paper_table: int = 2, by: str = "dataset") -> str:
    """Rows = methods; per (dataset or model, labels) column: this suite's mean ± std and the paper's number."""
    agg = aggregate(results, metric, group=("method", by, "n_labels"))
    names = PAPER_DATASET if by == "dataset" else PAPER_BACKBONE
    head = ["Method"]
    for value, n in columns:
        head += [f"{value} {n} (ours)", f"{names.get(value, value)} {n} (paper)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in methods:
        row = [f"{paper.METHOD_LABELS.get(method, method)} (`{method}`)"]
        for value, n in columns:
            a = agg.get((method, value, n))
            row += [str(a) if a else "not run", paper_cell(paper_table, method, by, value, n)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def variant_name(cfg: dict[str, Any]) -> str:
    """A backbone variant as the pilot names it: model:init:size[, head lr ×k]."""
    head = f", head lr ×{cfg['head_lr_mult']:g}" if cfg.get("head_lr_mult", 1.0) != 1.0 else ""
    return f"{cfg['model']}:{cfg['init']}:{cfg['image_size']}px{head}"


def pilot_table(results: list[dict[str, Any]]) -> str:
    """One row per run: final accuracies, and the last epoch's mask rate and pseudo-label accuracy."""
    lines = ["| variant | labels | method | seed | test acc (last) | test acc (best val) | mask rate (last epoch) | "
             "PL acc, subset I (last epoch) | PL acc, all (last epoch) | min/run |", "|" + "---|" * 10]
    order = {m: i for i, m in enumerate(("supervised", "fixmatch", "adacm"))}
    for r in sorted(results, key=lambda r: (variant_name(r["config"]), r["config"]["n_labels"],
                                            order.get(r["config"]["method"], 9), r["config"]["seed"])):
        c, last, summary = r["config"], r["epochs"][-1], r["summary"]

        def fmt(key: str) -> str:
            return f"{last[key] * 100:.2f}%" if key in last else "—"

        lines.append(f"| {variant_name(c)} | {c['n_labels']} | {c['method']} | {c['seed']} | {summary['test_acc_last']:.2f} | "
                     f"{summary.get('test_acc_best_val', float('nan')):.2f} | {fmt('mask_rate')} | "
                     f"{fmt('pl_acc_masked')} | {fmt('pl_acc_all')} | {r['wall_time_s'] / 60:.1f} |")
    return "\n".join(lines)
