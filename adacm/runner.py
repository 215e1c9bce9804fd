"""The one runner behind every experiment script: grid options, run-or-reuse, table.

An experiment script only says which methods, datasets and label counts its table has;
this module turns command-line options into run configs, trains what is not stored yet
(``--rerun`` forces), and prints the markdown table beside the paper's numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from adacm.config import RunConfig
from adacm.errors import UserError
from adacm.protocols import PROTOCOLS, get_protocol
from adacm.results import find_result, load_results, save_result
from adacm.tables import METRICS, markdown_table
from adacm.train import Trainer


def add_grid_args(parser: argparse.ArgumentParser, methods: list[str]) -> None:
    parser.add_argument("--protocol", default="cpu", choices=sorted(PROTOCOLS),
                        help="paper: the paper's settings (GPU); cpu: the scaled protocol (default); smoke: seconds")
    parser.add_argument("--dataset", nargs="+", help="datasets (default: the protocol's)")
    parser.add_argument("--methods", nargs="+", default=methods, help=f"methods (default: {' '.join(methods)})")
    parser.add_argument("--labels", nargs="+", type=int, help="numbers of labeled images (default: the protocol's)")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds (default: the protocol's)")
    parser.add_argument("--model", help="backbone: resnet18 or dlib_face (default: the protocol's)")
    parser.add_argument("--init", "--pretrained", dest="init", help="backbone start: scratch, simclr, face (dlib_face), or a path to a state dict "
                                       "(default: the protocol's)")
    parser.add_argument("--image-size", type=int, help="input side in px (default: the protocol's; dlib_face needs ≥ 103)")
    parser.add_argument("--epochs", type=int, help="override the protocol's epochs")
    parser.add_argument("--iters", type=int, help="override the protocol's iterations per epoch")
    parser.add_argument("--results-dir", type=Path, default=Path("results"), help="results store (default: results/)")
    parser.add_argument("--metric", default="test_acc_last", choices=sorted(METRICS), help="metric of the printed table")
    parser.add_argument("--rerun", action="store_true", help="train again even if a stored result exists")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and whether they are stored; train nothing")


def grid_from_args(args: argparse.Namespace) -> list[RunConfig]:
    protocol = get_protocol(args.protocol)
    datasets = args.dataset or list(protocol.default_datasets or protocol.datasets)
    seeds = args.seeds if args.seeds is not None else list(protocol.seeds)
    configs = []
    for dataset in datasets:
        labels = args.labels or list(protocol.labels.get(dataset, ()))
        for n in labels:
            for method in args.methods:
                for seed in seeds:
                    configs.append(protocol.config(dataset, method, n, seed, model=args.model, init=args.init,
                                                   image_size=args.image_size, epochs=args.epochs,
                                                   iters_per_epoch=args.iters))
    return configs


def run_configs(configs: list[RunConfig], results_dir: Path, experiment: str, rerun: bool = False,
                dry_run: bool = False) -> list[dict[str, Any]]:
    """Train every config that has no stored result (all of them with ``rerun``); return all results."""
    results = []
    for i, cfg in enumerate(configs, 1):
        stored = None if rerun else find_result(results_dir, cfg)
        status = "stored" if stored else ("to run" if dry_run else "running")
        print(f"[{i}/{len(configs)}] {cfg.run_name()}: {status}", file=sys.stderr, flush=True)
        if stored:
            results.append(stored)
            continue
        if dry_run:
            continue
        trainer = Trainer(cfg)
        result = trainer.fit()
        path = save_result(results_dir, experiment, result)
        trainer.discard_checkpoint()
        print(f"  → {path} test {result['summary']['test_acc_last']:.2f}% in {result['wall_time_s'] / 60:.1f} min",
              file=sys.stderr, flush=True)
        results.append(result)
    return results


def run_table(args: argparse.Namespace, experiment: str, paper_table: int) -> str:
    """Run (or reuse) a script's grid and return its markdown table."""
    configs = grid_from_args(args)
    if not configs:
        raise UserError("the grid is empty: check --dataset/--labels/--seeds")
    results = run_configs(configs, args.results_dir, experiment, args.rerun, args.dry_run)
    columns = list(dict.fromkeys((c.dataset, c.n_labels) for c in configs))
    keys = {c.key() for c in configs}
    table = markdown_table([r for r in results if r["key"] in keys], args.methods, columns, args.metric, paper_table)
    return f"{METRICS[args.metric]}, protocol `{args.protocol}`, mean ± sample std over seeds\n\n{table}"
