"""The shared trainer: data, optimisation, EMA, per-epoch evaluation, checkpoints, results.

Per epoch: ``iters_per_epoch`` steps of Adam on the algorithm's loss (batch 16 labeled + 16
unlabeled, each unlabeled image in the views the algorithm asks for); after each step the
EMA model follows. At the end of the epoch the EMA model predicts the labeled set (which the
algorithm's threshold may learn from: Ada-CM's margin), the validation and the test set.
Three test accuracies are recorded: at the last epoch (the honest number), at the best
validation epoch (model selection without test labels), and at the best test epoch (the
paper's practice — selection on the test set — kept only for comparison and labelled so).
Every epoch ends with an atomic checkpoint, so a killed run resumes where it stopped and
ends with the same metrics as an uninterrupted run. Started by torchrun, the same trainer runs
data-parallel; ``adacm.run.distributed`` holds what differs (``self.dist``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from adacm.algorithms import Algorithm, Batch, build_algorithm
from adacm.data.augment import to_tensor
from adacm.data.dataset import NUM_CLASSES, Dataset
from adacm.data.datasets import load_dataset
from adacm.data.loader import Augmenter, StepPlan
from adacm.data.splits import labeled_indices, split_hash
from adacm.data.streams import IndexStream, resize_images
from adacm.errors import UserError
from adacm.models import build_model
from adacm.models.ema import EMA
from adacm.paths import REPO_ROOT, cache_dir
from adacm.run.config import RunConfig
from adacm.run.crossdata import ckplus_report, load_ckplus, trained_on_rafdb
from adacm.run.distributed import Distributed
from adacm.run.machine import cpu_cores, cpu_model, machine
from adacm.run.numerics import Numerics
from adacm.run.numerics import choose as choose_numerics
from adacm.run.predictions import encode_probs
from adacm.run.protocols import default_precision


def run_folder(cfg: RunConfig) -> Path:
    """Where a run keeps its checkpoint and its lock while it trains (``ADACM_CACHE``/runs/<run name>)."""
    return cache_dir() / "runs" / cfg.run_name()


def free_cores(device: torch.device) -> int:
    """Loader workers by default: the cores a GPU run leaves free (one drives the GPU); on a CPU
    the training threads use every core, so none."""
    return max(0, cpu_cores() - 1) if device.type == "cuda" else 0


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {cpu_model()}, {torch.get_num_threads()} threads"


def git_commit() -> dict[str, Any]:
    """The code version a result was produced with (commit and whether the tree was dirty)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False).stdout.strip()
    return {"commit": git("rev-parse", "HEAD") or None,
            "dirty": bool(git("status", "--porcelain", "--", "adacm", "experiments"))}


@dataclass
class Prepared:
    """A dataset resolved for one run: labeled images, the unlabeled pool, evaluation sets."""

    x_l: np.ndarray
    y_l: np.ndarray
    x_u: np.ndarray
    y_u: np.ndarray  # hidden labels of the unlabeled pool (-1 where unknown), for monitoring only
    val: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray]
    split_hash: str
    fingerprint: dict[str, str]


def prepare_data(cfg: RunConfig, data: Dataset | None = None) -> Prepared:
    data = data or load_dataset(cfg.dataset)
    idx = labeled_indices(data.train.y, cfg.n_labels, cfg.seed, cfg.dataset, NUM_CLASSES)
    rest = np.setdiff1d(np.arange(len(data.train)), idx)
    x_u, y_u = data.train.x[rest], data.train.y[rest]
    if data.extra_unlabeled is not None:
        x_u = np.concatenate([x_u, data.extra_unlabeled])
        y_u = np.concatenate([y_u, np.full(len(data.extra_unlabeled), -1)])
    size = cfg.image_size
    val = None if data.val is None else (resize_images(data.val.x, size), data.val.y)
    return Prepared(x_l=resize_images(data.train.x[idx], size), y_l=data.train.y[idx], x_u=resize_images(x_u, size),
                    y_u=y_u, val=val, test=(resize_images(data.test.x, size), data.test.y),
                    split_hash=split_hash(idx), fingerprint=data.fingerprint)


@torch.no_grad()
def predict(model: torch.nn.Module, x: np.ndarray, numerics: Numerics, device: torch.device,
            batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities and normalised features of a uint8 image array, in eval mode."""
    model.eval()
    probs, feats = [], []
    for start in range(0, len(x), batch_size):
        inputs = numerics.to(to_tensor(x[start:start + batch_size]), device)
        with numerics.autocast(device):
            logits, feat = model(inputs)
        probs.append(torch.softmax(logits.float(), dim=1).cpu())
        feats.append(feat.float().cpu())
    return torch.cat(probs), torch.cat(feats)


def accuracy(probs: torch.Tensor, y: np.ndarray) -> float:
    return float((probs.argmax(1).numpy() == y).mean() * 100)


def confusion(probs: torch.Tensor, y: np.ndarray, num_classes: int = NUM_CLASSES) -> list[list[int]]:
    m = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(m, (y, probs.argmax(1).numpy()), 1)
    return m.tolist()


class Trainer:
    """Trains one run and returns its result record (see ``adacm.run.store``)."""

    def __init__(self, cfg: RunConfig, data: Dataset | None = None, checkpoint_dir: Path | None = None,
                 progress: bool = True, precision: str | Numerics | None = None, workers: int | None = None) -> None:
        cfg.check()
        self.cfg = cfg
        self.dist = Distributed.from_env()  # a single process unless started by torchrun
        self.dist.check_batch_sizes(cfg)
        self.device = pick_device()
        # rank 0 probes and every rank takes its choice: DDP needs the same memory format everywhere
        self.numerics = self.dist.on_main(lambda: choose_numerics(self.device, cfg.model, cfg.image_size, precision,
                                                                  default_precision(cfg.protocol)))
        self.workers = free_cores(self.device) if workers is None else workers  # used by per-image seeding only
        self.data = prepare_data(cfg, data)
        self.algorithm: Algorithm = build_algorithm(cfg.method, NUM_CLASSES, cfg.joint_forward, cfg.method_overrides)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng([cfg.seed, 0xADAC])
        pool = self.data.x_u if len(self.data.x_u) else self.data.x_l  # label-free statistics for dlib's BN
        calibration = to_tensor(pool[:: max(1, len(pool) // 512)][:512])
        model, self.init_sha256 = build_model(cfg.model, NUM_CLASSES, cfg.init, calibration=calibration,
                                                  bn_momentum=cfg.bn_momentum)
        self.model = self.numerics.to(model, self.device)
        self.train_model = self.dist.wrap(self.model)  # DDP under torchrun; self.model keeps plain state-dict keys
        head = list(self.model.classifier.parameters())
        body = [p for p in self.model.parameters() if all(p is not h for h in head)]
        self.optimizer = torch.optim.Adam([{"params": body}, {"params": head, "lr": cfg.lr * cfg.head_lr_mult}],
                                          lr=cfg.lr)
        self.ema = EMA(self.model, cfg.ema_decay, cfg.ema_weight_decay * cfg.lr)
        self.algorithm.set_unlabeled_size(len(self.data.y_u))
        if self.algorithm.needs_teacher:
            self.algorithm.teacher = self.ema.model
        self.augmenter = Augmenter(self.data.x_l, self.data.x_u, cfg.seed, self.algorithm.unlabeled_views,
                                   self.dist.rank, self.dist.world_size)
        self.labeled_stream = IndexStream(len(self.data.y_l))
        self.unlabeled_stream = IndexStream(len(self.data.y_u))
        self.history: list[dict[str, Any]] = []
        self.final_test_probs: torch.Tensor | None = None  # the last epoch's, for the per-image predictions
        self.epoch = 0
        self.elapsed = 0.0
        self.checkpoint_path = (checkpoint_dir / cfg.run_name() if checkpoint_dir else run_folder(cfg)) / "checkpoint.pt"
        self.progress = progress and self.dist.is_main

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "ema": self.ema.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "algorithm": self.algorithm.state_dict(),
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "streams": [self.labeled_stream.state_dict(), self.unlabeled_stream.state_dict()],
                "history": self.history, "epoch": self.epoch, "elapsed": self.elapsed, "key": self.cfg.key(),
                "numerics": self.numerics.to_dict()}

    def save_checkpoint(self) -> None:
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_path.with_name(f".checkpoint.{os.getpid()}.tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, self.checkpoint_path)

    def try_resume(self) -> bool:
        for torn in self.checkpoint_path.parent.glob(".checkpoint.*.tmp"):  # left by a writer killed mid-save
            torn.unlink(missing_ok=True)
        if not self.checkpoint_path.is_file():
            return False
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=False)
        if state.get("key") != self.cfg.key():
            return False
        self.model.load_state_dict(state["model"])
        self.ema.model.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.algorithm.load_state_dict(state["algorithm"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.labeled_stream.load_state_dict(state["streams"][0])
        self.unlabeled_stream.load_state_dict(state["streams"][1])
        self.history, self.epoch, self.elapsed = state["history"], state["epoch"], state["elapsed"]
        self.numerics = Numerics(**state["numerics"])  # a run is computed in one numerics, even across machines
        self.model = self.numerics.to(self.model, self.device)
        return True

    # ------------------------------------------------------------------- training
    def next_batch(self, step: int = 0) -> Batch:
        cfg, d, dist = self.cfg, self.data, self.dist
        own = dist.augmentation_rng(self.rng, cfg.seed, step)  # self.rng itself in a single process
        li = self.labeled_stream.take(cfg.batch_labeled, self.rng)
        x = dist.view(d.x_l[li], "weak", self.rng, own)
        li = dist.shard(li)
        views: list[torch.Tensor] = []
        u_true = torch.empty(0, dtype=torch.long)
        ui = np.empty(0, dtype=np.int64)
        if self.algorithm.unlabeled_views:
            ui = self.unlabeled_stream.take(cfg.batch_unlabeled, self.rng)
            views = [dist.view(d.x_u[ui], kind, self.rng, own) for kind in self.algorithm.unlabeled_views]
            ui = dist.shard(ui)
            u_true = torch.from_numpy(d.y_u[ui])
        def to_dev(t: torch.Tensor) -> torch.Tensor:
            return self.numerics.to(t, self.device)

        return Batch(x=to_dev(x), y=torch.from_numpy(d.y_l[li]).to(self.device),
                     u_views=[to_dev(v) for v in views], u_true=u_true.to(self.device), step=step,
                     total_steps=cfg.epochs * cfg.iters_per_epoch, u_index=torch.from_numpy(ui).to(self.device))

    def plan_step(self, step: int) -> StepPlan:
        """A step's global batch indices, drawn from the trainer's generator as ``next_batch`` does."""
        cfg = self.cfg
        li = self.labeled_stream.take(cfg.batch_labeled, self.rng)
        ui = (self.unlabeled_stream.take(cfg.batch_unlabeled, self.rng) if self.algorithm.unlabeled_views
              else np.empty(0, dtype=np.int64))
        return StepPlan(step, li, ui)

    def seeded_batch(self, plan: StepPlan, views: list[np.ndarray]) -> Batch:
        li, ui = self.dist.shard(plan.labeled), self.dist.shard(plan.unlabeled)
        return Batch(x=self.numerics.to(to_tensor(views[0]), self.device),
                     y=torch.from_numpy(self.data.y_l[li]).to(self.device),
                     u_views=[self.numerics.to(to_tensor(v), self.device) for v in views[1:]],
                     u_true=torch.from_numpy(self.data.y_u[ui]).to(self.device), step=plan.step,
                     total_steps=self.cfg.epochs * self.cfg.iters_per_epoch, u_index=torch.from_numpy(ui).to(self.device))

    def batches(self, n: int) -> Iterator[Batch]:
        """The epoch's ``n`` batches: augmented from the trainer's generator one step at a time, or
        (per-image seeding) planned for the whole epoch first and augmented by the loader workers."""
        first = self.epoch * self.cfg.iters_per_epoch
        if self.cfg.augment_seeding == "stream":
            yield from (self.next_batch(first + i) for i in range(n))
            return
        plans = [self.plan_step(first + i) for i in range(n)]
        yield from (self.seeded_batch(p, v) for p, v in zip(plans, self.augmenter.iterate(plans, self.workers)))

    def train_steps(self, n: int) -> dict[str, float]:
        """``n`` training iterations outside the epoch schedule (benchmarks and time estimates)."""
        scheduled = self.cfg
        self.cfg = replace(scheduled, iters_per_epoch=n)
        try:
            return self.train_epoch(tqdm(disable=True))
        finally:
            self.cfg = scheduled

    def seconds_per_step(self, steps: int = 2, warmup: int = 1) -> float:
        """Wall-clock seconds per training iteration here, augmentation included (after ``warmup``)."""
        self.train_steps(warmup)
        start = time.perf_counter()
        self.train_steps(steps)
        return (time.perf_counter() - start) / steps

    def train_epoch(self, bar: tqdm) -> dict[str, float]:
        self.model.train()
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for i, batch in enumerate(self.batches(self.cfg.iters_per_epoch)):
            with self.numerics.autocast(self.device):
                loss, stats = self.algorithm.loss(self.train_model, batch)
            if not torch.isfinite(loss):
                total = self.cfg.epochs * self.cfg.iters_per_epoch
                raise UserError(f"{self.cfg.run_name()}: loss became {loss.item()} at step {batch.step + 1} of {total} "
                                f"(epoch {self.epoch + 1}, iteration {i + 1}); the last good checkpoint (epoch "
                                f"{self.epoch}) is kept at {self.checkpoint_path}: lower the learning rate or check "
                                "the data")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.dist.sync_buffers(self.model)
            self.ema.update(self.model)
            for k, v in stats.items():
                sums[k] += v
                counts[k] += 1
            bar.update(1)
            bar.set_postfix({k: f"{sums[k] / counts[k]:.3f}" for k in ("loss_x", "mask_rate") if counts[k]},
                            refresh=False)  # a refresh per step would flood a log: mininterval paces it
        sums, counts = self.dist.sum_over_ranks(sums, counts)
        stats = {k: sums[k] / counts[k] for k in sums if not k.startswith("n_")}
        if sums.get("n_masked"):  # pseudo-label accuracy over all of the epoch's subset-I samples
            stats["pl_acc_masked"] = sums["n_masked_right"] / sums["n_masked"]
        return stats

    def evaluate_epoch(self, train_stats: dict[str, float]) -> dict[str, Any]:
        ema, cfg, d = self.ema.model, self.cfg, self.data
        record: dict[str, Any] = {"epoch": self.epoch, **train_stats}
        threshold = self.algorithm.threshold
        if threshold is not None and threshold.learns_from_labeled:  # no reported number needs it otherwise
            probs_l, _ = predict(ema, d.x_l, self.numerics, self.device)
            threshold.update_epoch(probs_l, torch.from_numpy(d.y_l), self.epoch)
            record["labeled_acc"] = accuracy(probs_l, d.y_l)
        probs_t, _ = predict(ema, d.test[0], self.numerics, self.device)
        record["test_acc"] = accuracy(probs_t, d.test[1])
        if d.val is not None:
            record["val_acc"] = accuracy(predict(ema, d.val[0], self.numerics, self.device)[0], d.val[1])
        if threshold is not None:
            record["threshold"] = [round(v, 5) for v in threshold.values().tolist()]
        if self.epoch == cfg.epochs:
            record["test_confusion"] = confusion(probs_t, d.test[1])
            self.final_test_probs = probs_t
        return record

    def cross_dataset(self) -> dict[str, Any]:
        """CK+ evaluation of the final EMA model for runs on the RAF-DB stand-in (Table 4, Fig. 4)."""
        if not trained_on_rafdb(self.cfg.dataset):
            return {}
        ck = load_ckplus(self.cfg.image_size)
        probs, feats = predict(self.ema.model, ck.x, self.numerics, self.device)
        return {"ckplus": {**ckplus_report(probs, feats, ck, self.cfg.seed), "data_sha256": ck.fingerprint}}

    def fit(self) -> dict[str, Any]:
        cfg = self.cfg
        resumed = self.try_resume()
        total = cfg.epochs * cfg.iters_per_epoch
        with tqdm(total=total, initial=self.epoch * cfg.iters_per_epoch, desc=cfg.run_name()[:48],
                  disable=not self.progress, mininterval=2.0, dynamic_ncols=True, file=sys.stderr) as bar:
            while self.epoch < cfg.epochs:
                start = time.perf_counter()
                train_stats = self.train_epoch(bar)
                self.epoch += 1
                record = self.dist.evaluate_on_main(lambda: self.evaluate_epoch(train_stats), self.algorithm)
                record["time_s"] = round(time.perf_counter() - start, 2)
                self.elapsed += record["time_s"]
                self.history.append(record)
                if self.progress:  # beside the bar, on stderr: stdout is the script's table
                    bar.write(f"epoch {self.epoch}/{cfg.epochs} test {record['test_acc']:.2f}"
                              + (f" val {record['val_acc']:.2f}" if "val_acc" in record else "")
                              + (f" mask {record['mask_rate']:.2f}" if "mask_rate" in record else ""), file=sys.stderr)
                if self.dist.is_main:
                    self.save_checkpoint()
        return self.dist.on_main(lambda: {**self.result(resumed), "predictions": self.predictions(),
                                          "cross_dataset": self.cross_dataset()})

    def predictions(self) -> dict[str, Any]:
        """Per-image predictions of the final EMA model on the test set (``adacm.run.predictions``)."""
        probs = self.final_test_probs
        if probs is None:  # resumed from the last epoch's checkpoint: evaluate once more
            probs = predict(self.ema.model, self.data.test[0], self.numerics, self.device)[0]
        return {"test": encode_probs(probs)}

    def result(self, resumed: bool) -> dict[str, Any]:
        h = self.history
        summary: dict[str, Any] = {"test_acc_last": h[-1]["test_acc"]}
        best_test = max(h, key=lambda r: r["test_acc"])
        summary.update(test_acc_best_test_oracle=best_test["test_acc"], best_test_epoch=best_test["epoch"])
        if "val_acc" in h[-1]:
            best_val = max(h, key=lambda r: r["val_acc"])
            summary.update(test_acc_best_val=best_val["test_acc"], best_val_epoch=best_val["epoch"])
        return {"schema": 1, "key": self.cfg.key(), "name": self.cfg.run_name(), "config": self.cfg.to_dict(),
                "split_hash": self.data.split_hash, "n_unlabeled": int(len(self.data.y_u)),
                "data_sha256": self.data.fingerprint, "init_sha256": self.init_sha256,
                "code": git_commit(), "device": device_description(self.device), "world_size": self.dist.world_size,
                "torch": torch.__version__, "machine": self.machine(), "numerics": self.numerics.to_dict(),
                "wall_time_s": round(self.elapsed, 1), "resumed": resumed, "summary": summary, "epochs": h,
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def machine(self) -> dict[str, Any]:
        """The provenance block; with per-image seeding also the loader workers (which change no number)."""
        workers = {"augment_workers": self.workers} if self.cfg.augment_seeding == "sample" else {}
        return {**machine(self.device), **workers}

    def discard_checkpoint(self) -> None:
        self.checkpoint_path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.checkpoint_path.parent.rmdir()
