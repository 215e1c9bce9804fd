"""Table 4: cross-dataset generalisation — trained on the RAF-DB stand-in, tested on CK+.

Rows: Baseline, MixMatch, FixMatch, Ada-CM, trained with 100 and 4,000 labels on the
protocol's ResNet-18 (`cpu`: SimCLR-pretrained on the training faces, `paper`: MS-Celeb-1M) and on
WRN-28-2 (from scratch, at Table 3's input size). No checkpoint is kept: every run on the
RAF-DB stand-in evaluates its final EMA model on CK+ when it ends and stores the accuracy
(and Fig. 4's features) with its result, so runs stored by Table 2 or Fig. 4 are reused.
CK+48 holds peak frames only (no neutral): accuracy is over its six basic expressions, the
prediction taken among those six (see adacm/crossdata.py); the paper used 636 images with neutral.
Example: python experiments/table4.py --protocol smoke
"""

from __future__ import annotations

import argparse

from adacm.cli import run_cli
from adacm.runner import add_grid_args, grid_from_args, run_configs
from adacm.tables import METRICS, WRN, markdown_table

METHODS = ["supervised", "mixmatch", "fixmatch", "adacm"]
SETTINGS = [("rafdb", 100), ("rafdb", 4000)]
#: Table 4's two backbones: the protocol's own (ResNet-18 or its stand-in) and WRN-28-2 as in Table 3
BACKBONES = {"default": {}, "wrn28_2": WRN}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grid_args(parser, METHODS)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES),
                        help="default: the protocol's ResNet-18 (stand-in); wrn28_2: WRN-28-2 from scratch")
    parser.set_defaults(metric="ckplus_acc")
    args = parser.parse_args()
    run_cli(lambda: print(table4(args)))


def table4(args: argparse.Namespace) -> str:
    configs = [c for name in args.backbones for c in grid_from_args(args, SETTINGS, **BACKBONES[name])]
    results = run_configs(configs, args.results_dir, "table4", args.rerun, args.dry_run, args.shard)
    keys = {c.key() for c in configs}
    results = [r for r in results if r["key"] in keys]
    columns = list(dict.fromkeys((c.model, c.n_labels) for c in configs))
    table = markdown_table(results, args.methods, columns, args.metric, paper_table=4, by="model")
    return f"{METRICS[args.metric]}, protocol `{args.protocol}`, mean ± sample std over seeds\n\n{table}"


if __name__ == "__main__":
    main()
