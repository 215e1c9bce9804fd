"""Per-image seeded augmentation (adacm.data.loader): the same batches with any number of workers."""

from __future__ import annotations

import errno
import os
from dataclasses import replace
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np
import pytest
import torch

from adacm.data.dataset import Dataset
from adacm.data.loader import Augmenter, StepPlan
from adacm.errors import UserError
from adacm.run.protocols import get_protocol
from adacm.run.trainer import Trainer

RNG = np.random.default_rng(7)
IMAGES = RNG.integers(0, 256, (120, 32, 32), dtype=np.uint8)
PLANS = [StepPlan(s, RNG.integers(0, 40, 8), RNG.integers(0, 80, 8)) for s in range(5)]


def same(a: list[list[np.ndarray]], b: list[list[np.ndarray]]) -> bool:
    return all(np.array_equal(u, v) for p, q in zip(a, b, strict=True) for u, v in zip(p, q, strict=True))


ORIGINAL_SHARED_MEMORY = shared_memory.SharedMemory


@pytest.fixture
def created_blocks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the shared-memory blocks this test creates."""
    names: list[str] = []

    class Recorded(shared_memory.SharedMemory):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            names.append(self.name)

    monkeypatch.setattr(shared_memory, "SharedMemory", Recorded)
    return names


def released(name: str) -> bool:
    try:
        ORIGINAL_SHARED_MEMORY(name=name).close()
    except FileNotFoundError:
        return True
    return False


def test_workers_compute_the_batches_computed_in_process(created_blocks: list[str]) -> None:
    augmenter = Augmenter(IMAGES[:40], IMAGES[40:], 3, ("weak", "weak", "strong"))
    alone = list(augmenter.iterate(PLANS, 0))
    assert same(alone, list(augmenter.iterate(PLANS, 2)))
    assert len(created_blocks) == 1 and released(created_blocks[0])  # the views' shared block is gone with the epoch
    assert not np.array_equal(alone[0][1], alone[0][2])  # two weak views of one image differ


def test_workers_hand_back_rgb_views_and_steps_without_unlabeled_images() -> None:
    rgb = RNG.integers(0, 256, (120, 16, 16, 3), dtype=np.uint8)
    augmenter = Augmenter(rgb[:40], rgb[40:], 3, ("weak", "strong"))
    assert same(list(augmenter.iterate(PLANS, 0)), list(augmenter.iterate(PLANS, 2)))
    labels_only = Augmenter(IMAGES[:40], IMAGES[:0], 3, ())
    plans = [StepPlan(s, p.labeled, p.unlabeled[:0]) for s, p in enumerate(PLANS)]
    assert same(list(labels_only.iterate(plans, 0)), list(labels_only.iterate(plans, 1)))


def test_two_epochs_open_at_once_keep_their_own_views() -> None:
    first = Augmenter(IMAGES[:40], IMAGES[40:], 3, ("weak",))
    second = Augmenter(IMAGES[:40], IMAGES[40:], 4, ("strong",))
    a, b = first.iterate(PLANS, 1), second.iterate(PLANS, 1)
    interleaved = [(next(a), next(b)) for _ in PLANS]
    assert same([x for x, _ in interleaved], list(first.iterate(PLANS, 0)))
    assert same([y for _, y in interleaved], list(second.iterate(PLANS, 0)))


def test_an_epoch_left_early_releases_its_workers_and_shared_block(created_blocks: list[str]) -> None:
    augmenter = Augmenter(IMAGES[:40], IMAGES[40:], 3, ("weak", "strong"))
    epoch = augmenter.iterate(PLANS, 2)
    assert same([next(epoch)], [augmenter.step_views(PLANS[0])])
    epoch.close()  # e.g. a loss that is not finite stops the epoch
    assert len(created_blocks) == 1 and released(created_blocks[0])


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="reserving pages is for /dev/shm files (Linux)")
def test_a_full_dev_shm_is_one_clear_error_before_any_worker_starts(created_blocks: list[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(UserError, match="/dev/shm cannot hold .* MB of augmented views"):
        next(Augmenter(IMAGES[:40], IMAGES[40:], 3, ("weak",)).iterate(PLANS, 2))
    assert len(created_blocks) == 1 and released(created_blocks[0])


def test_each_rank_augments_its_slice_of_the_single_process_batch() -> None:
    full = Augmenter(IMAGES[:40], IMAGES[40:], 3, ("weak", "strong")).step_views(PLANS[0])
    ranks = [Augmenter(IMAGES[:40], IMAGES[40:], 3, ("weak", "strong"), rank=r, world=2).step_views(PLANS[0])
             for r in (0, 1)]
    for view, r0, r1 in zip(full, *ranks, strict=True):
        assert np.array_equal(view[0::2], r0) and np.array_equal(view[1::2], r1)


@pytest.mark.slow
def test_training_seeded_per_image_does_not_depend_on_the_workers(ci_data: Dataset, tmp_path: Path) -> None:
    cfg = replace(get_protocol("smoke").config("fer2013_ci", "adacm", 70, 0), augment_seeding="sample")
    trainers, stats = [], []
    for workers in (0, 1):  # each built (which seeds torch's generator: dropout) and trained in turn
        trainers.append(Trainer(cfg, ci_data, checkpoint_dir=tmp_path / str(workers), progress=False, workers=workers))
        stats.append(trainers[-1].train_steps(3))
    assert stats[0] == stats[1]
    weights = [t.model.state_dict() for t in trainers]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert trainers[1].machine()["augment_workers"] == 1
