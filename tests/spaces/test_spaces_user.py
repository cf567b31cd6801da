"""metaopt.spaces as a user meets it: raw DataFrames, own splits, threads, own spaces."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import KFold

import metaopt
from metaopt import spaces
from metaopt.exceptions import FallbackWarning
from metaopt.spaces import SearchSpace, cv_splits, evaluate, scaled_pipeline


@pytest.fixture(scope="module")
def iris() -> metaopt.datasets.Dataset:
    return metaopt.load_dataset("sklearn:iris")


@pytest.fixture
def quiet_optuna() -> None:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    yield
    optuna.logging.set_verbosity(verbosity)


def _frame_with_nullable_columns(n: int = 60) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    flags = pd.array(rng.random(n) > 0.5, dtype="boolean")
    flags[::5] = pd.NA
    counts = pd.array(rng.integers(0, 5, n), dtype="Int64")
    counts[::4] = pd.NA
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "flag": flags,
            "count": counts,
            "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        }
    )
    X.loc[3, "when"] = pd.NaT
    y = pd.Series(np.where(X["x"] > 0, "high", "low"))
    return X, y


@pytest.mark.parametrize("name", ["hist_gradient_boosting", "random_forest", "knn"])
def test_evaluate_reads_pandas_nullable_and_datetime_columns(name: str) -> None:
    X, y = _frame_with_nullable_columns()
    result = evaluate(name, X, y, {}, cv_splits(y, "classification", 3, 0))
    assert result.status == "ok", result.error
    assert result.score > 0.7


def test_evaluate_wraps_a_numpy_array_and_scores_it_like_the_frame(iris) -> None:
    splits = cv_splits(iris.y, "classification", 3, 0)
    from_frame = evaluate("knn", iris.X, iris.y, {}, splits)
    from_array = evaluate("knn", iris.X.to_numpy(), iris.y.to_numpy(), {}, splits)
    assert from_array.status == "ok"
    assert from_array.score == from_frame.score


def test_evaluate_refuses_splits_it_cannot_use(iris) -> None:
    with pytest.raises(TypeError, match=r"list of \(train, test\).*got KFold"):
        evaluate("knn", iris.X, iris.y, {}, KFold(3))
    with pytest.raises(TypeError, match="got int"):
        evaluate("knn", iris.X, iris.y, {}, 3)
    with pytest.raises(ValueError, match="outside"):
        evaluate("knn", iris.X, iris.y, {}, [(np.arange(100), np.arange(100, 200))])
    generator = KFold(3, shuffle=True, random_state=0).split(iris.X)
    assert evaluate("knn", iris.X, iris.y, {}, generator).status == "ok"
    with pytest.raises(ValueError, match="splits is empty"):  # the generator is spent
        evaluate("knn", iris.X, iris.y, {}, generator)


def test_evaluate_refuses_inconsistent_data(iris) -> None:
    splits = cv_splits(iris.y, "classification", 3, 0)
    with pytest.raises(ValueError, match="150 rows in X and 100 values in y"):
        evaluate("knn", iris.X, iris.y[:100], {}, splits)
    labels = iris.y.astype(object).where(iris.y != iris.y.iloc[-1])
    with pytest.raises(ValueError, match="missing values"):
        evaluate("knn", iris.X, labels, {}, splits)
    with pytest.raises(ValueError, match="is for regression, which needs a numeric y"):
        evaluate(
            spaces.get("knn", "regression"), iris.X, "class-" + iris.y.astype(str), {}, splits
        )
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        evaluate("knn", iris.X, iris.y, {}, splits, timeout=-1)


def test_evaluate_refuses_a_probability_metric_the_space_cannot_compute(iris) -> None:
    splits = cv_splits(iris.y, "classification", 3, 0)
    with pytest.raises(ValueError, match="needs class probabilities.*'svm'"):
        evaluate("svm", iris.X, iris.y, {}, splits, metric="roc_auc")
    assert evaluate("knn", iris.X, iris.y, {}, splits, metric="roc_auc").status == "ok"


def test_objective_checks_its_arguments_before_any_trial(iris) -> None:
    with pytest.raises(TypeError, match="number of folds.*metaopt.spaces.evaluate"):
        spaces.objective("knn", iris, cv=KFold(3))
    with pytest.raises(TypeError, match="number of folds"):
        spaces.objective("knn", iris, cv=[(np.arange(10), np.arange(10, 20))])
    for bad in ({"timeout": -1}, {"timeout": "1"}, {"timeout": 0}):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            spaces.objective("knn", iris, cv=3, **bad)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        spaces.objective("knn", iris, cv=3, seed="a")
    for bad in (0, "100", 2.5):
        with pytest.raises(ValueError, match="max_rows must be a positive int"):
            spaces.objective("knn", iris, cv=3, max_rows=bad)


def test_objective_accepts_a_numpy_int_for_cv(iris) -> None:
    trial = optuna.trial.FixedTrial({"n_neighbors": 7, "weights": "uniform", "p": 2})
    expected = spaces.objective("knn", iris, cv=3)(trial)
    assert spaces.objective("knn", iris, cv=np.int64(3))(trial) == expected


def test_objective_warns_when_it_leaves_out_a_rare_class() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.array(["common"] * 40 + ["other"] * 18 + ["rare"] * 2)
    with pytest.warns(FallbackWarning, match=r"\['rare'\].*fewer than cv=3 rows"):
        objective = spaces.objective("knn", (X, y), cv=3)
    trial = optuna.trial.FixedTrial({"n_neighbors": 5, "weights": "uniform", "p": 2})
    assert 0.0 <= objective(trial) <= 1.0


# An estimator whose fits are ordered across threads: "a" and "b" fit at the same time, and
# "b" finishes only after the evaluation of "a" has returned.
_both_fitting = threading.Barrier(2, timeout=20)
_a_done = threading.Event()


class _Ordered(ClassifierMixin, BaseEstimator):
    def __init__(self, who: str = "a") -> None:
        self.who = who

    def fit(self, X: object, y: np.ndarray) -> _Ordered:
        _both_fitting.wait()
        if self.who == "b":
            assert _a_done.wait(timeout=20)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: object) -> np.ndarray:
        return np.full(len(X), self.classes_[0])  # type: ignore[arg-type]


def test_overlapping_evaluations_in_threads_leave_warning_filters_as_they_were(iris) -> None:
    space = SearchSpace(
        "ordered",
        "classification",
        {"who": CategoricalDistribution(["a", "b"])},
        {"who": "a"},
        lambda params: scaled_pipeline(_Ordered(**params)),
    )
    split = [cv_splits(iris.y, "classification", 3, 0)[0]]
    before = list(warnings.filters)
    results: dict[str, object] = {}

    def run(who: str) -> None:
        results[who] = evaluate(space, iris.X, iris.y, {"who": who}, split)
        if who == "a":
            _a_done.set()

    threads = [threading.Thread(target=run, args=(who,)) for who in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert {r.status for r in results.values()} == {"ok"}  # type: ignore[attr-defined]
    assert warnings.filters == before
    with pytest.warns(UserWarning, match="still shown"):
        warnings.warn("still shown", UserWarning, stacklevel=1)


def test_mlp_fits_in_threads_are_as_reproducible_as_alone(iris) -> None:
    pytest.importorskip("torch")
    X, y = iris.X.to_numpy(), iris.y.to_numpy()

    def fit(seed: int) -> np.ndarray:
        model = spaces.TorchMLPClassifier(width=16, epochs=3, batch_size=16, random_state=seed)
        return model.fit(X, y).predict_proba(X)

    alone = [fit(seed) for seed in range(4)]
    together: list[np.ndarray | None] = [None] * 4

    def run(seed: int) -> None:
        together[seed] = fit(seed)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for expected, got in zip(alone, together, strict=True):
        np.testing.assert_array_equal(got, expected)


def _ridge(task: str) -> SearchSpace:
    if task != "classification":
        raise ValueError(f"the ridge space is for classification only; got {task!r}")
    return SearchSpace(
        "user_ridge",
        task,
        {"alpha": FloatDistribution(1e-3, 1e3, log=True)},
        {"alpha": 1.0},
        lambda params: scaled_pipeline(RidgeClassifier(**params)),
    )


@pytest.fixture
def user_ridge() -> None:
    from metaopt.spaces import _registry

    spaces.register("user_ridge", _ridge)
    yield
    _registry._FACTORIES.pop("user_ridge", None)


def test_register_refuses_built_in_and_invalid_names() -> None:
    with pytest.raises(ValueError, match="'svm' is a built-in space"):
        spaces.register("svm", _ridge)
    assert type(spaces.get("svm").build().steps[-1][1]).__name__ == "RelativeGammaSVC"
    with pytest.raises(TypeError, match="name must be a str"):
        spaces.register(3, _ridge)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        spaces.register("", _ridge)
    assert "" not in spaces.names() and 3 not in spaces.names()


def test_get_checks_what_a_registered_factory_returns(user_ridge: None) -> None:
    from metaopt.spaces import _registry

    assert spaces.get("user_ridge").name == "user_ridge"
    _registry._FACTORIES["user_ridge"] = lambda task: _ridge("classification")
    with pytest.raises(ValueError, match="asked for regression, returned .* for classification"):
        spaces.get("user_ridge", "regression")
    spaces.register("user_ridge", lambda task: spaces.get("knn", task))
    with pytest.raises(ValueError, match="returned the space 'knn'"):
        spaces.get("user_ridge")
    spaces.register("user_ridge", lambda task: {"alpha": 1.0})
    with pytest.raises(TypeError, match="must return a SearchSpace; got dict"):
        spaces.get("user_ridge")


def test_a_registered_space_drives_an_objective(user_ridge: None, iris, quiet_optuna) -> None:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(spaces.objective("user_ridge", iris, cv=3), n_trials=3)
    assert all(0.0 <= t.value <= 1.0 for t in study.trials)
    with pytest.raises(ValueError, match="unknown search space 'nope'; registered: .*user_ridge"):
        spaces.get("nope")
