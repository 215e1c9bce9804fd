"""Fig. 4: t-SNE of CK+ features from models trained on the RAF-DB stand-in with 4,000 labels.

Panels: Baseline, FixMatch, Ada-CM without Lc (`adacm_lu`), Ada-CM, coloured by expression.
Each run stores a 2-D t-SNE of its final EMA model's CK+ features when it ends (no checkpoint
is kept), so this script trains what is missing and draws from the stored results. Beyond the
paper, each panel gives the features' silhouette score and subject-disjoint 5-NN accuracy,
mean ± std over seeds. Writes figures/fig4_tsne.png and .pdf (the notebook
notebooks/fig4_tsne.ipynb draws the same from stored results only).
Example: python experiments/fig4.py --protocol smoke --figure /tmp/fig4
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adacm.errors import run_cli
from adacm.report.plots import tsne_figure
from adacm.report.tables import aggregate
from adacm.run.runner import add_grid_args, grid_from_args, run_configs

METHODS = ["supervised", "fixmatch", "adacm_lu", "adacm"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grid_args(parser, METHODS)
    parser.add_argument("--figure", type=Path, default=Path("figures/fig4_tsne"))
    args = parser.parse_args()
    run_cli(lambda: fig4(args))


def fig4(args: argparse.Namespace) -> None:
    configs = grid_from_args(args, [("rafdb", 4000)])
    results = run_configs(configs, args.results_dir, "fig4", args.rerun, args.dry_run, args.shard, args.precision,
                          jobs=args.jobs, workers=args.workers)
    for metric in ("ckplus_acc", "ckplus_silhouette", "ckplus_knn_acc"):
        for (method, _, n), a in aggregate(results, metric).items():
            print(f"{method:>12} {n} labels  {metric:<18} {a}")
    if not args.dry_run:
        by_method = {m: [r for r in results if r["config"]["method"] == m] for m in args.methods}
        title = f"CK+ features, trained on {configs[0].dataset} with {configs[0].n_labels} labels ({args.protocol} protocol)"
        print(f"figure: {tsne_figure(by_method, args.figure, title)}")


if __name__ == "__main__":
    main()
