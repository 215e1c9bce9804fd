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
# # Fig. 3 — sensitivity of Ada-CM to B and γ
#
# Test accuracy (mean ± std over seeds) of Ada-CM against the margin's peak B (at γ = e) and
# its growth rate γ (at B = 0.97), the default in red, as in the paper's Fig. 3. Drawn from
# the runs `experiments/fig3.py` stored (RAF-DB stand-in, 100 labels); no training here.
# A value with no stored run is simply absent. Each seed's runs share a labeled split and an
# initialisation, so each grey line (one seed) is a paired comparison; the printout gives each
# value's gap to the default over the seeds both have.

# %% tags=["parameters"]
results_dir = "results"
protocol = "cpu"
metric = "test_acc_last"
output_dir = "figures"

# %%
from pathlib import Path

from IPython.display import Image

from adacm.paths import REPO_ROOT
from adacm.report.plots import sweep_figure
from adacm.report.sweeps import DEFAULTS, sweep_base, sweep_points, sweep_report
from adacm.run.store import load_results

root = Path(results_dir) if Path(results_dir).is_absolute() else REPO_ROOT / results_dir
out = Path(output_dir) if Path(output_dir).is_absolute() else REPO_ROOT / output_dir
points = sweep_points(load_results(root, protocol), sweep_base(protocol), metric)
print(sweep_report(points))

# %%
Image(sweep_figure(points, DEFAULTS, out / "fig3"))
