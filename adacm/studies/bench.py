"""Training throughput of one Ada-CM iteration, in images per second.

Three measurements on the same hardware in one run, each at every ``--sizes`` side, each a
ResNet-18 step over batch 16 labeled + 16 unlabeled images, i.e. 16 + 3×16 = 64 images through
forward and backward (the labeled batch, two weak and one strong view of each unlabeled image):

1. ``suite``    — this suite's ``Trainer.train_epoch`` exactly as the ``cpu`` protocol runs it
   (FER2013, 400 labels, scratch init): augmentation and batching included, the numerics the
   trainer chooses on this machine (``adacm.run.numerics``), one joint forward, Adam, EMA. The trainer gets a class-balanced 2,000-image
   subset of FER2013's training set: the size of the unlabeled pool does not change the cost of
   an iteration, and it keeps the one-off 224 px resize small.
2. ``official`` — the per-iteration structure of the official code (hangyu94/Ada-CM ``main.py``),
   re-created here: four separate forwards (``u``, ``u2``, ``x``, then ``strong``), fp32, default
   memory format, its per-class mask loop, cross-entropy, the SupCon loss on the subset-II
   features, ``loss.backward()``, an Adam step and ``WeightEMA.step`` (a loop over
   ``state_dict().values()``). It runs on pre-made random tensors: its data loading is
   excluded, which favours it.
3. ``ceiling``  — the practical ceiling: plain torchvision ResNet-18, one forward + backward +
   Adam step over the 64 pre-made images, in the fastest of fp32/bf16 × contiguous/channels_last
   on this machine (each is measured and recorded).

The goal at 48 px: suite/official ≥ 2.0 and suite/ceiling ≥ 0.8. Run it on an idle
machine: the numbers are only comparable when nothing else competes for the cores.
``--profile`` also splits one epoch of the suite's trainer (the protocol's 160 iterations, then
the EMA model's evaluation and the checkpoint) into parts, timed by wrappers put around the
trainer's calls from outside.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from tqdm import tqdm

from adacm.algorithms import build_algorithm
from adacm.algorithms.losses import info_nce
from adacm.data.dataset import NUM_CLASSES, Dataset, Part
from adacm.data.datasets import load_dataset
from adacm.errors import UserError, run_cli
from adacm.models import build_model
from adacm.report.documents import saves_or_costs
from adacm.run.config import RunConfig
from adacm.run.machine import cpu_model, machine, machine_kind
from adacm.run.numerics import PRECISIONS, Numerics
from adacm.run.protocols import get_protocol
from adacm.run.trainer import Trainer, device_description, git_commit, pick_device

TRAIN_IMAGES = 2000
EVAL_IMAGES = 64  # throughput runs never evaluate: keep the evaluation sets (resized at 224 px) tiny
GOAL_48 = {"suite/official": 2.0, "suite/ceiling": 0.8}  # the throughput goal at 48 px (module docstring)
OFFICIAL_EMA_DECAY = 0.999  # main.py's default
OFFICIAL_THRESHOLD = 0.8  # main.py's initial per-class threshold

Fn = TypeVar("Fn", bound=Callable[..., Any])
Run = Callable[[int], object]  # runs n training iterations


def suite_config(size: int) -> RunConfig:
    return get_protocol("cpu").config("fer2013", "adacm", 400, 0, model="resnet18", init="scratch", image_size=size,
                                      head_lr_mult=1.0)


def images_per_iteration(cfg: RunConfig) -> int:
    """Images through forward and backward in one iteration of ``cfg``'s method."""
    views = build_algorithm(cfg.method, NUM_CLASSES, cfg.joint_forward, cfg.method_overrides).unlabeled_views
    return cfg.batch_labeled + len(views) * cfg.batch_unlabeled


def bench_data(eval_images: int | None) -> Dataset:
    """FER2013 with a class-balanced subset of its training images (and, unless None, the first
    ``eval_images`` of val and test)."""
    full = load_dataset("fer2013")
    per_class = TRAIN_IMAGES // NUM_CLASSES
    keep = np.sort(np.concatenate([np.flatnonzero(full.train.y == c)[:per_class] for c in range(NUM_CLASSES)]))

    def cut(part: Part) -> Part:
        return part if eval_images is None else Part(part.x[:eval_images], part.y[:eval_images])

    return replace(full, train=Part(full.train.x[keep], full.train.y[keep]),
                   val=None if full.val is None else cut(full.val), test=cut(full.test))


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock time covers it (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(run: Run, iters: int, warmup: int, images: int, device: torch.device) -> float:
    run(warmup)
    synchronize(device)
    start = time.perf_counter()
    run(iters)
    synchronize(device)
    return images * iters / (time.perf_counter() - start)


# ----------------------------------------------------------------------- the three runs
def suite_run(trainer: Trainer) -> Run:
    return trainer.train_steps


def official_mask(max_probs: torch.Tensor, max_idx: torch.Tensor, threshold: list[float]) -> torch.Tensor:
    """The official ``mask_generate``'s structure: a CPU lookup per class, a Python loop per image."""
    mask = torch.zeros(len(max_probs))
    labels = max_idx.cpu().numpy()
    for c, t in enumerate(threshold):
        idx = np.flatnonzero(labels == c)
        passed = max_probs[idx].ge(t).float()
        for k, i in enumerate(idx):
            mask[i] += passed[k]
    return mask.to(max_probs.device)


def official_run(cfg: RunConfig, device: torch.device) -> Run:
    """The official training iteration on pre-made random tensors (see the module docstring).

    The network is the suite's ResNet-18 with the official head (the same function as the
    official ``ResNet_18``; it normalises its input inside, one elementwise pass that the official
    code does while loading data).
    """
    model = build_model(cfg.model, NUM_CLASSES)[0].to(device).train()
    ema_model = copy.deepcopy(model)
    for p in ema_model.parameters():
        p.detach_()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    params, ema_params = list(model.state_dict().values()), list(ema_model.state_dict().values())
    weight_decay = 0.02 * cfg.lr
    threshold = [OFFICIAL_THRESHOLD] * NUM_CLASSES
    gen = torch.Generator().manual_seed(0)
    side = cfg.image_size
    inputs_x = torch.rand(cfg.batch_labeled, 3, side, side, generator=gen).to(device)
    targets_x = torch.randint(0, NUM_CLASSES, (cfg.batch_labeled,), generator=gen).to(device)
    inputs_u, inputs_u2, inputs_strong = (torch.rand(cfg.batch_unlabeled, 3, side, side, generator=gen).to(device)
                                          for _ in range(3))

    def step() -> None:
        outputs_u, feature_u = model(inputs_u)
        outputs_u2, feature_u2 = model(inputs_u2)
        p = (torch.softmax(outputs_u, dim=1) + torch.softmax(outputs_u2, dim=1)) / 2
        max_probs, max_idx = torch.max(p, dim=1)
        max_idx = max_idx.detach()
        output_x, _ = model(inputs_x)
        mask = official_mask(max_probs, max_idx, threshold)
        rest = np.flatnonzero(mask.cpu().numpy() == 0)
        loss_x = F.cross_entropy(output_x, targets_x, reduction="none").mean()
        # SupCon without labels on [n, 2 views, d] is this InfoNCE (temperature = base temperature = 0.07)
        loss_s = info_nce(feature_u[rest], feature_u2[rest]) if len(rest) else torch.zeros((), device=device)
        output_strong, _ = model(inputs_strong)
        loss_u = (F.cross_entropy(output_strong, max_idx, reduction="none") * mask).mean()
        loss = loss_x * 0.5 + loss_u + loss_s * 0.1
        for meter in (loss, loss_x, loss_u, loss_s):  # the official AverageMeter updates: one sync each on GPU
            meter.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # WeightEMA.step
            for param, ema_param in zip(params, ema_params):
                if ema_param.dtype == torch.float32:
                    ema_param.mul_(OFFICIAL_EMA_DECAY)
                    ema_param.add_(param * (1.0 - OFFICIAL_EMA_DECAY))
                    param.mul_(1 - weight_decay)

    def run(n: int) -> object:
        for _ in range(n):
            step()
        return None

    return run


def ceiling_run(cfg: RunConfig, device: torch.device, numerics: Numerics) -> Run:
    """Plain torchvision ResNet-18: forward + backward + Adam in the given numerics."""
    model = numerics.to(torchvision.models.resnet18(num_classes=NUM_CLASSES), device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(0)
    n = images_per_iteration(cfg)
    x = numerics.to(torch.rand(n, 3, cfg.image_size, cfg.image_size, generator=gen), device)
    y = torch.randint(0, NUM_CLASSES, (n,), generator=gen).to(device)

    def run(iters: int) -> object:
        for _ in range(iters):
            with numerics.autocast(device):
                loss = F.cross_entropy(model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return None

    return run


#: ``--steps`` measures the suite in each precision and without its one joint forward
STEPS = ("in fp32", "in bf16", "without one joint forward")


@contextmanager
def suite_trainer(cfg: RunConfig, precision: str | None = None) -> Iterator[Trainer]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Trainer(cfg, bench_data(EVAL_IMAGES), checkpoint_dir=Path(tmp), progress=False, precision=precision)


def suite_speed(cfg: RunConfig, iters: int, warmup: int, device: torch.device,
                precision: str | None = None) -> tuple[float, Numerics]:
    with suite_trainer(cfg, precision) as trainer:
        speed = images_per_second(suite_run(trainer), iters, warmup, images_per_iteration(cfg), device)
        return speed, trainer.numerics


def compiled_suite_speed(cfg: RunConfig, iters: int, warmup: int, device: torch.device) -> tuple[float, float]:
    """The suite's step with its network under ``torch.compile``: images/s once compiled, and the
    compile's own seconds (the first steps' time beyond what they take compiled), from cold caches:
    a run compiles once, in a fresh process, so nothing an earlier compile left may help."""
    with suite_trainer(cfg) as trainer, tempfile.TemporaryDirectory() as cache, \
            environment(TORCHINDUCTOR_CACHE_DIR=cache):  # compile workers are processes: the real environment
        torch._dynamo.reset()
        trainer.model.compile()
        first = max(1, warmup)
        start = time.perf_counter()
        trainer.train_steps(first)
        synchronize(device)
        first_s = time.perf_counter() - start
        speed = images_per_second(suite_run(trainer), iters, 0, images_per_iteration(cfg), device)
        return speed, first_s - first * images_per_iteration(cfg) / speed


def compile_net_seconds(r: dict[str, Any], cfg: RunConfig) -> float:
    """Seconds ``torch.compile`` saves over one whole run of ``cfg``'s schedule (negative: it costs)."""
    images = cfg.epochs * cfg.iters_per_epoch * images_per_iteration(cfg)
    return images / r["suite"] - images / r["suite compiled"] - r["compile seconds"]


def measure(size: int, iters: int, warmup: int, device: torch.device, steps: bool = False,
            compiled: bool = False) -> dict[str, Any]:
    cfg = suite_config(size)
    images = images_per_iteration(cfg)
    speed, numerics = suite_speed(cfg, iters, warmup, device)
    out: dict[str, Any] = {"suite": speed, "suite numerics": numerics.to_dict()}
    if steps:
        for precision in PRECISIONS:
            out[f"suite in {precision}"] = suite_speed(cfg, iters, warmup, device, precision)[0]
        out["suite without one joint forward"] = suite_speed(replace(cfg, joint_forward=False), iters, warmup, device)[0]
    if compiled:
        out["suite compiled"], out["compile seconds"] = compiled_suite_speed(cfg, iters, warmup, device)
        out["compile net seconds per run"] = compile_net_seconds(out, cfg)
    out["official"] = images_per_second(official_run(cfg, device), iters, warmup, images, device)
    for precision in PRECISIONS:
        for channels_last in (False, True):
            variant = Numerics(precision, channels_last)
            name = f"ceiling {precision}/{'channels_last' if channels_last else 'contiguous'}"
            out[name] = images_per_second(ceiling_run(cfg, device, variant), iters, warmup, images, device)
    out["ceiling"] = max(v for k, v in out.items() if k.startswith("ceiling "))
    out["suite/official"] = out["suite"] / out["official"]
    out["suite/ceiling"] = out["suite"] / out["ceiling"]
    return out


# ------------------------------------------------------------------------------ profile
class Stopwatch:
    """Exclusive wall-clock seconds per named part: a wrapped call's time minus that of the wrapped
    calls it makes (the margin update runs inside the evaluation)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = defaultdict(float)
        self._children: list[float] = []

    def wrap(self, part: str, fn: Fn) -> Fn:
        def timed(*args: Any, **kwargs: Any) -> Any:
            synchronize(self.device)
            start = time.perf_counter()
            self._children.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                synchronize(self.device)
                elapsed = time.perf_counter() - start
                self.seconds[part] += elapsed - self._children.pop()
                if self._children:
                    self._children[-1] += elapsed
        return timed  # type: ignore[return-value]


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block (and the processes it starts), then restore them."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def patched(owner: object, name: str, value: object) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def profile_epoch(cfg: RunConfig, data: Dataset, device: torch.device) -> dict[str, Any]:
    """One epoch as ``Trainer.fit`` runs it (train_epoch, evaluate_epoch, save_checkpoint), split
    into parts; "other" is the rest of the training loop (stats, progress, loss checks)."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, data, checkpoint_dir=Path(tmp), progress=False)
        watch = Stopwatch(device)
        for owner, name, part in ((trainer, "next_batch", "augmentation/batching"),
                                  (trainer.algorithm, "loss", "forward (+ loss)"),
                                  (trainer.optimizer, "zero_grad", "optimizer (Adam)"),
                                  (trainer.optimizer, "step", "optimizer (Adam)"),
                                  (trainer.ema, "update", "EMA (+ weight decay)"),
                                  (trainer.algorithm.threshold, "update_epoch", "margin update"),
                                  (trainer, "evaluate_epoch", "evaluation (EMA on labeled, val, test)"),
                                  (trainer, "save_checkpoint", "checkpoint")):
            setattr(owner, name, watch.wrap(part, getattr(owner, name)))  # shadows the method on this object only
        with patched(torch.Tensor, "backward", watch.wrap("backward", torch.Tensor.backward)):
            start = time.perf_counter()
            stats = trainer.train_epoch(tqdm(disable=True))
            trainer.epoch += 1
            trainer.evaluate_epoch(stats)
            trainer.save_checkpoint()
            total = time.perf_counter() - start
    parts = dict(watch.seconds)
    parts["other"] = total - sum(parts.values())
    return {"iterations": cfg.iters_per_epoch, "epoch_s": total,
            "parts": {k: {"s": v, "share": v / total} for k, v in parts.items()}}


# ------------------------------------------------------------------------------- report
def file_slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "machine"


def write_record(out: Path, prefix: str, report: dict[str, Any]) -> Path:
    """Store a measurement as ``out/<prefix>_<machine kind>_<local time>.json``; the path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{prefix}_{file_slug(machine_kind(report['machine']))}_{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    return path


def format_table(results: dict[str, dict[str, float]]) -> str:
    lines = [f"{'size':>6} {'suite':>9} {'official':>9} {'ceiling':>9} {'suite/official':>15} {'suite/ceiling':>14}"]
    for size, r in results.items():
        lines.append(f"{size + ' px':>6} {r['suite']:>9.1f} {r['official']:>9.1f} {r['ceiling']:>9.1f} "
                     f"{r['suite/official']:>15.2f} {r['suite/ceiling']:>14.2f}")
    return "\n".join(lines)


def format_profile(size: str, p: dict[str, Any]) -> str:
    lines = [f"profile, {size} px: one epoch = {p['iterations']} iterations + evaluation + checkpoint, "
             f"{p['epoch_s']:.1f} s"]
    for part, v in sorted(p["parts"].items(), key=lambda kv: -kv[1]["s"]):
        lines.append(f"  {part:<40} {v['s']:>8.2f} s {100 * v['share']:>6.1f}%")
    return "\n".join(lines)


def run_bench(args: argparse.Namespace) -> None:
    if args.iters < 1 or args.warmup < 0:
        raise UserError(f"--iters {args.iters} must be ≥ 1 and --warmup {args.warmup} ≥ 0")
    device = pick_device()
    results = {str(size): measure(size, args.iters, args.warmup, device, args.steps, args.compile) for size in args.sizes}
    report: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "host": platform.node(),
        "cpu_model": cpu_model(), "device": device_description(device), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "machine": machine(device), "code": git_commit(),
        "settings": {"sizes": args.sizes, "iters": args.iters, "warmup": args.warmup,
                     "images_per_iteration": images_per_iteration(suite_config(args.sizes[0])),
                     "suite_train_images": TRAIN_IMAGES,
                     "suite_configs": {str(size): suite_config(size).to_dict() for size in args.sizes},
                     "official": "pre-made random tensors, data loading excluded",
                     "ceiling": "pre-made random tensors, the fastest of fp32/bf16 × contiguous/channels_last"},
        "images_per_s": results, "goal_48": GOAL_48}
    print(f"images/s, ResNet-18, {report['settings']['images_per_iteration']} images per iteration; "
          f"{report['device']}, {report['cpu_model']}, torch {torch.__version__}")
    print(format_table(results))
    for size, r in results.items():
        print(f"{size} px: the suite ran in {r['suite numerics']['precision']}"
              f"{' + channels_last' if r['suite numerics']['channels_last'] else ''}; ceiling per numerics: "
              + ", ".join(f"{k.removeprefix('ceiling ')} {v:.1f}" for k, v in r.items() if k.startswith("ceiling ")))
        for step in STEPS:
            if f"suite {step}" in r:
                print(f"{size} px, suite {step}: {r[f'suite {step}']:.1f} images/s "
                      f"(×{r[f'suite {step}'] / r['suite']:.2f} of the suite's choice)")
        if "suite compiled" in r:
            cfg, net = suite_config(int(size)), r["compile net seconds per run"]
            print(f"{size} px, suite under torch.compile: {r['suite compiled']:.1f} images/s "
                  f"(×{r['suite compiled'] / r['suite']:.2f}), compiling {r['compile seconds']:.0f} s: over a run of "
                  f"{cfg.epochs * cfg.iters_per_epoch:,} steps it {saves_or_costs(net)}")
    if "48" in results:
        met = {k: results["48"][k] >= goal for k, goal in GOAL_48.items()}
        report["goal_48_met"] = met
        print("goal at 48 px: " + ", ".join(f"{k} ≥ {GOAL_48[k]}: {'met' if ok else 'missed'}"
                                            for k, ok in met.items()))
    if args.profile:
        report["profile"] = {str(size): profile_epoch(replace(suite_config(size), epochs=1), bench_data(None), device)
                             for size in args.sizes}
        for size, p in report["profile"].items():
            print(format_profile(size, p))
    print(f"wrote {write_record(args.out, 'bench', report)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adacm.studies.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[48, 224], help="image sides in px (default: 48 224)")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations per measurement (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations first (default: 3)")
    parser.add_argument("--out", type=Path, default=Path("results/bench"),
                        help="folder for the JSON (default: results/bench)")
    parser.add_argument("--steps", action="store_true",
                        help="also measure the suite in fp32, in bf16, and without its one joint forward")
    parser.add_argument("--compile", action="store_true",
                        help="also measure the suite's step under torch.compile, compile time included per run")
    parser.add_argument("--profile", action="store_true",
                        help="also split one epoch of the suite's trainer into parts (slow: a full epoch per size)")
    args = parser.parse_args(argv)
    run_cli(lambda: run_bench(args))


if __name__ == "__main__":
    main()
