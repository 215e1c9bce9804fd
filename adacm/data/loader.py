"""Per-image seeded augmentation in worker processes: the same batches whatever their number.

Under a config's ``augment_seeding="sample"`` (the `paper` protocol's) every image's augmentation
draws from its own generator, seeded by (run seed, step, view, position in the global batch),
instead of from the trainer's one stream. The batches' indices still come from the trainer's
generator in the main process, in the same order, and each image's augmentation is a pure
function of its seed, so any number of worker processes (or none) computes the same batches, a
resumed run sees the same images, and a data-parallel rank augments exactly its slice of the
single process's batch. The workers (forked: they share the image arrays without copies) work up
to ``PREFETCH_PER_WORKER`` steps each ahead within an epoch; at its end nothing is pending, so the
checkpoint's generator state is that of a run without workers.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from adacm.data.augment import strong_batch, weak_batch

PREFETCH_PER_WORKER = 2
AUGMENT = {"weak": weak_batch, "strong": strong_batch}
#: a stream of seeds of its own, apart from the trainer's generator ([seed, 0xADAC])
SAMPLE_STREAM = 0x5A3E


@dataclass(frozen=True)
class StepPlan:
    """One training step's global batch: labeled and unlabeled indices (drawn by the trainer)."""

    step: int
    labeled: np.ndarray
    unlabeled: np.ndarray


def sample_seed(run_seed: int, step: int, view: int, position: int) -> list[int]:
    return [run_seed, SAMPLE_STREAM, step, view, position]


def augment_seeded(images: np.ndarray, kind: str, seeds: list[list[int]]) -> np.ndarray:
    """Each image augmented (``kind``: weak or strong) by a generator of its own seed."""
    if len(images) == 0:
        return images.copy()
    return np.stack([AUGMENT[kind](img[None], np.random.default_rng(s))[0] for img, s in zip(images, seeds)])


@dataclass(frozen=True)
class Augmenter:
    """A run's seeded augmentation: the labeled images' weak view and the unlabeled views of each
    planned step, for this rank's slice (``rank::world`` of the global batch)."""

    x_l: np.ndarray
    x_u: np.ndarray
    run_seed: int
    unlabeled_kinds: tuple[str, ...]
    rank: int = 0
    world: int = 1

    def step_views(self, plan: StepPlan) -> list[np.ndarray]:
        """[labeled weak view, *unlabeled views] as uint8 arrays."""
        def views(pool: np.ndarray, indices: np.ndarray, view: int, kind: str) -> np.ndarray:
            positions = np.arange(len(indices))[self.rank::self.world]
            seeds = [sample_seed(self.run_seed, plan.step, view, int(j)) for j in positions]
            return augment_seeded(pool[indices[positions]], kind, seeds)

        return [views(self.x_l, plan.labeled, 0, "weak"),
                *(views(self.x_u, plan.unlabeled, v, kind) for v, kind in enumerate(self.unlabeled_kinds, 1))]

    def iterate(self, plans: list[StepPlan], workers: int) -> Iterator[list[np.ndarray]]:
        """Each plan's views in order: computed here (``workers`` = 0) or by forked workers."""
        if workers == 0:
            yield from map(self.step_views, plans)
            return
        global _AUGMENTER
        _AUGMENTER = self  # inherited by the forked workers, not pickled
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pending: deque[multiprocessing.pool.AsyncResult] = deque()
            todo = iter(plans)
            for plan in todo:
                pending.append(pool.apply_async(_worker_views, (plan,)))
                if len(pending) >= workers * PREFETCH_PER_WORKER:
                    break
            while pending:
                views = pending.popleft().get()
                next_plan = next(todo, None)
                if next_plan is not None:
                    pending.append(pool.apply_async(_worker_views, (next_plan,)))
                yield views


_AUGMENTER: Augmenter | None = None


def _worker_views(plan: StepPlan) -> list[np.ndarray]:
    assert _AUGMENTER is not None
    return _AUGMENTER.step_views(plan)
