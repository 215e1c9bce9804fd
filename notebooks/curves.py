# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Learning curves, confidence margins, mask rate and pseudo-label accuracy
#
# What a reader of an SSL paper wants to see besides the final table: how the EMA test
# accuracy evolves, how Ada-CM's per-class margin moves against the fixed thresholds, and how
# many unlabeled images pass the threshold (mask rate) with how many right pseudo-labels.
# Reads stored results only.

# %% tags=["parameters"]
results_dir = "results"
protocol = "cpu"
experiment = "table2"
output_dir = "figures"

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from adacm.data.dataset import CLASSES
from adacm.paths import REPO_ROOT
from adacm.report.plots import curves_by_variant, save_figure
from adacm.report.tables import default_backbone, matches
from adacm.run.store import load_results

root = Path(results_dir) if Path(results_dir).is_absolute() else REPO_ROOT / results_dir
out = Path(output_dir) if Path(output_dir).is_absolute() else REPO_ROOT / output_dir
runs = load_results(root, protocol, experiment)
print(f"{len(runs)} stored runs in {root / protocol / experiment}")

# %% [markdown]
# ## Accuracy, mask rate and pseudo-label accuracy per epoch (mean over seeds), per setting

# %%
for path in [curves_by_variant(runs, lambda r: f"{r['config']['dataset']} {r['config']['n_labels']} labels",
                               out / f"curves_{protocol}_{experiment}", f"{experiment}, {protocol} protocol")]:
    print(path)

# %% [markdown]
# ## Per-class thresholds over epochs (first seed of each setting): Ada-CM's confidence margin
# (top row) beside FlexMatch's curriculum thresholds (bottom row, where stored: Table 1 runs), with
# FixMatch's fixed τ = 0.95 and Ada-CM's floor T0 = 0.8

# %%
pool = [r for r in load_results(root, protocol) if matches(r, default_backbone(protocol))]
settings = sorted({(r["config"]["dataset"], r["config"]["n_labels"]) for r in pool if r["config"]["method"] == "adacm"})
rows = [m for m in ("adacm", "flexmatch") if any(r["config"]["method"] == m for r in pool)] or ["adacm"]
fig, axes = plt.subplots(len(rows), max(1, len(settings)), figsize=(5 * max(1, len(settings)), 3.3 * len(rows)),
                         squeeze=False)
for j, (dataset, n) in enumerate(settings):
    for i, method in enumerate(rows):
        ax = axes[i, j]
        runs_here = sorted((r for r in pool if r["config"]["method"] == method
                            and (r["config"]["dataset"], r["config"]["n_labels"]) == (dataset, n)),
                           key=lambda r: r["config"]["seed"])
        if runs_here:
            r = runs_here[0]
            thresholds = np.array([e["threshold"] for e in r["epochs"]])
            epochs = np.arange(1, len(thresholds) + 1)
            for c in range(thresholds.shape[1]):
                ax.plot(epochs, thresholds[:, c], marker="o", ms=3, label=CLASSES[c])
        ax.axhline(0.95, color="k", ls="--", lw=1, label="FixMatch τ=0.95")
        ax.axhline(0.8, color="grey", ls=":", lw=1, label="T0 = 0.8")
        ax.set_title(f"{method}: {dataset} {n} labels" + (f", seed {runs_here[0]['config']['seed']}" if runs_here
                                                          else " (not stored)"), fontsize=9)
        ax.set_xlabel("epoch"), ax.set_ylabel("threshold")
        ax.set_ylim(0.0 if method == "flexmatch" else 0.5, 1.0)
axes[0, 0].legend(fontsize=6, ncol=2)
print(save_figure(fig, out / f"margins_{protocol}_{experiment}"))
