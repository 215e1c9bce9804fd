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
# # Fig. 4 — t-SNE of CK+ features
#
# Models trained on the RAF-DB stand-in (FER2013) evaluate on CK+ when they finish and store a
# 2-D t-SNE of their features (see `adacm/crossdata.py`). This notebook draws one panel per
# method, coloured by expression, as in the paper's Fig. 4, and quantifies the picture with the
# stored silhouette score and subject-disjoint 5-NN accuracy (mean ± std over seeds).
# It reads stored results only; no training.

# %% tags=["parameters"]
results_dir = "results"
protocol = "cpu"
labels = 4000
methods = ["supervised", "fixmatch", "adacm_lu", "adacm"]
output_dir = "figures"

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from adacm.data.datasets import CLASSES
from adacm.paths import REPO_ROOT
from adacm.results import load_results

root = Path(results_dir) if Path(results_dir).is_absolute() else REPO_ROOT / results_dir
runs = [r for r in load_results(root, protocol) if r.get("cross_dataset", {}).get("ckplus")
        and r["config"]["dataset"] == "fer2013"]
available = sorted({r["config"]["n_labels"] for r in runs})
if labels not in available and available:
    print(f"no CK+ features stored for {labels} labels; using {max(available)} labels (stored: {available})")
    labels = max(available)
chosen = {m: [r for r in runs if r["config"]["method"] == m and r["config"]["n_labels"] == labels] for m in methods}
chosen = {m: rs for m, rs in chosen.items() if rs}
print({m: len(rs) for m, rs in chosen.items()})

# %%
fig, axes = plt.subplots(1, max(1, len(chosen)), figsize=(4 * max(1, len(chosen)), 4), squeeze=False)
colours = plt.cm.tab10(np.arange(7))
for ax, (method, rs) in zip(axes[0], chosen.items()):
    ck = rs[0]["cross_dataset"]["ckplus"]  # the first seed's embedding
    xy, y = np.array(ck["tsne"]), np.array(ck["labels"])
    for c in np.unique(y):
        ax.scatter(*xy[y == c].T, s=6, color=colours[c], label=CLASSES[c])
    sil = [r["cross_dataset"]["ckplus"]["silhouette"] for r in rs]
    knn = [r["cross_dataset"]["ckplus"]["knn_acc"] for r in rs]
    ax.set_title(f"{method}\nsilhouette {np.mean(sil):.3f}, 5-NN {np.mean(knn):.1f}% (n={len(rs)})", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
axes[0, 0].legend(fontsize=7, markerscale=2)
fig.suptitle(f"CK+ features of models trained on FER2013 with {labels} labels ({protocol} protocol)")
fig.tight_layout()
out = Path(output_dir) if Path(output_dir).is_absolute() else REPO_ROOT / output_dir
out.mkdir(parents=True, exist_ok=True)
fig.savefig(out / "fig4_tsne.png", dpi=110)
fig.savefig(out / "fig4_tsne.pdf")

# %%
for method, rs in chosen.items():
    for key in ("acc", "silhouette", "knn_acc"):
        v = [r["cross_dataset"]["ckplus"][key] for r in rs]
        print(f"{method:12s} {key:10s} {np.mean(v):7.3f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.3f}")
