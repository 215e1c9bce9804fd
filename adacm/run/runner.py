"""The one runner behind every experiment script: grid options, run-or-reuse, table.

An experiment script only says which methods, datasets and label counts its table has;
this module turns command-line options into run configs, trains what is not stored yet
(``--rerun`` forces), and prints the markdown table beside the paper's numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from adacm.algorithms import build_algorithm
from adacm.data.dataset import NUM_CLASSES
from adacm.data.datasets import load_dataset
from adacm.data.splits import labeled_indices
from adacm.errors import UserError
from adacm.models import BACKBONES, FIXED_INITS, check_init, check_model, init_file
from adacm.models.weights import simclr_weights_path
from adacm.paths import sha256_file
from adacm.run.config import RunConfig
from adacm.run.distributed import Distributed
from adacm.run.machine import cpu_cores
from adacm.run.numerics import CHOICES
from adacm.run.pretrain import SimCLRConfig, build_of, pretrain
from adacm.run.pretrain import estimate_minutes as estimate_pretrain_minutes
from adacm.run.protocols import CPU_SIMCLR_STEPS, PROTOCOLS, get_protocol
from adacm.run.store import METRICS, check_results_dir, find_result, save_result
from adacm.run.trainer import Trainer, run_folder


def add_grid_args(parser: argparse.ArgumentParser, methods: list[str]) -> None:
    parser.add_argument("--protocol", default="cpu", choices=sorted(PROTOCOLS),
                        help="paper: the paper's settings (GPU); cpu: the scaled protocol (default); smoke: seconds")
    parser.add_argument("--dataset", nargs="+", help="datasets (default: the protocol's)")
    parser.add_argument("--methods", nargs="+", default=methods, help=f"methods (default: {' '.join(methods)})")
    parser.add_argument("--labels", nargs="+", type=int, help="numbers of labeled images (default: the protocol's)")
    parser.add_argument("--seeds", nargs="+", type=non_negative_int,
                        help="seeds (default: the protocol's for this table; cpu: 0-2, Table 2 0-9)")
    variants = "; ".join(f"{p.name}: {', '.join(p.variants)}" for p in PROTOCOLS.values() if p.variants)
    parser.add_argument("--variant", help=f"a protocol's named variant, a regime of its claims ({variants}); "
                                          "--model/--init/--image-size override it")
    parser.add_argument("--model", help=f"backbone: {', '.join(BACKBONES)} (default: the protocol's)")
    fixed = ", ".join(f"{name} ({init.model})" for name, init in FIXED_INITS.items())
    parser.add_argument("--init", "--pretrained", dest="init", help=f"backbone start: scratch, simclr, {fixed}, "
                                                                    "or a path to a state dict (default: the protocol's)")
    parser.add_argument("--image-size", type=int, help="input side in px (default: the protocol's; dlib_face needs ≥ 103)")
    parser.add_argument("--head-lr-mult", type=float, help="classifier learning rate ÷ lr (default: the protocol's)")
    parser.add_argument("--lr", type=float, help="Adam's learning rate (default: the protocol's, 5e-4)")
    parser.add_argument("--set", type=parse_setting, action="append", default=[], metavar="NAME=VALUE",
                        help="a method option, e.g. --set b=0.9 --set gamma=2 for Ada-CM (repeatable)")
    parser.add_argument("--separate-forward", action="store_const", const=False, dest="joint_forward",
                        help="one forward per view (the official code's batch-norm statistics) instead of one "
                             "joint forward of all views (the `cpu` default)")
    parser.add_argument("--epochs", type=int, help="override the protocol's epochs")
    parser.add_argument("--iters", type=int, help="override the protocol's iterations per epoch")
    parser.add_argument("--data-root", type=Path, help="the data directory (default: ADACM_DATA, then ./data, "
                                                        "then ../shared/data)")
    parser.add_argument("--results-dir", type=Path, default=Path("results"), help="results store (default: results/)")
    parser.add_argument("--metric", default="test_acc_last", choices=sorted(METRICS), help="metric of the printed table")
    parser.add_argument("--precision", choices=CHOICES, default=None,
                        help="numerics of the runs trained now: auto (default, or ADACM_PRECISION): the faster of "
                             "fp32 and bf16 autocast on this machine, by a cached probe; recorded in each result, "
                             "not part of a run's identity")
    parser.add_argument("--workers", type=non_negative_int, default=None,
                        help="loader processes augmenting ahead, for configs seeded per image (the paper protocol; "
                             "default: the cores a GPU run leaves free, none on a CPU); batches do not depend on it")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="runs trained at once, each in its own process with cores ÷ jobs threads (default 1); "
                             "results do not depend on it beyond the thread count each result records")
    parser.add_argument("--rerun", action="store_true", help="train again even if a stored result exists")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and whether they are stored; train nothing")
    parser.add_argument("--shard", type=parse_shard, default=(0, 1), metavar="I/N",
                        help="train only shard I of N of the grid (0-based), e.g. one SLURM array task each; "
                             "the table is printed from whatever the store holds")


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' → (I, N) with 0 ≤ I < N."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--shard {text!r} must look like I/N, e.g. 0/4") from exc
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: need 0 ≤ I < N")
    return i, n


def parse_setting(text: str) -> tuple[str, Any]:
    """'b=0.9' → ('b', 0.9); values are read as JSON where they can be (numbers, true/false)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"--set {text!r} must look like NAME=VALUE, e.g. b=0.9")
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value.strip()


def in_shard(cfg: RunConfig, shard: tuple[int, int]) -> bool:
    """A config's shard is fixed by its key, so every machine splits the same grid the same way."""
    i, n = shard
    return int(cfg.key(), 16) % n == i


def grid_from_args(args: argparse.Namespace, settings: list[tuple[str, int]] | None = None,
                   table: int | None = None, **fixed: Any) -> list[RunConfig]:
    """Configs for every (dataset, labels) setting × seed × method.

    ``settings`` are a script's default (dataset, labels) pairs in the paper's terms (Table 1
    pairs RAF-DB 100 with SFEW 400), mapped to the protocol's stand-ins;
    ``--dataset``/``--labels`` replace them with their cross product. ``fixed``
    are config fields the script sets (e.g. ``model='wrn28_2'``); command-line options win.
    """
    if getattr(args, "data_root", None) is not None:  # one setting for every reader, as ADACM_DATA is
        os.environ["ADACM_DATA"] = str(args.data_root)
    protocol = get_protocol(args.protocol)
    if args.dataset or args.labels or not settings:
        datasets = args.dataset or list(protocol.default_datasets or protocol.datasets)
        for dataset in datasets:
            protocol.check_dataset(dataset)
        settings = [(d, n) for d in datasets for n in (args.labels or protocol.labels.get(d, ()))]
    else:  # the script's settings are the paper's: map them to this protocol's data
        settings = list(dict.fromkeys(protocol.setting(d, n) for d, n in settings))
    seeds = args.seeds if args.seeds is not None else list(protocol.seeds_for(table))
    options = dict(model=args.model, init=args.init, image_size=args.image_size, head_lr_mult=args.head_lr_mult,
                   lr=args.lr, epochs=args.epochs, iters_per_epoch=args.iters, joint_forward=args.joint_forward,
                   method_overrides=dict(args.set) if args.set else None)
    overrides = {**protocol.variant(args.variant), **fixed, **{k: v for k, v in options.items() if v is not None}}
    # a seed's runs of every method side by side: the members of a claim's pair are trained on one
    # machine, in one session, even when a grid is split across sessions of different CPU kinds
    return [protocol.config(dataset, method, n, seed, **overrides)
            for dataset, n in settings for seed in seeds for method in args.methods]


@dataclass
class Plan:
    """What a grid needs: its stored results by key, the runs this process will train, and the
    pretrained weights that must be built first."""

    configs: list[RunConfig]
    stored: dict[str, dict[str, Any] | None]
    to_train: list[RunConfig]
    builds: list[str]  # models whose SimCLR weights are missing and needed

    @property
    def missing(self) -> int:
        return sum(1 for cfg in self.configs if not self.stored.get(cfg.key()))


def plan_grid(configs: list[RunConfig], results_dir: Path, rerun: bool = False,
              shard: tuple[int, int] = (0, 1)) -> Plan:
    check_results_dir(results_dir)
    stored = {cfg.key(): stored_to_reuse(results_dir, cfg, tell=True) for cfg in configs} if not rerun else {}
    to_train = [cfg for cfg in configs if not stored.get(cfg.key()) and in_shard(cfg, shard)]
    builds = list(dict.fromkeys(c.model for c in to_train if c.init == "simclr" and not simclr_weights_path(c.model).is_file()))
    return Plan(configs, stored, to_train, builds)


def run_configs(configs: list[RunConfig], results_dir: Path, experiment: str, rerun: bool = False,
                dry_run: bool = False, shard: tuple[int, int] = (0, 1), precision: str | None = None,
                plan: Plan | None = None, jobs: int = 1, workers: int | None = None) -> list[dict[str, Any]]:
    """Train every config of this shard that has no stored result (all with ``rerun``); return the stored ones.

    Before training it says what it will train and how long that should take here (measured
    now), and builds the SimCLR weights first if a run to train needs them and they are missing.
    A run being trained by another process (its lock file names a live process) is skipped,
    so several processes or machines can share one results store without training twice.
    """
    plan = plan or plan_grid(configs, results_dir, rerun, shard)
    check_configs(configs, [] if dry_run else plan.to_train, plan.builds)
    print(f"{len(configs)} runs: {len(configs) - plan.missing} stored, {plan.missing} to train", file=sys.stderr, flush=True)
    if plan.to_train and not dry_run:
        announce(plan, precision, jobs)
    for model in [] if dry_run else plan.builds:
        pretrain(float("inf"), CPU_SIMCLR_STEPS, SimCLRConfig(model=model), precision=precision)
    if plan.to_train and not dry_run and jobs > 1:
        train_side_by_side(plan.to_train, results_dir, experiment, precision, jobs, workers, rerun)
        plan.stored.update({cfg.key(): find_result(results_dir, cfg) for cfg in plan.to_train})
    results = []
    for i, cfg in enumerate(configs, 1):
        done = plan.stored.get(cfg.key())
        status = "stored" if done else ("to run" if dry_run else "running")
        print(f"[{i}/{len(configs)}] {cfg.run_name()}: {status}", file=sys.stderr, flush=True)
        if done:
            results.append(done)
            continue
        if dry_run or not in_shard(cfg, shard):
            continue
        result = train_one(cfg, results_dir, experiment, precision, workers=workers, rerun=rerun)
        if result is not None:
            results.append(result)
    return results


def train_one(cfg: RunConfig, results_dir: Path, experiment: str, precision: str | None,
              progress: bool = True, concurrent_runs: int = 1, workers: int | None = None,
              rerun: bool = False) -> dict[str, Any] | None:
    """Train one run and store it; None if another process holds it. Under its lock the store is
    read again: a process that planned the grid earlier must not train a run finished since. Under
    torchrun every rank calls this: rank 0 holds the lock, reads and writes the store, and tells the
    others what it decided."""
    ctx = Distributed.from_env()
    lock = run_lock(run_folder(cfg)) if ctx.is_main else contextlib.nullcontext(True)
    with lock as acquired:
        if not ctx.from_main(acquired):
            say(ctx, f"  {cfg.run_name()} → being trained by another process; skipped")
            return None
        stored = None if rerun else ctx.on_main(lambda: stored_to_reuse(results_dir, cfg))
        if stored:
            return stored
        trainer = Trainer(cfg, progress=progress, precision=precision, workers=workers)
        result = trainer.fit()
        if not ctx.is_main:
            return result
        result["machine"]["concurrent_runs"] = concurrent_runs
        path = save_result(results_dir, experiment, result)
        trainer.discard_checkpoint()
    say(ctx, f"  → {path} test {result['summary']['test_acc_last']:.2f}% (last epoch) "
             f"in {result['wall_time_s'] / 60:.1f} min")
    return result


def stored_to_reuse(results_dir: Path, cfg: RunConfig, tell: bool = False) -> dict[str, Any] | None:
    """The stored result of ``cfg`` if it stands (made from weights the suite can name), else None;
    with ``tell``, say on stderr when a stored run is set aside for that reason."""
    stored = find_result(results_dir, cfg)
    if stored and not made_from_recorded_weights(stored, cfg):
        if tell:
            print(f"{cfg.run_name()}: stored from other {cfg.init} weights (sha256 "
                  f"{str(stored.get('init_sha256'))[:12]}…); training again", file=sys.stderr, flush=True)
        return None
    return stored


def say(ctx: Distributed, message: str) -> None:
    """A progress line on stderr, from rank 0 only."""
    if ctx.is_main:
        print(message, file=sys.stderr, flush=True)


def train_side_by_side(configs: list[RunConfig], results_dir: Path, experiment: str, precision: str | None,
                       jobs: int, workers: int | None = None, rerun: bool = False) -> None:
    """Train ``configs`` ``jobs`` at a time, each in its own process with cores ÷ jobs threads, in
    grid order (a seed's methods start together). A run computes the same with or without others
    beside it (tests/test_runner.py); its thread count is recorded in its machine block."""
    threads = threads_per_job(jobs)
    print(f"training {len(configs)} runs {jobs} at a time, {threads} thread(s) each", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=torch.set_num_threads,
                             initargs=(threads,)) as pool:
        futures = [pool.submit(train_one, cfg, results_dir, experiment, precision, False, jobs, workers, rerun)
                   for cfg in configs]
        for done, future in enumerate(as_completed(futures), 1):
            future.result()
            left = (time.perf_counter() - start) / done * (len(configs) - done) / 60
            print(f"[{done}/{len(configs)} trained] ≈ {left:.0f} min to go", file=sys.stderr, flush=True)


def announce(plan: Plan, precision: str | None, jobs: int = 1) -> None:
    """Say what will be trained and how long it should take on this machine, measured now (with
    ``jobs`` > 1: a run's time at its share of the threads, ÷ jobs)."""
    minutes = {model: estimate_pretrain_minutes(CPU_SIMCLR_STEPS, SimCLRConfig(model=model), precision)
               for model in plan.builds}
    for model, m in minutes.items():
        print(f"the SimCLR {model} weights are missing: building them first ({CPU_SIMCLR_STEPS:,} steps, "
              f"≈ {m:.0f} min here, measured now)", file=sys.stderr, flush=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(threads_per_job(jobs) if jobs > 1 else threads)
    try:
        per_run = run_minutes(plan.to_train, precision)
    finally:
        torch.set_num_threads(threads)
    total = sum(minutes.values()) + sum(per_run[run_shape(c)] for c in plan.to_train) / jobs
    print(f"to train: {len(plan.to_train)} runs, ≈ {total:.0f} min in all here "
          f"({', '.join(f'{m:.1f} min per {shape[1]} run' for shape, m in per_run.items())}"
          f"{f', {jobs} at a time' if jobs > 1 else ''}; measured now: steps/s × steps + one evaluation × epochs)",
          file=sys.stderr, flush=True)


def threads_per_job(jobs: int) -> int:
    return max(1, cpu_cores() // jobs)


def run_shape(cfg: RunConfig) -> tuple[Any, ...]:
    """What a run's cost depends on (not its seed, label count or method options)."""
    return (cfg.dataset, cfg.method, cfg.model, cfg.image_size, cfg.batch_labeled, cfg.batch_unlabeled,
            cfg.joint_forward, cfg.epochs, cfg.iters_per_epoch)


def run_minutes(configs: list[RunConfig], precision: str | None) -> dict[tuple[Any, ...], float]:
    """Minutes per run of each shape among ``configs``, from a few timed steps and one evaluation."""
    out = {}
    for cfg in configs:
        shape = run_shape(cfg)
        if shape not in out:
            timing_cfg = replace(cfg, init="scratch") if cfg.init == "simclr" else cfg  # same cost, weights not needed
            with tempfile.TemporaryDirectory() as tmp:
                trainer = Trainer(timing_cfg, checkpoint_dir=Path(tmp), progress=False, precision=precision)
                step_s = trainer.seconds_per_step()
                start = time.perf_counter()
                trainer.evaluate_epoch({})
                eval_s = time.perf_counter() - start
            out[shape] = cfg.epochs * (cfg.iters_per_epoch * step_s + eval_s) / 60
    return out


def made_from_recorded_weights(result: dict[str, Any], cfg: RunConfig) -> bool:
    """Whether a stored run started from weights the suite can name. An init name like ``simclr``
    stays the same across builds, so the key cannot tell; the run's ``init_sha256`` can: a run
    from any recorded build (``results/pretrain``) stands, whichever build this machine holds. A
    user's weights file must be the one the run started from; where it is absent the run stands."""
    if cfg.init == "scratch" or cfg.init in FIXED_INITS:  # no file, or published weights known by their sha256
        return True
    if cfg.init == "simclr":
        path = simclr_weights_path(cfg.model)
        return build_of(result.get("init_sha256")) is not None or (
            path.is_file() and result.get("init_sha256") == sha256_file(path))
    try:
        path = init_file(cfg.model, cfg.init)
    except UserError:
        return True
    return path is None or result.get("init_sha256") == sha256_file(path)


def check_configs(configs: list[RunConfig], to_train: list[RunConfig], builds: list[str] = ()) -> None:
    """Everything checkable before training, so that a bad grid fails before its first run and
    leaves no result behind: hyper-parameters, method options, models and inits for every run;
    data on disk and label counts for the runs that will train (``builds``: models whose SimCLR
    weights will be built first)."""
    for cfg in configs:
        cfg.check()
        build_algorithm(cfg.method, NUM_CLASSES, cfg.joint_forward, cfg.method_overrides)
        check_model(cfg.model, cfg.image_size, cfg.bn_momentum)
    for dataset in dict.fromkeys(cfg.dataset for cfg in to_train):
        y = load_dataset(dataset).train.y
        for n, seed in dict.fromkeys((c.n_labels, c.seed) for c in to_train if c.dataset == dataset):
            labeled_indices(y, n, seed, dataset, NUM_CLASSES)
    for model, init in dict.fromkeys((c.model, c.init) for c in to_train):
        if not (init == "simclr" and model in builds):
            check_init(model, init)


@contextlib.contextmanager
def run_lock(folder: Path) -> Iterator[bool]:
    """An exclusive lock file naming this process; a stale lock (dead process) is taken over."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / "lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text() or 0)
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError, FileNotFoundError):
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            except PermissionError:
                pass  # alive, owned by someone else
            yield False
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        try:
            yield True
        finally:
            lock.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()  # gone once the run's checkpoint was discarded
        return
    yield False
