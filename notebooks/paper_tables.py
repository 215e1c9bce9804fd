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
# # The paper's Tables 1–4 as charts
#
# One chart per table: for each of its columns (dataset or backbone, number of labels) and
# each method, this suite's mean ± std over seeds (filled) beside the paper's reported
# mean ± std (hatched), from the stored runs of a protocol. Under `cpu` the columns are the
# protocol's stand-ins (FER2013 for RAF-DB, a SimCLR-pretrained ResNet-18 for MS-Celeb-1M's; see docs/protocols.md),
# so the bars compare orderings, not numbers. Table 4 is CK+ accuracy of the models trained on
# the RAF-DB stand-in. Run once per table: `papermill notebooks/paper_tables.ipynb out.ipynb -p table 1`
# (`make figures` runs all four). No training here.

# %% tags=["parameters"]
results_dir = "results"
protocol = "cpu"
table = 2
output_dir = "figures"

# %%
from pathlib import Path

from IPython.display import Image

from adacm.paths import REPO_ROOT
from adacm.report.plots import table_chart
from adacm.report.tables import markdown_table, paper_layout
from adacm.run.store import load_results

root = Path(results_dir) if Path(results_dir).is_absolute() else REPO_ROOT / results_dir
out = Path(output_dir) if Path(output_dir).is_absolute() else REPO_ROOT / output_dir
layout = paper_layout(table, protocol)
metric = "ckplus_acc" if table == 4 else "test_acc_last"
runs = [r for r in load_results(root, protocol) if layout.admits(r)]
print(markdown_table(runs, layout.methods, layout.columns, metric, table, layout.by))

# %%
title = f"Table {table}: {'CK+ accuracy' if table == 4 else 'test accuracy (last epoch)'}, {protocol} protocol vs paper"
Image(table_chart(runs, table, layout, metric, out / f"table{table}_{protocol}", title))
