"""Fixtures shared by the few-shot tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread, and the test machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _blobs(seed: int = 0, n_classes: int = 16, noise_dims: int = 18):
    """Classes separated in 2 dimensions, hidden among high-variance noise dimensions."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-6, 6, size=(n_classes, 2))
    y = np.repeat(np.arange(n_classes), 30)
    signal = centres[y] + 0.4 * rng.normal(size=(len(y), 2))
    noise = 4.0 * rng.normal(size=(len(y), noise_dims))
    return np.hstack([signal, noise]), y


@pytest.fixture
def blobs():
    """A maker of many-class data where an embedding must learn which dimensions matter."""
    return _blobs
