# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fig. 4 — t-SNE of CK+ features
#
# Models trained on the RAF-DB stand-in (FER2013) evaluate on CK+ when they finish and store a
# 2-D t-SNE of their features (see `adacm/run/crossdata.py`). This notebook draws one panel per
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

import numpy as np
from IPython.display import Image

from adacm.paths import REPO_ROOT
from adacm.report.plots import tsne_figure
from adacm.report.tables import default_backbone, matches
from adacm.run.store import load_results

root = Path(results_dir) if Path(results_dir).is_absolute() else REPO_ROOT / results_dir
runs = [r for r in load_results(root, protocol) if r.get("cross_dataset", {}).get("ckplus")
        and r["config"]["dataset"] == "fer2013" and matches(r, default_backbone(protocol))]  # no pilot variants
available = sorted({r["config"]["n_labels"] for r in runs})
if labels not in available and available:
    print(f"no CK+ features stored for {labels} labels; using {max(available)} labels (stored: {available})")
    labels = max(available)
chosen = {m: [r for r in runs if r["config"]["method"] == m and r["config"]["n_labels"] == labels] for m in methods}
chosen = {m: rs for m, rs in chosen.items() if rs}
print({m: len(rs) for m, rs in chosen.items()})

# %%
out = Path(output_dir) if Path(output_dir).is_absolute() else REPO_ROOT / output_dir
png = tsne_figure(chosen, out / "fig4_tsne", f"CK+ features of models trained on FER2013 with {labels} labels "
                                             f"({protocol} protocol)")
Image(png)

# %%
for method, rs in chosen.items():
    for key in ("acc", "silhouette", "knn_acc"):
        v = [r["cross_dataset"]["ckplus"][key] for r in rs]
        print(f"{method:12s} {key:10s} {np.mean(v):7.3f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.3f}")
