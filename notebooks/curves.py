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

from adacm.data.datasets import CLASSES
from adacm.paths import REPO_ROOT
from adacm.plots import curves_by_variant
from adacm.results import load_results

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
# ## Ada-CM's per-class confidence margin over epochs (first seed of each setting), beside the
# fixed thresholds of FixMatch (0.95) and Ada-CM's floor T0 = 0.8

# %%
adacm = [r for r in runs if r["config"]["method"] == "adacm" and r["config"]["seed"] == min(
    x["config"]["seed"] for x in runs if x["config"]["method"] == "adacm")] if any(
    r["config"]["method"] == "adacm" for r in runs) else []
fig, axes = plt.subplots(1, max(1, len(adacm)), figsize=(5 * max(1, len(adacm)), 3.5), squeeze=False)
for ax, r in zip(axes[0], adacm):
    margins = np.array([e["threshold"] for e in r["epochs"]])
    epochs = np.arange(1, len(margins) + 1)
    for c in range(margins.shape[1]):
        ax.plot(epochs, margins[:, c], marker="o", ms=3, label=CLASSES[c])
    ax.axhline(0.95, color="k", ls="--", lw=1, label="FixMatch τ=0.95")
    ax.axhline(0.8, color="grey", ls=":", lw=1, label="T0 = 0.8")
    ax.set_title(f"{r['config']['dataset']} {r['config']['n_labels']} labels, seed {r['config']['seed']}", fontsize=9)
    ax.set_xlabel("epoch"), ax.set_ylabel("threshold")
    ax.set_ylim(0.5, 1.0)
axes[0, 0].legend(fontsize=6, ncol=2)
fig.tight_layout()
out.mkdir(parents=True, exist_ok=True)
fig.savefig(out / f"margins_{protocol}_{experiment}.png", dpi=110)
fig.savefig(out / f"margins_{protocol}_{experiment}.pdf")
