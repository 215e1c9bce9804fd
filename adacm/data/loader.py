"""Per-image seeded augmentation in worker processes: the same batches whatever their number.

Under a config's ``augment_seeding="sample"`` (the `paper` protocol's) every image's augmentation
draws from its own generator, seeded by (run seed, step, view, position in the global batch),
instead of from the trainer's one stream. The batches' indices still come from the trainer's
generator in the main process, in the same order, and each image's augmentation is a pure
function of its seed, so any number of worker processes (or none) computes the same batches, a
resumed run sees the same images, and a data-parallel rank augments exactly its slice of the
single process's batch. The workers (forked: they share the image arrays without copies) work up
to ``PREFETCH_PER_WORKER`` steps each ahead within an epoch; at its end nothing is pending, so the
checkpoint's generator state is that of a run without workers. A worker writes its views into a
slot of one shared-memory block that the training process owns (one slot per step in flight) and
returns only their shapes, so a step's pixels (megabytes at 224 px RGB) do not go through a pipe.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from adacm.data.augment import strong_batch, weak_batch
from adacm.data.streams import rank_positions
from adacm.errors import UserError

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
    planned step, for this rank's slice of the global batch (``rank_positions``)."""

    x_l: np.ndarray
    x_u: np.ndarray
    run_seed: int
    unlabeled_kinds: tuple[str, ...]
    rank: int = 0
    world: int = 1

    def positions(self, indices: np.ndarray) -> np.ndarray:
        return rank_positions(len(indices), self.rank, self.world)

    def step_views(self, plan: StepPlan) -> list[np.ndarray]:
        """[labeled weak view, *unlabeled views] as uint8 arrays."""
        def views(pool: np.ndarray, indices: np.ndarray, view: int, kind: str) -> np.ndarray:
            positions = self.positions(indices)
            seeds = [sample_seed(self.run_seed, plan.step, view, int(j)) for j in positions]
            return augment_seeded(pool[indices[positions]], kind, seeds)

        return [views(self.x_l, plan.labeled, 0, "weak"),
                *(views(self.x_u, plan.unlabeled, v, kind) for v, kind in enumerate(self.unlabeled_kinds, 1))]

    def step_bytes(self, plan: StepPlan) -> int:
        """The bytes of one step's views (images of the pools' shape and dtype; none for an empty pool)."""
        def image_bytes(pool: np.ndarray) -> int:
            return int(np.prod(pool.shape[1:])) * pool.itemsize

        labeled = len(self.positions(plan.labeled)) * image_bytes(self.x_l)
        return labeled + len(self.unlabeled_kinds) * len(self.positions(plan.unlabeled)) * image_bytes(self.x_u)

    def iterate(self, plans: list[StepPlan], workers: int) -> Iterator[list[np.ndarray]]:
        """Each plan's views in order: computed here (``workers`` = 0) or by forked workers."""
        if workers == 0 or not plans:
            yield from map(self.step_views, plans)
            return
        slot_bytes = max(1, max(map(self.step_bytes, plans)))
        slots = shared_slots(workers * PREFETCH_PER_WORKER, slot_bytes)
        block = shared_memory.SharedMemory(create=True, size=slots * slot_bytes)
        global _AUGMENTER, _SLOTS
        _AUGMENTER, _SLOTS = self, (block, slot_bytes)  # inherited by the workers, forked with the pool
        try:
            reserve(block)
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                pending: deque[tuple[int, multiprocessing.pool.AsyncResult]] = deque()
                for i, plan in enumerate(plans):
                    # a slot is free again once its views are copied out; the next step goes in before they are used
                    views = read_slot(block, slot_bytes, *pending.popleft()) if len(pending) == slots else None
                    pending.append((i % slots, pool.apply_async(_worker_views, (plan, i % slots))))
                    if views is not None:
                        yield views
                while pending:
                    yield read_slot(block, slot_bytes, *pending.popleft())
        finally:
            _AUGMENTER, _SLOTS = None, None
            try:
                block.unlink()
            finally:
                block.close()


def reserve(block: shared_memory.SharedMemory) -> None:
    """Back every page of ``block`` now. The block is created sparse: where /dev/shm fills up later
    (another run's block beside it) a worker writing its slot would die of SIGBUS, and its step never
    come back; reserved, a full /dev/shm is one clear error here, before any worker starts."""
    path = Path("/dev/shm") / block.name.lstrip("/")
    if not path.exists():  # shared memory that is not a /dev/shm file (not Linux): nothing to reserve
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, block.size)
    except OSError as exc:
        raise UserError(f"/dev/shm cannot hold {block.size / 2**20:.1f} MB of augmented views ({exc.strerror}): "
                        "enlarge it (e.g. docker --shm-size=1g) or pass --workers 0") from exc
    finally:
        os.close(fd)


def shared_slots(wanted: int, slot_bytes: int) -> int:
    """How many steps' views may be in flight: ``wanted``, or fewer where /dev/shm has less room
    (never none: where even one slot does not fit, ``reserve`` says so)."""
    try:
        free = shutil.disk_usage("/dev/shm").free
    except OSError:  # no /dev/shm to measure (not Linux): trust it
        return wanted
    return max(1, min(wanted, free // slot_bytes))


_AUGMENTER: Augmenter | None = None
_SLOTS: tuple[shared_memory.SharedMemory, int] | None = None  # a worker's block and one slot's bytes


def _worker_views(plan: StepPlan, slot: int) -> list[tuple[tuple[int, ...], str]]:
    """Augment ``plan`` into ``slot`` of the shared block; the views' shapes and dtypes."""
    assert _AUGMENTER is not None and _SLOTS is not None
    block, slot_bytes = _SLOTS
    offset = slot * slot_bytes
    views = _AUGMENTER.step_views(plan)
    size = sum(v.nbytes for v in views)
    if size > slot_bytes:  # would spill into the next step's slot
        raise RuntimeError(f"a step's views take {size} bytes, its slot {slot_bytes}")
    for v in views:
        np.ndarray(v.shape, v.dtype, block.buf, offset)[...] = v
        offset += v.nbytes
    return [(v.shape, v.dtype.str) for v in views]


def read_slot(block: shared_memory.SharedMemory, slot_bytes: int, slot: int,
              result: multiprocessing.pool.AsyncResult) -> list[np.ndarray]:
    """A step's views, copied out of their slot (which a later step in flight will reuse)."""
    offset, views = slot * slot_bytes, []
    for shape, dtype in result.get():
        view = np.ndarray(shape, dtype, block.buf, offset).copy()
        offset += view.nbytes
        views.append(view)
    return views
