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
# # The paper's claims: verdicts with their uncertainty
#
# Each of the paper's comparative claims ("A beats B") evaluated on the stored runs: the two
# methods' runs paired by seed, the mean paired difference with its 95% t-interval (thick) and,
# where both runs stored per-image predictions, the two-level bootstrap's (thin), coloured by the
# verdict (Holm-adjusted over every evaluated claim); the paper's gap as a black cross. The
# table below the figure is `adacm claims`. No training here.

# %% tags=["parameters"]
results_dir = "results"
protocol = "cpu"
output_dir = "figures"

# %%
from pathlib import Path

from IPython.display import Image, Markdown

from adacm.paths import REPO_ROOT
from adacm.report.claims import claims_table, evaluate
from adacm.report.plots import forest_plot
from adacm.report.regimes import regime_rows, regime_verdicts, regimes_report
from adacm.run.store import load_results

root = Path(results_dir) if Path(results_dir).is_absolute() else REPO_ROOT / results_dir
out = Path(output_dir) if Path(output_dir).is_absolute() else REPO_ROOT / output_dir
verdicts = evaluate(load_results(root, protocol), protocol)
Image(forest_plot([v.to_dict() for v in verdicts], out / f"claims_{protocol}",
                  f"The paper's claims under the `{protocol}` protocol"))

# %%
Markdown(claims_table(verdicts))

# %% [markdown]
# The same for Table 2's claims in every regime of the protocol (a named variant: the backbone's
# start, the schedule), each regime its own Holm family (`adacm claims --regimes`).

# %%
by_regime = regime_verdicts(load_results(root, protocol), protocol)
Image(forest_plot(regime_rows(by_regime), out / f"claims_regimes_{protocol}",
                  f"Table 2's claims per regime under the `{protocol}` protocol", facet="regime"))

# %% [markdown]
# Their verdicts in words and as a matrix, whether the regime changes each gap (paired by seed
# against the default regime), and each regime's operating point against the paper's.

# %%
Markdown(regimes_report(root, protocol))
