"""The body of every table script (``experiments/table*.py``): its grid options, the runs
trained or reused, and its markdown table beside the paper's numbers."""

from __future__ import annotations

import argparse
from typing import Any

from adacm.errors import UserError, run_cli
from adacm.report.paper_tables import PaperTable
from adacm.report.tables import markdown_table
from adacm.run.runner import add_grid_args, grid_from_args, plan_grid, run_configs
from adacm.run.store import METRICS


def run_table(args: argparse.Namespace, table: PaperTable) -> str:
    """Run (or reuse) a table's grid and return its markdown table beside the paper's numbers."""
    settings = None if table.protocol_grid else table.settings
    configs = [c for name in args.backbones for c in grid_from_args(args, settings, table.number, **table.backbones[name])]
    if not configs:
        raise UserError("the grid is empty: check --dataset/--labels/--seeds")
    plan = plan_grid(configs, args.results_dir, args.rerun, args.shard)
    columns = list(dict.fromkeys((c.model if table.by == "model" else c.dataset, c.n_labels) for c in configs))
    keys = {c.key() for c in configs}

    def markdown(results: list[dict[str, Any]]) -> str:
        body = markdown_table([r for r in results if r["key"] in keys], args.methods, columns, args.metric,
                              table.number, table.by)
        return f"{METRICS[args.metric]}, protocol `{args.protocol}`, mean ± sample std over seeds\n\n{body}"

    if plan.to_train and not args.dry_run and plan.missing < len(configs):  # what is stored, before hours of training
        print("stored so far:\n\n" + markdown([r for r in plan.stored.values() if r]) + "\n", flush=True)
    return markdown(run_configs(configs, args.results_dir, table.experiment, args.rerun, args.dry_run, args.shard,
                                args.precision, plan, args.jobs, args.workers))


def table_main(doc: str, table: PaperTable) -> None:
    """The whole body of a table script: parse the grid options, run or reuse, print the table."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grid_args(parser, table.methods)
    names = list(table.backbones)
    parser.add_argument("--backbones", nargs="+", default=names, choices=names,
                        help=f"which of the table's backbones to train (default: {' '.join(names)}; "
                             "default: the protocol's own, wrn28_2: WRN-28-2 from scratch at 32 px)")
    parser.set_defaults(metric=table.metric)
    args = parser.parse_args()
    run_cli(lambda: print(run_table(args, table)))
