"""Shared fixtures: the tiny class-balanced FER2013 subset and a scratch checkpoint dir."""

from __future__ import annotations

import pytest
import torch

from adacm.data.datasets import Dataset, load_dataset

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def ci_data() -> Dataset:
    return load_dataset("fer2013_ci")
