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
#: Learners whose fits may legitimately fail on degenerate data (reported as undefined).
_EXPECTED_FAILURES = (ValueError, np.linalg.LinAlgError, FloatingPointError)


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
    return data.y_codes[rows] if data.task == "classification" else data.y_float[rows]


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


def _score(data: PreparedData, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if data.task == "classification":
        return float(np.mean(y_true == y_pred))
    total = ((y_true - y_true.mean()) ** 2).sum()
    if total <= 0:
        raise Undefined("R^2 is undefined on a test fold with a constant target")
    return float(1.0 - ((y_true - y_pred) ** 2).sum() / total)


Fitter = Callable[[PreparedData, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _sklearn(make: Callable[[PreparedData], object]) -> Fitter:
    def fit_predict(data, X_train, y_train, X_test):
        model = make(data)
        model.fit(X_train, y_train)
        return model.predict(X_test)

    return fit_predict


def _one_nn(data, X_train, y_train, X_test):
    return _one_nn_predict(X_train, y_train, X_test)


def _random_stump(data, X_train, y_train, X_test):
    column = data.memo(
        "random_stump_column", lambda d: int(d.rng("random-stump").integers(X_train.shape[1]))
    )
    tree = _tree(1)(data)
    tree.fit(X_train[:, [column]], y_train)
    return tree.predict(X_test[:, [column]])


def _tree(depth: int) -> Callable[[PreparedData], object]:
    def make(data: PreparedData) -> object:
        cls = DecisionTreeClassifier if data.task == "classification" else DecisionTreeRegressor
        return cls(max_depth=depth, random_state=data.random_state)

    return make


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
    "stump": _sklearn(_tree(1)),
    "random_stump": _random_stump,
    "tree_depth3": _sklearn(_tree(3)),
    "naive_bayes": _sklearn(_classification_only(GaussianNB)),
    "lda": _sklearn(_classification_only(LinearDiscriminantAnalysis)),
    "linear": _sklearn(_linear),
}


def cross_validate(data: PreparedData, name: str) -> float:
    """Mean test-fold score of learner ``name``; undefined past the deadline."""
    if data.deadline is not None and time.monotonic() > data.deadline:
        raise Undefined("skipped: budget_s was spent before this feature")
    if data.task != "classification" and name in ("naive_bayes", "lda"):
        raise Undefined("no regression counterpart")
    X, _ = data.memo("design", design_matrix)
    if X.shape[1] == 0:
        raise Undefined("no informative column for the learners (all constant)")
    y = _target(data)
    splits = data.memo("folds", folds)
    scores = []
    for train, test in splits:
        if data.task == "classification" and np.unique(y[train]).size < 2:
            predicted = np.full(test.size, y[train][0])
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    predicted = LEARNERS[name](data, X[train], y[train], X[test])
            except _EXPECTED_FAILURES as exc:
                logger.warning("landmarker %s failed, reported as NaN: %s", name, exc)
                raise Undefined(f"{name} could not be fitted: {exc}") from exc
        scores.append(_score(data, y[test], predicted))
    return float(np.mean(scores))


def _feature(name: str) -> FeatureFunction:
    return lambda data: cross_validate(data, name)


FEATURES: dict[str, FeatureFunction] = {f"landmarking.{name}": _feature(name) for name in LEARNERS}
