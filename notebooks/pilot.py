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
# # The backbone pilot
#
# Which start the `cpu` protocol fine-tunes from (issues 3 and 9): Baseline, FixMatch and
# Ada-CM from each backbone variant, per label count — EMA test accuracy, mask rate and
# pseudo-label accuracy per epoch (mean over the seeds stored) — and the linear-probe curve
# of the label-free SimCLR start. Reads stored results only; `experiments/pilot.py` trains.

# %% tags=["parameters"]
results_dir = "results"
protocol = "cpu"
labels = [400, 4000]
output_dir = "figures"

# %%
import json
from pathlib import Path

from IPython.display import Image, Markdown, display

from adacm.paths import REPO_ROOT
from adacm.report.pilot import pilot_figure, pilot_summary, stored_pilot_runs
from adacm.report.plots import pretrain_curve_figure

root = Path(results_dir) if Path(results_dir).is_absolute() else REPO_ROOT / results_dir
out = Path(output_dir) if Path(output_dir).is_absolute() else REPO_ROOT / output_dir

# %% [markdown]
# ## Per label count: the variants side by side

# %%
for n in labels:
    runs = stored_pilot_runs(root, protocol, n)
    if not runs:
        print(f"no pilot runs stored for {n} labels")
        continue
    display(Markdown(pilot_summary(runs)))
    display(Image(filename=str(pilot_figure(runs, n, out / f"pilot_{n}"))))

# %% [markdown]
# ## The SimCLR start: linear probe (400 labels) against pretraining steps

# %%
record = root / "pretrain" / "simclr_resnet18.json"
if record.is_file():
    display(Image(filename=str(pretrain_curve_figure(json.loads(record.read_text()), out / "simclr_probe"))))
else:
    print(f"{record} not stored: run `adacm pretrain` and copy its record there")
