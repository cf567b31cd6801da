"""Task samplers: sinusoid regression and N-way K-shot classification."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from metaopt.datasets import Dataset
from metaopt.maml import FewShotTasks, SinusoidTasks, split_classes, split_rows


# ---------------------------------------------------------------------- sinusoid
def test_sinusoid_tasks_follow_their_function_and_ranges() -> None:
    sampler = SinusoidTasks(support_size=7, query_size=30, seed=0, dtype=torch.float64)
    amplitudes, phases = sampler.draw_parameters(200)
    assert amplitudes.min() >= 0.1 and amplitudes.max() <= 5.0
    assert phases.min() >= 0.0 and phases.max() <= math.pi
    task = sampler.make_task(2.0, 1.0)
    assert task.support_x.shape == (7, 1) and task.query_x.shape == (30, 1)
    assert task.support_x.abs().max() <= 5.0
    assert torch.allclose(task.query_y, 2.0 * torch.sin(task.query_x - 1.0))
    tasks = sampler.sample(50)
    # Amplitude = max |y| over a dense grid is at most 5; support and query come from one function.
    assert max(float(t.query_y.abs().max()) for t in tasks) <= 5.0
    assert len({float(t.support_y[0, 0]) for t in tasks}) == 50


def test_sinusoid_tasks_are_reproducible_by_seed() -> None:
    a = SinusoidTasks(seed=3).sample(4)
    b = SinusoidTasks(seed=3).sample(4)
    c = SinusoidTasks(seed=4).sample(4)
    assert all(
        torch.equal(x, y) for ta, tb in zip(a, b, strict=True) for x, y in zip(ta, tb, strict=True)
    )
    assert not torch.equal(a[0].support_x, c[0].support_x)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"support_size": 0}, ValueError),
        ({"query_size": 2.5}, TypeError),
        ({"amplitude": (5.0, 0.1)}, ValueError),
        ({"amplitude": (-1.0, 1.0)}, ValueError),
        ({"phase": 1.0}, TypeError),
        ({"dtype": torch.int64}, TypeError),
    ],
)
def test_sinusoid_bad_arguments(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        SinusoidTasks(**kwargs)


# ---------------------------------------------------------------------- few-shot
def traceable_data(n_classes: int = 6, per_class: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Feature 0 is the row index, so every sampled example can be traced back to its row."""
    y = np.repeat(np.arange(n_classes) * 10, per_class)  # labels 0, 10, 20, ...
    X = np.stack([np.arange(len(y)), y + 0.5], axis=1).astype(float)
    return X, y


def test_class_split_is_disjoint_and_complete() -> None:
    X, y = traceable_data()
    train, test = split_classes((X, y), n_test=2, seed=1)
    assert len(test) == 2 and len(train) == 4
    assert set(train).isdisjoint(test)
    assert set(train) | set(test) == set(np.unique(y).tolist())
    assert split_classes((X, y), n_test=2, seed=1) == (train, test)


def test_row_split_is_disjoint_and_stratified() -> None:
    X, y = traceable_data(per_class=10)
    train, test = split_rows((X, y), test_size=0.3, seed=0)
    assert np.intersect1d(train, test).size == 0
    assert len(train) + len(test) == len(y)
    assert all((y[test] == label).sum() == 3 for label in np.unique(y))


def test_few_shot_tasks_structure() -> None:
    X, y = traceable_data()
    _, test_classes = split_classes((X, y), n_test=3, seed=0)
    sampler = FewShotTasks((X, y), n_way=3, k_shot=2, n_query=4, classes=test_classes, seed=0)
    seen_orders = set()
    for task in sampler.sample(20):
        assert task.support_x.shape == (6, 2) and task.query_x.shape == (12, 2)
        assert task.support_y.dtype == torch.long
        assert torch.bincount(task.support_y).tolist() == [2, 2, 2]
        assert torch.bincount(task.query_y).tolist() == [4, 4, 4]
        support_rows = task.support_x[:, 0].long().numpy()
        query_rows = task.query_x[:, 0].long().numpy()
        assert np.intersect1d(support_rows, query_rows).size == 0
        # Every example comes from a held-out class, and each task label is one class.
        assert set(y[support_rows].tolist()) <= set(test_classes)
        for label in range(3):
            original = set(y[support_rows[task.support_y.numpy() == label]].tolist())
            original |= set(y[query_rows[task.query_y.numpy() == label]].tolist())
            assert len(original) == 1
        seen_orders.add(tuple(y[support_rows[task.support_y.numpy().argsort()]].tolist()))
    assert len(seen_orders) > 1  # labels are reassigned per task


def test_few_shot_rows_restriction_is_honoured() -> None:
    X, y = traceable_data()
    train_rows, test_rows = split_rows((X, y), test_size=0.5, seed=0)
    sampler = FewShotTasks((X, y), n_way=5, k_shot=1, n_query=5, rows=test_rows, seed=0)
    used = np.concatenate(
        [
            np.concatenate([t.support_x[:, 0].numpy(), t.query_x[:, 0].numpy()])
            for t in sampler.sample(30)
        ]
    ).astype(int)
    assert set(used.tolist()) <= set(test_rows.tolist())


def test_few_shot_accepts_a_dataset() -> None:
    X, y = traceable_data()
    frame = pd.DataFrame(X, columns=["row", "feature"])
    dataset = Dataset(frame, pd.Series(y).astype("category"), "classification", "toy", "test")
    sampler = FewShotTasks(dataset, n_way=2, k_shot=1, n_query=3, seed=0)
    assert sampler.n_features == 2 and len(sampler.classes) == 6
    assert sampler.sample(1)[0].query_x.dtype == torch.float32


def test_few_shot_bad_inputs() -> None:
    X, y = traceable_data(n_classes=3, per_class=5)
    with pytest.raises(ValueError, match="needs at least 4 classes"):
        FewShotTasks((X, y), n_way=4, k_shot=1, n_query=1)
    with pytest.raises(ValueError, match="k_shot \\+ n_query = 6"):
        FewShotTasks((X, y), n_way=2, k_shot=1, n_query=5)
    with pytest.raises(ValueError, match="do not occur"):
        FewShotTasks((X, y), n_way=2, k_shot=1, n_query=1, classes=[0, 99])
    with pytest.raises(ValueError, match="one label per row"):
        FewShotTasks((X, y[:-1]), n_way=2)
    with pytest.raises(TypeError, match="Dataset or an \\(X, y\\)"):
        FewShotTasks(X, n_way=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        FewShotTasks((np.where(X > 3, np.nan, X), y), n_way=2, k_shot=1, n_query=1)
    frame = pd.DataFrame({"a": pd.Categorical(["u", "v"] * 5)})
    with pytest.raises(TypeError, match="numeric"):
        FewShotTasks((frame, np.arange(10) % 2), n_way=2, k_shot=1, n_query=1)
    regression = Dataset(pd.DataFrame(X), pd.Series(y, dtype=float), "regression", "r", "test")
    with pytest.raises(ValueError, match="classification"):
        FewShotTasks(regression, n_way=2)
    with pytest.raises(ValueError, match="n_test"):
        split_classes((X, y), n_test=3)


def test_classes_are_compared_without_coercion_and_test_size_is_checked() -> None:
    X, y = np.zeros((12, 2)), np.repeat([1, 2, 3], 4)
    with pytest.raises(
        ValueError,
        match=r"classes \[1\.5, 2\.7\] do not occur in y; y has "
        r"the classes \[1, 2, 3\]",
    ):
        FewShotTasks((X, y), n_way=2, k_shot=1, n_query=1, classes=[1.5, 2.7])
    with pytest.raises(ValueError, match=r"classes \['a'\] do not occur in y"):
        FewShotTasks((X, y), n_way=2, k_shot=1, n_query=1, classes=["a", 2])
    sampler = FewShotTasks((X, y), n_way=2, k_shot=1, n_query=1, classes=[np.int64(3), 1.0])
    assert sampler.classes == [1, 3]
    with pytest.raises(TypeError, match="test_size must be a float, got str"):
        split_rows((X, y), test_size="a")
    for bad in (0.0, 1.0, float("nan")):
        with pytest.raises(ValueError, match="test_size must be in"):
            split_rows((X, y), test_size=bad)
