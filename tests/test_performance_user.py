"""Performance behaviour a user relies on, asserted without timing: work done once, no copies."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import metaopt
from metaopt.datasets import make_dataset
from metaopt.metamodel import _default
from metaopt.metamodel._data import _all_strings
from metaopt.metamodel._encoding import unit_encode
from metaopt.testing import toy_knowledge


def _reference_unit_encode(distributions, configs, missing=0.5):
    """The cell-by-cell definition of unit_encode, to compare its fast paths with."""
    columns = []
    for name, dist in distributions.items():
        values = [c.get(name) for c in configs]
        if isinstance(dist, CategoricalDistribution):
            labels = [repr(v) for v in dist.choices]
            onehot = [[repr(v) == label for label in labels] for v in values]
            columns.append(np.array(onehot, dtype=float).reshape(len(values), len(labels)))
            columns[-1] = columns[-1] / math.sqrt(2.0)
            continue
        low, high = float(dist.low), float(dist.high)
        x = np.array(
            [
                float(v)
                if isinstance(v, int | float | np.integer | np.floating)
                and not isinstance(v, bool)
                else math.nan
                for v in values
            ]
        )
        if dist.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                x, low, high = np.log(np.where(x > 0, x, np.nan)), math.log(low), math.log(high)
        scaled = (x - low) / (high - low) if high > low else np.zeros_like(x)
        columns.append(np.clip(np.nan_to_num(scaled, nan=missing), 0.0, 1.0)[:, None])
    return np.concatenate(columns, axis=1)


def test_unit_encode_fast_paths_match_the_cell_by_cell_definition():
    distributions = {
        "lr": FloatDistribution(1e-3, 10.0, log=True),
        "depth": IntDistribution(1, 50),
        "kind": CategoricalDistribution(["a", "b", None, 1, 1.0, True]),
        "fixed": IntDistribution(5, 5),
    }
    rng = np.random.default_rng(0)
    pool = [None, 0, -1, 0.5, 3, 2**70, True, np.float64(0.3), np.int64(7), "a", 1, 1.0,
            float("nan"), float("inf"), "b", [1]]  # fmt: skip
    for _ in range(300):
        configs = [
            {k: pool[rng.integers(len(pool))] for k in distributions if rng.random() < 0.8}
            for _ in range(rng.integers(0, 5))
        ]
        for missing in (0.5, math.nan):
            with np.errstate(all="ignore"):
                fast = unit_encode(distributions, configs, missing=missing)
                slow = _reference_unit_encode(distributions, configs, missing=missing)
            assert fast.shape == slow.shape
            assert np.array_equal(fast, slow, equal_nan=True)


def test_all_strings_agrees_with_a_per_value_check():
    class Text(str):
        pass

    cases = [
        pd.Series(["a", "b"], dtype=object),
        pd.Series(["a", None], dtype=object),
        pd.Series(["a", np.nan], dtype=object),
        pd.Series(["a", 1], dtype=object),
        pd.Series(["a", Text("b")], dtype=object),
        pd.Series([], dtype=object),
        pd.Series([1, 2]),
        pd.Series(["a", None], dtype="str"),
        pd.Index(["a", "b"], dtype=object),
        pd.Index([1, 2]),
    ]
    for values in cases:
        assert _all_strings(values) == all(isinstance(v, str) for v in values)


def test_make_dataset_does_not_deep_copy_the_callers_frame_first(monkeypatch):
    frame = pd.DataFrame({"a": np.arange(6.0), "b": list("xyxyxy")})
    before = frame.copy()
    deep_copies = []
    original = pd.DataFrame.copy

    def spy(self, deep=True):
        if self is frame and deep:
            deep_copies.append(deep)
        return original(self, deep=deep)

    monkeypatch.setattr(pd.DataFrame, "copy", spy)
    dataset = make_dataset(frame, [0, 1, 0, 1, 0, 1])
    assert deep_copies == []
    # The dataset's frame is still its own: changing it leaves the caller's frame unchanged.
    dataset.X.iloc[0, 0] = 100.0
    pd.testing.assert_frame_equal(frame, before)
    assert not np.shares_memory(dataset.X["a"].to_numpy(), frame["a"].to_numpy())


def test_a_dataset_is_described_once_and_each_caller_gets_its_own_copy(monkeypatch):
    import metaopt.metafeatures as metafeatures

    calls = []
    describe = metafeatures.describe_dataset

    def counting(dataset):
        calls.append(type(dataset).__name__)  # not the dataset: that would keep it alive
        return describe(dataset)

    monkeypatch.setattr(metafeatures, "describe_dataset", counting)
    dataset = metaopt.load_dataset("sklearn:iris")
    first = _default.dataset_metafeatures(dataset)
    first.iloc[0] = -1.0
    first.attrs["nan_reasons"]["x"] = "changed by the caller"
    second = _default.dataset_metafeatures(dataset)
    assert len(calls) == 1
    expected = describe(dataset)
    pd.testing.assert_series_equal(second, expected)
    assert second.attrs == expected.attrs
    # The cache keeps no Dataset alive: its entry goes with the Dataset.
    alive = weakref.ref(dataset)
    del dataset, first, second
    gc.collect()
    assert alive() is None
    assert all(d is not None for d in _default._described.keys())


def test_suggest_checks_coverage_once_per_knowledge_base_and_space(monkeypatch):
    from metaopt.knowledge import KnowledgeBase

    evaluations, metafeatures = toy_knowledge()
    kb = KnowledgeBase(evaluations, metafeatures, {"schema_version": 1})
    calls = []
    check = KnowledgeBase.check_covers

    def counting(self, space, task=None):
        calls.append((space, task))
        return check(self, space, task)

    monkeypatch.setattr(KnowledgeBase, "check_covers", counting)
    space = str(evaluations["space"].iloc[0])
    task = str(evaluations["task"].iloc[0])
    X, y = _toy_data(task)
    first = metaopt.suggest((X, y), space=space, knowledge=kb, model="portfolio", n=3)
    second = metaopt.suggest((X, y), space=space, knowledge=kb, model="portfolio", n=3)
    assert first == second
    assert calls == [(space, task)]
    # A space the base lacks still raises, every time.
    for _ in range(2):
        with pytest.raises(ValueError):
            metaopt.suggest((X, y), space="no such space", knowledge=kb, n=3)


def _toy_data(task: str) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    if task == "classification":
        return X, pd.Series(np.arange(60) % 2)
    return X, pd.Series(rng.normal(size=60))


def test_prepare_counts_missing_cells_per_block_as_over_the_whole_table():
    from metaopt.metafeatures._preprocess import prepare

    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame(
        {
            "a": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "when": pd.to_datetime(rng.integers(0, 10**9, size=n), unit="s"),
            "b": np.where(rng.random(n) < 0.2, np.inf, rng.normal(size=n)),
            "c": pd.Categorical(np.where(rng.random(n) < 0.3, None, rng.choice(["x", "y"], n))),
        }
    )
    frame.loc[::17, "when"] = pd.NaT
    data = prepare(frame, pd.Series(np.arange(n) % 2))
    mask = pd.concat(
        [frame[["a", "when"]].isna(), np.isinf(frame[["b"]]), frame[["c"]].isna()], axis=1
    )
    assert data.n_missing_cells == int(mask.to_numpy().sum())
    assert data.n_rows_with_missing == int(mask.any(axis=1).sum())
    assert data.n_cols_with_missing == int(mask.any(axis=0).sum())
    assert data.numeric.flags.c_contiguous
    expected = frame[["a"]].to_numpy(dtype=float)
    assert np.array_equal(data.numeric[:, [0]], expected, equal_nan=True)


def test_object_feature_check_reports_the_first_bad_value():
    from metaopt._search_cv import _check_object_values

    X = np.array([[1, "a", None, 2.5], [3, "b", np.float32(1), 4]], dtype=object)
    _check_object_values(X)  # strings, numbers and missing values pass
    X[1, 0], X[1, 2] = object(), [1]
    with pytest.raises(TypeError, match="X holds the object value"):
        _check_object_values(X)
