"""``torchrun --nproc_per_node N -m adacm.run.launch``: train a grid data-parallel, one run at a
time over all processes (``adacm.run.distributed``), into the results store; the experiment
scripts, which take the same options, then print their tables from the stored runs."""

from __future__ import annotations

import argparse
import traceback

from adacm.algorithms import method_args
from adacm.errors import run_cli
from adacm.run.distributed import Distributed
from adacm.run.runner import (
    add_grid_args,
    grid_from_args,
    in_shard,
    say,
    stored_to_reuse,
    train_one,
)


def train_grid(args: argparse.Namespace, ctx: Distributed) -> None:
    """Train every config of the grid (this shard) that the store lacks, all ranks on one run at a time."""
    for method in args.methods:  # a typo fails now, not after the grid's first runs
        method_args(method)
    configs = [c for c in grid_from_args(args) if in_shard(c, args.shard)]
    todo = ctx.on_main(lambda: [c for c in configs
                                if args.rerun or not stored_to_reuse(args.results_dir, c, tell=True)])
    say(ctx, f"{len(configs)} runs, {len(todo)} to train on {ctx.world_size} process(es)")
    for i, cfg in enumerate(todo, 1):
        say(ctx, f"[{i}/{len(todo)}] {cfg.run_name()}")
        if not args.dry_run:
            train_one(cfg, args.results_dir, args.experiment, args.precision, workers=args.workers, rerun=args.rerun)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node N -m adacm.run.launch",
        description="Train a grid of runs data-parallel (one run at a time over all processes) into the results "
                    "store; print tables afterwards with the experiment scripts, which reuse stored runs.")
    add_grid_args(parser, ["adacm"])
    parser.add_argument("--experiment", default="ddp", help="store folder under results/<protocol>/ (default: ddp)")
    args = parser.parse_args(argv)
    ctx = Distributed.from_env()
    code = 0
    try:
        run_cli(lambda: train_grid(args, ctx))  # returns with no trainer left alive (see close)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except Exception:
        traceback.print_exc()
        code = 1
    if code:
        ctx.exit(code)  # not through close: a rank that failed alone leaves the others in a collective; torchrun stops them
    ctx.close()
    ctx.exit(code)


if __name__ == "__main__":
    main()
