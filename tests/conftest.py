"""Shared fixtures: the tiny class-balanced FER2013 subset and a scratch checkpoint dir."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from adacm.data.dataset import Dataset
from adacm.data.datasets import load_dataset

#: torch threads for every test: 2 (CI's cores) unless ADACM_THREADS says otherwise; the suite
#: must pass at 1 and 2 threads and in either precision (ADACM_PRECISION=fp32|bf16), on any x86-64 CPU
THREADS = int(os.environ.get("ADACM_THREADS", "2"))
torch.set_num_threads(THREADS)


@pytest.fixture(autouse=True)
def fixed_threads() -> Iterator[None]:
    """Every test starts at THREADS, whatever the one before it set: another count changes the
    order of floating-point reductions, and short runs near a bar can flip."""
    torch.set_num_threads(THREADS)
    yield


@pytest.fixture(scope="session")
def ci_data() -> Dataset:
    return load_dataset("fer2013_ci")


class Flat(nn.Module):
    """A tiny backbone without batch-norm: each sample's output depends on itself only."""

    feature_dim = 12

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 4 * 4, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))
