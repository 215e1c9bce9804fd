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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path.with_suffix(".png"), dpi=110)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    return path.with_suffix(".png")
