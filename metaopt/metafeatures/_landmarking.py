"""Landmarking metafeatures: cross-validated scores of cheap learners.

Every learner is scored by 5-fold cross-validation (stratified and shuffled with
``random_state`` for classification) on the model rows: at most ``max_rows_models`` rows drawn
by :meth:`PreparedData.subsample`, encoded by :func:`design_matrix`. The score is accuracy for
classification and R^2 for regression (higher is better for both). Naive Bayes and LDA have no
regression counterpart and are undefined there.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from metaopt.metafeatures._preprocess import PreparedData, Undefined, design_matrix
from metaopt.metafeatures._summary import FeatureFunction

logger = logging.getLogger("metaopt.metafeatures")

N_FOLDS = 5
#: Design columns (seeded random subset) given to LDA and the linear model on wide data.
MAX_LINEAR_COLUMNS = 200
#: Learners whose fits may legitimately fail on degenerate data (reported as undefined).
# How the learners report data they cannot fit. scikit-learn's LDA raises IndexError when the
# between-class scatter vanishes (e.g. a training fold whose only informative rows are constant).
_EXPECTED_FAILURES = (ValueError, IndexError, np.linalg.LinAlgError, FloatingPointError)


def folds(data: PreparedData) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded train/test splits of the model rows (shared by every learner)."""
    X, _ = data.memo("design", design_matrix)
    n = X.shape[0]
    if n < 4:
        raise Undefined("cross-validation needs at least four rows")
    y = _target(data)
    if data.task == "classification":
        if np.unique(y).size < 2:
            raise Undefined("a single class: every learner is trivially perfect")
        smallest = np.bincount(y)[np.bincount(y) > 0].min()
        if smallest >= 2:
            splitter = StratifiedKFold(
                n_splits=int(min(N_FOLDS, smallest)), shuffle=True, random_state=data.random_state
            )
            return list(splitter.split(np.zeros(n), y))
    splitter = KFold(n_splits=min(N_FOLDS, n // 2), shuffle=True, random_state=data.random_state)
    return list(splitter.split(np.zeros(n)))


def _target(data: PreparedData) -> np.ndarray:
    rows = data.subsample(data.max_rows_models, "models")
    return data.take(data.y_codes if data.task == "classification" else data.y_float, rows)


def _one_nn_predict(train: np.ndarray, y_train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """1-nearest-neighbour prediction by Euclidean distance, processed in row blocks."""
    if train.shape[1] == 0:
        return np.full(test.shape[0], y_train[0])
    train_sq = (train * train).sum(axis=1)
    out = np.empty(test.shape[0], dtype=y_train.dtype)
    block = max(1, 4_000_000 // max(train.shape[0], 1))
    for start in range(0, test.shape[0], block):
        part = test[start : start + block]
        distances = train_sq[None, :] - 2.0 * part @ train.T
        out[start : start + block] = y_train[np.argmin(distances, axis=1)]
    return out


#: ``(data, fold, X_train, y_train, X_test) -> predictions`` of one learner on one fold.
Fitter = Callable[[PreparedData, int, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _sklearn(make: Callable[[PreparedData], object]) -> Fitter:
    def fit_predict(data, fold, X_train, y_train, X_test):
        model = make(data)
        model.fit(X_train, y_train)
        return model.predict(X_test)

    return fit_predict


def _one_nn(data, fold, X_train, y_train, X_test):
    return _one_nn_predict(X_train, y_train, X_test)


def _tree(depth: int) -> Callable[[PreparedData], object]:
    def make(data: PreparedData) -> object:
        cls = DecisionTreeClassifier if data.task == "classification" else DecisionTreeRegressor
        return cls(max_depth=depth, random_state=data.random_state)

    return make


def _depth3_tree(data, fold, X_train, y_train):
    """The fold's depth-3 tree, fitted once for both ``tree_depth3`` and ``stump``."""

    def fit(d: PreparedData) -> object:
        return _tree(3)(d).fit(X_train, y_train)

    return data.memo(f"depth3_tree:{fold}", fit)


def _tree_depth3(data, fold, X_train, y_train, X_test):
    return _depth3_tree(data, fold, X_train, y_train).predict(X_test)


def _stump(data, fold, X_train, y_train, X_test):
    """The depth-3 tree cut at its root split.

    Identical to ``max_depth=1`` with the same ``random_state``: the root split is chosen
    first, from the same random feature order, whatever the depth limit.
    """
    tree = _depth3_tree(data, fold, X_train, y_train)
    structure = tree.tree_
    left, right = structure.children_left[0], structure.children_right[0]
    if left < 0:
        return tree.predict(X_test)  # the root is a leaf
    goes_left = X_test[:, structure.feature[0]] <= structure.threshold[0]
    if data.task == "classification":
        values = [tree.classes_[np.argmax(structure.value[c][0])] for c in (left, right)]
    else:
        values = [structure.value[c][0][0] for c in (left, right)]
    return np.where(goes_left, values[0], values[1])


def _random_stump(data, fold, X_train, y_train, X_test):
    column = data.memo(
        "random_stump_column", lambda d: int(d.rng("random-stump").integers(X_train.shape[1]))
    )
    tree = _tree(1)(data)
    tree.fit(X_train[:, [column]], y_train)
    return tree.predict(X_test[:, [column]])


def _on_column_subset(fitter: Fitter) -> Fitter:
    """Fit on at most ``MAX_LINEAR_COLUMNS`` seeded random design columns.

    LDA and ridge cost grows with the cube of the column count; hundreds of one-hot columns
    would make them the slowest part of the extraction for little extra information.
    """

    def fit_predict(data, fold, X_train, y_train, X_test):
        columns = data.memo("linear_columns", lambda d: _linear_columns(d, X_train.shape[1]))
        return fitter(data, fold, X_train[:, columns], y_train, X_test[:, columns])

    return fit_predict


def _linear_columns(data: PreparedData, width: int) -> np.ndarray:
    if width <= MAX_LINEAR_COLUMNS:
        return np.arange(width)
    chosen = data.rng("linear-columns").choice(width, size=MAX_LINEAR_COLUMNS, replace=False)
    return np.sort(chosen)


def _linear(data: PreparedData) -> object:
    return RidgeClassifier(alpha=1.0) if data.task == "classification" else Ridge(alpha=1.0)


def _classification_only(make: Callable[[], object]) -> Callable[[PreparedData], object]:
    def build(data: PreparedData) -> object:
        if data.task != "classification":
            raise Undefined("no regression counterpart")
        return make()

    return build


#: name -> learner, in output order.
LEARNERS: dict[str, Fitter] = {
    "one_nn": _one_nn,
    "stump": _stump,
    "random_stump": _random_stump,
    "tree_depth3": _tree_depth3,
    "naive_bayes": _sklearn(_classification_only(GaussianNB)),
    "lda": _on_column_subset(_sklearn(_classification_only(LinearDiscriminantAnalysis))),
    "linear": _on_column_subset(_sklearn(_linear)),
}


def cross_validate(data: PreparedData, name: str) -> float:
    """Cross-validated score of learner ``name``; undefined past the deadline.

    Classification: the mean test-fold accuracy (as pymfe). Regression: R^2 of the pooled
    out-of-fold predictions, which stays defined when one test fold has a constant target.
    """
    if data.deadline is not None and time.monotonic() > data.deadline:
        raise Undefined("skipped: budget_s was spent before this feature")
    if data.task != "classification" and name in ("naive_bayes", "lda"):
        raise Undefined("no regression counterpart")
    X, _ = data.memo("design", design_matrix)
    if X.shape[1] == 0:
        raise Undefined("no informative column for the learners (all constant)")
    y = _target(data)
    splits = data.memo("folds", folds)
    predicted = np.empty(y.shape, dtype=float)
    accuracies = []
    for fold, (train, test) in enumerate(splits):
        if data.task == "classification" and np.unique(y[train]).size < 2:
            predicted[test] = y[train][0]
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    predicted[test] = LEARNERS[name](data, fold, X[train], y[train], X[test])
            except _EXPECTED_FAILURES as exc:
                logger.warning("landmarker %s failed, reported as NaN: %s", name, exc)
                raise Undefined(f"{name} could not be fitted: {exc}") from exc
        accuracies.append(np.mean(predicted[test] == y[test]))
    if data.task == "classification":
        return float(np.mean(accuracies))
    total = ((y - y.mean()) ** 2).sum()
    if not total > 0:
        raise Undefined("R^2 is undefined for a constant target")
    return float(1.0 - ((y - predicted) ** 2).sum() / total)


def _feature(name: str) -> FeatureFunction:
    return lambda data: cross_validate(data, name)


FEATURES: dict[str, FeatureFunction] = {f"landmarking.{name}": _feature(name) for name in LEARNERS}
