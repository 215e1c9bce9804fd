"""Data-parallel training under torchrun (PyTorch DDP: gloo on CPU, NCCL on CUDA).

``Trainer`` asks a ``Distributed`` for everything that differs between one process and many;
with no torchrun (``WORLD_SIZE`` unset or 1) every method is the identity, so a single process
computes exactly what it always did. With ``WORLD_SIZE`` > 1:

* The config's batch sizes stay the *global* ones (the experiment does not change with the
  number of processes); they must be divisible by the world size. Every rank draws the global
  batch's indices from the trainer's seeded generator exactly as a single process would, so
  the global batch is the single process's, and keeps ``indices[rank::world]``. A single
  process interleaves its augmentation draws with its index draws on that one generator, so
  each rank also advances the generator as if it had augmented the whole global batch — on
  1×1 stand-in images, which cost nothing and take the same draws because the augmentations
  draw per image, never per pixel — and augments its own slice from a generator of its own,
  seeded by (seed, world, rank, step) so that a resumed run sees the same images.
* DDP averages the gradients. Batch normalisation uses each rank's own slice (SyncBatchNorm
  needs an accelerator); after every step the running statistics are averaged over the ranks,
  so the live model — and the EMA model, which copies its buffers — stay identical everywhere.
* Rank 0 evaluates, checkpoints and writes the result. The other ranks wait in the broadcast
  of its epoch record and of the algorithm's learned state (Ada-CM's margin), so every rank
  masks with the same thresholds in the next epoch.

Limits: state that an algorithm updates at every step from its batch (FlexMatch's per-image
bookkeeping, ReMixMatch's distribution alignment, MarginMix's centroids) follows each rank's
own slice within an epoch and is re-synchronised from rank 0 at the epoch's end; the world size
is recorded in the result but is not part of the config key; across nodes, every rank reads
rank 0's checkpoint, so the cache (``ADACM_CACHE``) must be on a shared filesystem.

``python -m adacm.run.launch`` (under torchrun) trains a grid with it.
"""

from __future__ import annotations

import gc
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel

from adacm.algorithms import Algorithm
from adacm.data.streams import make_view, rank_positions
from adacm.errors import UserError
from adacm.run.config import RunConfig

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job; the default (world size 1) is a single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK and, if WORLD_SIZE > 1, join the process group
        (or reuse it: the grid launcher builds one trainer after another in the same job)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        ctx = cls(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
        if not dist.is_initialized():
            if torch.cuda.is_available():
                torch.cuda.set_device(ctx.local_rank)  # device "cuda" (pick_device) is now this rank's GPU
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return ctx

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def check_batch_sizes(self, cfg: RunConfig) -> None:
        for name in ("batch_labeled", "batch_unlabeled"):
            size = getattr(cfg, name)
            if size % self.world_size:
                raise UserError(f"{name}={size} is the global batch and must be divisible by the number of "
                                f"processes ({self.world_size}): launch a number of processes that divides it")

    # ------------------------------------------------------------------ training
    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to run training forwards through: DDP (which starts every rank from rank 0's
        weights and averages gradients), or ``model`` itself in a single process. DDP does not
        broadcast buffers here: ``sync_buffers`` averages them after each step instead."""
        if not self.enabled:
            return model
        return DistributedDataParallel(model, forward_sync_buffers=False)

    def shard(self, indices: np.ndarray) -> np.ndarray:
        """This rank's part of a global batch."""
        return indices[rank_positions(len(indices), self.rank, self.world_size)]

    def augmentation_rng(self, shared: np.random.Generator, seed: int, step: int) -> np.random.Generator:
        """The generator this rank augments its slice with at ``step``: ``shared`` in a single process."""
        if not self.enabled:
            return shared
        return np.random.default_rng([seed, 0xADAC, self.world_size, self.rank, step])

    def view(self, images: np.ndarray, kind: str, shared: np.random.Generator,
             own: np.random.Generator) -> torch.Tensor:
        """This rank's augmented view of the global batch ``images``; ``shared`` ends where a single
        process's generator would after augmenting all of them (see the module docstring)."""
        if self.enabled:
            make_view(np.zeros((len(images), 1, 1), dtype=np.uint8), kind, shared)
        return make_view(self.shard(images), kind, own)

    @torch.no_grad()
    def sync_buffers(self, model: nn.Module) -> None:
        """Average the batch-norm running statistics over the ranks (one all-reduce).

        The mean of the ranks' running means is exactly the running mean a single process would
        keep over the global batch; the running variances miss the spread between the ranks'
        means, a small bias that only evaluation sees.
        """
        if not self.enabled:
            return
        stats = [s for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats
                 for s in (m.running_mean, m.running_var)]
        if not stats:
            return
        flat = torch.cat([s.reshape(-1) for s in stats])
        dist.all_reduce(flat)
        flat /= self.world_size
        for s, part in zip(stats, flat.split([s.numel() for s in stats])):
            s.copy_(part.view_as(s))

    def sum_over_ranks(self, *tallies: dict[str, float]) -> tuple[dict[str, float], ...]:
        """Key-wise sums of per-rank tallies (an epoch's stat sums and counts), so that the record
        describes the global batches; ranks may lack a key (e.g. no known label in a slice)."""
        if not self.enabled:
            return tallies
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, tallies)
        merged: tuple[dict[str, float], ...] = tuple(defaultdict(float) for _ in tallies)
        for rank_tallies in gathered:
            for total, tally in zip(merged, rank_tallies):
                for key, value in tally.items():
                    total[key] += value
        return merged

    # ---------------------------------------------------------------- rank 0's work
    def from_main(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank (the others pass a placeholder and wait for it)."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def on_main(self, compute: Callable[[], T]) -> T:
        """``compute()`` run on rank 0 only (evaluation, the result record); its value on every rank."""
        return self.from_main(compute() if self.is_main else None)  # type: ignore[arg-type]

    def evaluate_on_main(self, evaluate: Callable[[], dict[str, Any]], algorithm: Algorithm) -> dict[str, Any]:
        """Run ``evaluate`` on rank 0 only; every rank gets its record and the algorithm state it
        learned (Ada-CM's margin update), so that all ranks mask alike from the next step."""
        record, state = self.on_main(lambda: (evaluate(), algorithm.state_dict()))
        if not self.is_main:
            algorithm.load_state_dict(state)
        return record

    def close(self) -> None:
        """Leave the process group: finished trainers' DDP wrappers (which hold the group) are
        collected first, then the barrier, so that no rank tears its connections down while
        another still waits on the last collective."""
        if self.enabled and dist.is_initialized():
            gc.collect()
            dist.barrier()
            dist.destroy_process_group()

    def exit(self, code: int = 0) -> NoReturn:
        """End the process after ``close``. A torchrun worker skips interpreter finalization
        (``os._exit``): gloo's threads can outlive the group, and tearing them down after Python
        is gone can abort a worker of a finished, correct job ("terminate called without an
        active exception", SIGABRT), rarely and not reproducibly."""
        if not self.enabled:
            sys.exit(code)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
