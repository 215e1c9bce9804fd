"""Figures drawn from stored results (matplotlib, no display needed)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PANELS = (("test_acc", "EMA test accuracy (%)"), ("mask_rate", "mask rate (subset I share)"),
          ("pl_acc_masked", "pseudo-label accuracy on subset I"))


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write ``path``.png and .pdf (creating the folder) and close the figure; returns the PNG."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path.with_suffix(".png"), dpi=110)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    return path.with_suffix(".png")


def curves_by_variant(results: list[dict[str, Any]], variant_of: Any, path: Path, title: str) -> Path:
    """One column per variant, rows = PANELS, one line per method (mean over seeds), saved as PNG and PDF."""
    grouped: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        grouped[variant_of(r)][r["config"]["method"]].append(r)
    variants = sorted(grouped)
    fig, axes = plt.subplots(len(PANELS), len(variants), figsize=(4 * len(variants), 8), squeeze=False, sharey="row")
    for j, variant in enumerate(variants):
        for method, runs in sorted(grouped[variant].items()):
            for i, (key, label) in enumerate(PANELS):
                series = [[e.get(key, np.nan) for e in run["epochs"]] for run in runs]
                if all(np.isnan(s).all() for s in series):
                    continue
                y = np.nanmean(np.array(series, dtype=float), axis=0)
                axes[i, j].plot(np.arange(1, len(y) + 1), y, marker="o", ms=3, label=method)
                axes[i, j].set_ylabel(label if j == 0 else "")
        axes[0, j].set_title(variant, fontsize=9)
        axes[-1, j].set_xlabel("epoch")
        for i in range(len(PANELS)):
            axes[i, j].grid(alpha=0.3)
        axes[0, j].legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def sweep_figure(points: dict[str, list[tuple[float, float, float]]], defaults: dict[str, float], path: Path) -> Path:
    """Fig. 3 style: accuracy (mean ± std) against each swept parameter, the default in red."""
    labels = {"b": "B", "gamma": "γ"}
    fig, axes = plt.subplots(1, len(points), figsize=(4.5 * len(points), 3.5), squeeze=False)
    for ax, (name, pts) in zip(axes[0], points.items()):
        pts = sorted(pts)
        x, m, s = (np.array(v) for v in zip(*pts)) if pts else (np.array([]),) * 3
        ax.errorbar(x, m, yerr=s, fmt="o-", color="tab:blue", capsize=3)
        is_default = np.isclose(x, defaults[name])
        ax.errorbar(x[is_default], m[is_default], yerr=s[is_default], fmt="o", color="red", capsize=3,
                    label="default")
        ax.set_xlabel(labels.get(name, name))
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    return save_figure(fig, path)
