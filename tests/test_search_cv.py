"""MetaSearchCV: the scikit-learn estimator contract, the warm start and the results layout."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

import metaopt
from metaopt import MetaSearchCV, spaces
from metaopt.exceptions import FallbackWarning
from metaopt.samplers import MetaSampler, fit_to_distribution

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    """200 rows of breast_cancer (both classes), enough for 3 folds and fast fits."""
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.random.default_rng(0).choice(len(y), size=200, replace=False)
    return X[rows], y[rows]


def _small(**kwargs):
    options = {"n_trials": 3, "n_warm": 2, "cv": 3, "random_state": 0}
    return MetaSearchCV(**{**options, **kwargs})


# ---------------------------------------------------------------------- estimator contract


@pytest.mark.slow
@parametrize_with_checks(
    [
        MetaSearchCV(
            "logistic_regression",
            task="classification",
            n_trials=2,
            n_warm=1,
            cv=2,
            random_state=0,
        ),
        MetaSearchCV(
            "logistic_regression", task="regression", n_trials=2, n_warm=1, cv=2, random_state=0
        ),
        MetaSearchCV(
            estimator=LogisticRegression(),
            param_distributions={"C": FloatDistribution(0.01, 10.0, log=True)},
            n_trials=2,
            n_warm=1,
            cv=2,
            random_state=0,
        ),
    ]
)
def test_sklearn_estimator_checks(estimator, check) -> None:
    # The logistic_regression space is used because the checks fit on 10-row data, where a
    # k-nearest-neighbours space with k > 5 fails every fold by design.
    check(estimator)


def test_init_only_stores_and_clone_keeps_params() -> None:
    search = MetaSearchCV("knn", n_trials=-5, task="nonsense")  # validated at fit, not here
    assert search.get_params()["n_trials"] == -5
    copy = clone(MetaSearchCV("knn", n_trials=4, cv=3, random_state=1))
    assert copy.get_params()["n_trials"] == 4 and not hasattr(copy, "cv_results_")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_trials": 0}, ValueError, "n_trials must be an int >= 1"),
        ({"n_warm": -1}, ValueError, "n_warm"),
        ({"task": "ranking"}, ValueError, "task must be one of"),
        (
            {"param_distributions": {"C": FloatDistribution(1, 2)}},
            ValueError,
            "needs an estimator",
        ),
        ({"estimator": SVC()}, ValueError, "param_distributions must be a non-empty dict"),
        ({"estimator": SVC(), "param_distributions": {"C": (1, 2)}}, TypeError, "optuna distr"),
        (
            {"estimator": SVC(), "param_distributions": {"Cx": FloatDistribution(1, 2)}},
            ValueError,
            "Invalid parameter 'Cx'",
        ),
        ({"scoring": ["accuracy", "roc_auc"]}, ValueError, "refit must name"),
        ({"scoring": ["accuracy", "accuracy"], "refit": False}, ValueError, "twice"),
        ({"scoring": {"a": 3}, "refit": "a"}, TypeError, "scorer name or a callable"),
        ({"error_score": "ignore"}, ValueError, "error_score"),
        ({"space": "no_such_space"}, ValueError, "unknown search space"),
    ],
)
def test_bad_arguments_raise_at_fit(cancer, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        _small(**kwargs).fit(*cancer)


def test_y_is_required(cancer) -> None:
    with pytest.raises(ValueError, match="y is required"):
        _small(space="knn").fit(cancer[0])


# ---------------------------------------------------------------------- the search


def test_warm_start_trials_are_the_meta_model_suggestions(cancer) -> None:
    X, y = cancer
    search = _small(space="knn").fit(X, y)
    assert search.cv_results_["warm_start"].tolist() == [True, True, False]
    dataset = metaopt.datasets.make_dataset(X, y, task="classification")
    expected = MetaSampler(dataset, space="knn", n_warm=2).warm_start_configs()
    space = spaces.get("knn")
    for params, warm in zip(search.cv_results_["params"][:2], expected, strict=True):
        assert params == {
            name: fit_to_distribution(warm.params[name], dist)
            for name, dist in space.distributions.items()
        }


def test_without_warm_start_it_is_a_plain_tpe_search(cancer) -> None:
    X, y = cancer
    search = _small(space="knn", n_warm=0, n_trials=4).fit(X, y)
    assert not search.cv_results_["warm_start"].any()
    space = spaces.get("knn")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    values = iter(search.cv_results_["mean_test_score"])

    def objective(trial: optuna.Trial) -> float:
        space.suggest(trial)
        return next(values)  # the same scores, so TPE sees the same history

    study.optimize(objective, n_trials=4)
    assert [t.params for t in study.trials] == search.cv_results_["params"]


def test_cv_results_layout_and_best(cancer) -> None:
    search = _small(space="knn", n_trials=4, return_train_score=True).fit(*cancer)
    results = search.cv_results_
    assert search.n_trials_ == 4 and search.n_splits_ == 3
    for key in ("mean_fit_time", "std_score_time", "mean_test_score", "rank_test_score"):
        assert len(results[key]) == 4
    folds = np.column_stack([results[f"split{k}_test_score"] for k in range(3)])
    np.testing.assert_allclose(folds.mean(axis=1), results["mean_test_score"])
    assert "split2_train_score" in results and "mean_train_score" in results
    assert isinstance(results["param_n_neighbors"], np.ma.MaskedArray)
    best = int(np.argmax(results["mean_test_score"]))
    assert search.best_index_ == best and results["rank_test_score"][best] == 1
    assert search.best_score_ == pytest.approx(results["mean_test_score"].max())
    assert search.best_params_ == results["params"][best]
    assert search.study_.best_trial.number == results["trial_number"][best]
    assert (
        search.best_estimator_.named_steps["model"].n_neighbors
        == (search.best_params_["n_neighbors"])
    )


def test_same_random_state_same_search(cancer) -> None:
    first = _small(space="knn", n_trials=4).fit(*cancer)
    second = _small(space="knn", n_trials=4).fit(*cancer)
    assert first.cv_results_["params"] == second.cv_results_["params"]


def test_predictions_go_through_the_refitted_best_estimator(cancer) -> None:
    X, y = cancer
    search = _small(space="knn", scoring="balanced_accuracy").fit(X, y)
    np.testing.assert_array_equal(
        search.predict(X),
        search.best_estimator_.predict(
            pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        ),
    )
    assert search.predict_proba(X[:5]).shape == (5, 2)
    np.testing.assert_array_equal(search.classes_, [0, 1])
    assert 0.5 < search.score(X, y) <= 1.0
    assert search.n_features_in_ == X.shape[1] and not hasattr(search, "feature_names_in_")


def test_dataframe_with_categories_and_missing_values() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=120),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], size=120)),
        }
    )
    frame.loc[::7, "size"] = np.nan
    y = np.where(frame["colour"] == "red", "yes", "no")
    search = _small(space="hist_gradient_boosting").fit(frame, y)
    assert search.score(frame, y) > 0.9  # the colour decides the class
    assert set(search.predict(frame.head())) <= {"yes", "no"}
    assert list(search.feature_names_in_) == ["size", "colour"]


def test_dataframe_is_checked_without_a_copy_and_reaches_the_model_as_it_is() -> None:
    import tracemalloc

    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame(
        {f"x{i}": rng.normal(size=n) for i in range(10)}
        | {f"c{i}": pd.Categorical(rng.choice(["a", "b", "c"], size=n)) for i in range(5)}
        | {f"s{i}": rng.choice(["north", "south"], size=n) for i in range(5)}
    )
    y = np.where(frame["c0"] == "a", "yes", "no")
    search = _small(space="knn", n_trials=1, n_warm=0, cv=2)
    search.fit(frame.head(200), y[:200])

    received = []

    class Recorder:
        def predict(self, X):
            received.append(X)
            return np.zeros(len(X))

    search.best_estimator_ = Recorder()
    tracemalloc.start()
    search.predict(frame)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Converting the mixed frame to one object array took ~5x the frame's memory.
    assert peak < frame.memory_usage().sum() / 10
    assert received[0] is frame  # no copy, categorical columns still categorical
    assert (received[0].dtypes == frame.dtypes).all()


def test_regression_has_no_class_methods() -> None:
    X, y = load_diabetes(return_X_y=True)
    search = _small(space="knn", task="regression").fit(X[:150], y[:150])
    assert search.predict(X[:4]).shape == (4,)
    assert not hasattr(search, "predict_proba") and not hasattr(search, "decision_function")


def test_refit_false_has_results_but_no_predict(cancer) -> None:
    search = _small(space="knn", refit=False).fit(*cancer)
    assert search.n_trials_ == 3 and not hasattr(search, "best_estimator_")
    with pytest.raises(AttributeError, match="refit=True"):
        search.predict(cancer[0])


def test_inside_a_pipeline(cancer) -> None:
    X, y = cancer
    pipe = Pipeline([("scale", StandardScaler()), ("search", _small(space="knn"))]).fit(X, y)
    assert (pipe.predict(X) == y).mean() > 0.85
    assert clone(pipe).get_params()["search__space"] == "knn"


def test_own_pipeline_is_warm_started_by_parameter_leaf_names(cancer) -> None:
    X, y = cancer
    estimator = Pipeline([("scale", StandardScaler()), ("svc", SVC())])
    distributions = {
        "svc__C": FloatDistribution(1e-3, 1e3, log=True),
        "svc__gamma": FloatDistribution(1e-4, 1e1, log=True),
    }
    # Chosen from both names: "C" alone would fit logistic_regression as well.
    with pytest.warns(FallbackWarning, match="chose the knowledge space 'svm'") as record:
        search = _small(estimator=estimator, param_distributions=distributions).fit(X, y)
    assert record[0].filename == __file__
    assert search.cv_results_["warm_start"].tolist() == [True, True, False]
    warm = [t.user_attrs.get("metaopt:warm_start") for t in search.study_.trials]
    assert [w["space"] for w in warm[:2]] == ["svm", "svm"]
    assert set(search.best_params_) == {"svc__C", "svc__gamma"}
    assert set(search.study_.best_params) == {"C", "gamma"}
    assert search.best_estimator_.named_steps["svc"].C == search.best_params_["svc__C"]
    assert "param_svc__gamma" in search.cv_results_


class _Flaky(ClassifierMixin, BaseEstimator):
    """Majority-class classifier whose fit fails when ``fail`` is set."""

    def __init__(self, fail: bool = False, level: int = 0) -> None:
        self.fail = fail
        self.level = level

    def fit(self, X, y):
        if self.fail:
            raise RuntimeError("configured to fail")
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def test_failing_configurations_score_nan_and_rank_last(cancer) -> None:
    distributions = {
        "fail": CategoricalDistribution([True, False]),
        "level": IntDistribution(0, 9),
    }
    search = _small(estimator=_Flaky(), param_distributions=distributions, n_trials=8, n_warm=0)
    with pytest.warns(FitFailedWarning):
        search.fit(*cancer)
    results = search.cv_results_
    failed = np.array([p["fail"] for p in results["params"]])
    assert failed.any() and (~failed).any(), "the seed must draw both kinds"
    assert np.isnan(results["mean_test_score"][failed]).all()
    assert results["rank_test_score"][failed].min() > results["rank_test_score"][~failed].max()
    assert search.best_params_["fail"] is False


def test_all_failing_raises_the_estimators_own_error(cancer) -> None:
    search = _small(
        estimator=_Flaky(),
        param_distributions={"fail": CategoricalDistribution([True])},
        n_warm=0,
    )
    with pytest.warns(FitFailedWarning), pytest.raises(RuntimeError, match="configured"):
        search.fit(*cancer)
    with pytest.raises(RuntimeError, match="configured to fail"):
        search.set_params(error_score="raise").fit(*cancer)


@pytest.mark.slow
def test_storage_and_study_name_continue_a_study(tmp_path) -> None:
    X, y = load_iris(return_X_y=True)
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    first = _small(space="knn", storage=storage, study_name="iris").fit(X, y)
    second = _small(space="knn", storage=storage, study_name="iris").fit(X, y)
    assert first.n_trials_ == 3 and second.n_trials_ == 6
    assert second.cv_results_["params"][:3] == first.cv_results_["params"]
    assert second.best_score_ >= first.best_score_


def test_string_labels_set_the_task_and_classes() -> None:
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    search = _small(space="knn").fit(X, labels)
    assert list(search.classes_) == ["setosa", "versicolor", "virginica"]
    assert search.predict(X[:1])[0] in set(labels)


def test_data_without_metafeatures_warns_why_and_warm_starts_from_the_portfolio(cancer) -> None:
    X, _ = cancer
    y = np.zeros(len(X), dtype=int)  # one class: nothing to describe
    with pytest.warns(FallbackWarning, match=r"no metafeatures for this data \(.*portfolio"):
        search = _small(space="knn").fit(X, y)
    warm = [t.user_attrs.get("metaopt:warm_start") for t in search.study_.trials]
    assert [w["model"] for w in warm[:2]] == ["Portfolio", "Portfolio"]
