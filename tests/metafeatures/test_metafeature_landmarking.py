"""Landmarkers and subsampling against scikit-learn run on the very same folds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from metaopt.metafeatures import _landmarking as landmarking
from metaopt.metafeatures._preprocess import design_matrix, prepare


def _reference(data, make) -> float:
    X, _ = data.memo("design", design_matrix)
    y = landmarking._target(data)
    accuracies, predicted = [], np.empty(y.shape)
    for train, test in data.memo("folds", landmarking.folds):
        predicted[test] = make().fit(X[train], y[train]).predict(X[test])
        accuracies.append(np.mean(predicted[test] == y[test]))
    if data.task == "classification":
        return float(np.mean(accuracies))
    return float(1 - ((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum())


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_learners_match_scikit_learn(task: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 8))
    X[:, 3] = np.round(X[:, 3])  # ties, so that tie handling matters
    signal = X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=0.5, size=600)
    y = (signal > 0).astype(int) + (signal > 1) if task == "classification" else signal
    data = prepare(X, y, task=task, random_state=7)
    tree = DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor
    knn = KNeighborsClassifier if task == "classification" else KNeighborsRegressor
    expected = {
        "stump": lambda: tree(max_depth=1, random_state=7),
        "tree_depth3": lambda: tree(max_depth=3, random_state=7),
        "one_nn": lambda: knn(n_neighbors=1, algorithm="brute"),
    }
    if task == "classification":
        expected["lda"] = LinearDiscriminantAnalysis
    for name, make in expected.items():
        assert landmarking.cross_validate(data, name) == pytest.approx(
            _reference(data, make), abs=1e-12
        ), name


def test_model_rows_keep_every_class() -> None:
    rng = np.random.default_rng(0)
    y = np.zeros(50_000, dtype=int)
    y[:3] = [1, 2, 2]  # two classes far too rare for a uniform 2,000-row draw
    data = prepare(rng.normal(size=(50_000, 2)), y, task="classification")
    rows = data.subsample(2_000, "models")
    assert set(y[rows]) == {0, 1, 2}
    assert 2_000 <= rows.size <= 2_006
    assert np.array_equal(rows, np.unique(rows))
    np.testing.assert_array_equal(rows, prepare(data.numeric, y).subsample(2_000, "models"))
