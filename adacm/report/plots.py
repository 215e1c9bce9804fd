"""Figures drawn from stored results (matplotlib, no display needed)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from adacm.algorithms import method_label
from adacm.data.dataset import CLASSES
from adacm.report.tables import aggregate, paper_value

if TYPE_CHECKING:
    from adacm.report.sweeps import SweepPoint

PANELS = (("test_acc", "EMA test accuracy (%)"), ("mask_rate", "mask rate (subset I share)"),
          ("pl_acc_masked", "pseudo-label accuracy on subset I"))


def save_figure(fig: plt.Figure, path: Path, layout: bool = True) -> Path:
    """Write ``path``.png and .pdf (creating the folder) and close the figure; returns the PNG. The
    PDF carries no creation date, so the same results redraw the same bytes."""
    if layout:
        fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path.with_suffix(".png"), dpi=110)
    fig.savefig(path.with_suffix(".pdf"), metadata={"CreationDate": None})
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
            if not axes[i, j].lines:  # e.g. pseudo-label accuracy where no unlabeled image ever passed
                axes[i, j].text(0.5, 0.5, "nothing to show", ha="center", va="center", color="grey",
                                transform=axes[i, j].transAxes)
        axes[0, j].legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def pretrain_curve_figure(meta: dict[str, Any], path: Path) -> Path:
    """``adacm pretrain``'s record: linear-probe accuracy and SimCLR loss against steps (and minutes)."""
    curve = meta["curve"]
    steps = [p["step"] for p in curve]
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.plot(steps, [p["probe_acc"] for p in curve], marker="o", ms=3, color="C0")
    ax.set_xlabel("SimCLR step (batch of 256 pairs)")
    ax.set_ylabel("linear probe, FER2013 test (%)", color="C0")
    ax.grid(alpha=0.3)
    loss = ax.twinx()
    loss.plot(steps, [p["loss"] for p in curve], color="C1", alpha=0.7)
    loss.set_ylabel("InfoNCE loss", color="C1")
    ax.set_title(f"SimCLR {meta['config']['model']}: {meta['steps']} steps, {meta['train_minutes']:.0f} min of training",
                 fontsize=10)
    return save_figure(fig, path)


def sweep_figure(points: dict[str, list[SweepPoint]], defaults: dict[str, float], path: Path) -> Path:
    """Fig. 3 style: accuracy against each swept parameter (a ``sweeps.SweepPoint`` per value):
    mean ± std over seeds with each point's n, the default in red, and each seed's runs as a thin
    grey line (a seed's runs share its split and initialisation, so its line is a paired comparison)."""
    labels = {"b": "B", "gamma": "γ"}
    fig, axes = plt.subplots(1, len(points), figsize=(4.5 * len(points), 3.5), squeeze=False)
    for ax, (name, pts) in zip(axes[0], points.items()):
        pts = sorted(pts, key=lambda p: p.value)
        seeds = sorted({s for p in pts for s in p.by_seed})
        for seed in seeds:
            xs = [(p.value, p.by_seed[seed]) for p in pts if seed in p.by_seed]
            ax.plot(*zip(*xs), "-", color="grey", alpha=0.5, lw=0.8, label="one seed" if seed == seeds[0] else None)
        x = np.array([p.value for p in pts])
        m, s = np.array([p.agg.mean for p in pts]), np.array([p.agg.std for p in pts])
        ax.errorbar(x, m, yerr=s, fmt="o-", color="tab:blue", capsize=3, label="mean ± std")
        is_default = np.isclose(x, defaults[name])
        ax.errorbar(x[is_default], m[is_default], yerr=s[is_default], fmt="o", color="red", capsize=3,
                    label="default")
        for p in pts:
            ax.annotate(f"n={p.agg.n}", (p.value, p.agg.mean), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7)
        ax.set_xlabel(labels.get(name, name))
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def tsne_figure(runs_by_method: dict[str, list[dict[str, Any]]], path: Path, title: str) -> Path:
    """Fig. 4: one panel per method with the first seed's stored 2-D t-SNE of CK+ features, coloured
    by expression; each title gives silhouette and subject-disjoint 5-NN accuracy, mean ± std over seeds."""
    methods = [m for m, runs in runs_by_method.items() if runs]
    fig, axes = plt.subplots(1, max(1, len(methods)), figsize=(4 * max(1, len(methods)), 4.2), squeeze=False)
    colours = plt.cm.tab10(np.arange(len(CLASSES)))
    for ax, method in zip(axes[0], methods):
        runs = sorted(runs_by_method[method], key=lambda r: r["config"]["seed"])
        ck = runs[0]["cross_dataset"]["ckplus"]
        xy, y = np.array(ck["tsne"]), np.array(ck["labels"])
        for c in np.unique(y):
            ax.scatter(*xy[y == c].T, s=5, color=colours[c], label=CLASSES[c])
        summary = []
        for key, label in (("silhouette", "silhouette"), ("knn_acc", "5-NN %")):
            v = np.array([r["cross_dataset"]["ckplus"][key] for r in runs])
            summary.append(f"{label} {v.mean():.3g} ± {v.std(ddof=1) if len(v) > 1 else 0:.2g}")
        ax.set_title(f"{method} (n={len(runs)})\n" + ", ".join(summary), fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].legend(fontsize=7, markerscale=2)
    fig.suptitle(title)
    return save_figure(fig, path)


def table_chart(results: list[dict[str, Any]], table: int, layout: Any, metric: str, path: Path, title: str) -> Path:
    """A paper table as bars: one panel per column with stored runs (every column if none has),
    per method this suite's mean ± std over seeds (filled) beside the paper's reported mean ± std
    (hatched); a method with no stored run has no bar."""
    agg = aggregate(results, metric, group=("method", layout.by, "n_labels"))
    stored = [(v, n) for v, n in layout.columns if any((m, v, n) in agg for m in layout.methods)]
    columns = stored or layout.columns
    ncols = min(3, len(columns))
    nrows = -(-len(columns) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(0.75 * len(layout.methods) * ncols + 1.5, 4.2 * nrows),
                             squeeze=False, sharey=True)
    for ax in axes.flat[len(columns):]:
        ax.set_visible(False)
    x = np.arange(len(layout.methods))
    for ax, (value, n) in zip(axes.flat, columns):
        ours = [agg.get((m, value, n)) for m in layout.methods]
        theirs = [paper_value(table, m, layout.by, value, n) for m in layout.methods]
        ax.bar(x - 0.2, [a.mean if a else 0 for a in ours], 0.4, yerr=[a.std if a else 0 for a in ours],
               color="tab:blue", capsize=3, label="this suite")
        ax.bar(x + 0.2, [c.mean if c else 0 for c in theirs], 0.4, yerr=[(c.std or 0) if c else 0 for c in theirs],
               color="white", edgecolor="tab:gray", hatch="//", capsize=3, label="paper")
        for i, a in enumerate(ours):
            ax.text(x[i] - 0.2, (a.mean + a.std if a else 0) + 1, f"n={a.n}" if a else "not run", ha="center",
                    fontsize=6, rotation=90)
        ax.set_xticks(x, [method_label(m) for m in layout.methods], rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{value}, {n} labels", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("accuracy (%)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


VERDICT_COLOURS = {"supported": "tab:green", "reversed": "tab:red", "inconclusive": "tab:grey", "not evaluable": "lightgrey"}


def forest_plot(verdicts: list[dict[str, Any]], path: Path, title: str, facet: str = "table") -> Path:
    """Each claim's paired difference A − B with its 95% t-interval (and the bootstrap's, thinner,
    where stored), coloured by verdict, the paper's gap as a cross; one panel per value of ``facet``
    (the paper table, or the regime where the rows carry one). ``verdicts``: ``Verdict.to_dict()`` rows."""
    panels = list(dict.fromkeys(v[facet] for v in verdicts))
    heights = [sum(v[facet] == p for v in verdicts) for p in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8.5, 1.2 + 0.32 * sum(heights)),
                             squeeze=False, gridspec_kw={"height_ratios": heights}, sharex=facet != "table")
    for ax, panel in zip(axes[:, 0], panels):
        rows = [v for v in verdicts if v[facet] == panel]
        for y, v in enumerate(reversed(rows)):
            colour = VERDICT_COLOURS[v["verdict"]]
            if v["ci_t"]:
                ax.plot(v["ci_t"], [y, y], color=colour, lw=2.5, solid_capstyle="butt")
            if v["ci_bootstrap"]:
                ax.plot(v["ci_bootstrap"], [y - 0.22] * 2, color=colour, lw=1)
            ax.plot([v["diff"]], [y], "o", color=colour, ms=5)
            if v["paper_gap"] is not None:
                ax.plot([v["paper_gap"]], [y], "x", color="black", ms=6)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{v['claim'].split(' (')[0]} (n={v['n']})" for v in reversed(rows)], fontsize=7)
        ax.set_title(f"Table {panel}" if facet == "table" else f"{facet} `{panel}`", fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
    axes[-1, 0].set_xlabel("A − B, test accuracy (points): paired mean, 95% t-interval;\nthin: the bootstrap CI over the pairs with predictions; × the paper's gap", fontsize=8)
    handles = [plt.Line2D([], [], color=c, lw=2.5, label=w) for w, c in VERDICT_COLOURS.items()]
    fig.suptitle(title, fontsize=10, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.legend(handles=handles, fontsize=7, loc="upper right", ncol=4, frameon=False)
    return save_figure(fig, path, layout=False)
