"""MetaSearchCV as a scikit-learn user runs it: pandas dtypes, fit parameters, refit, results."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from metaopt import MetaSearchCV

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    """150 rows of breast_cancer, standardised: both classes, fast fits."""
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.random.default_rng(0).choice(len(y), size=150, replace=False)
    return StandardScaler().fit_transform(X[rows]), y[rows]


def _small(**kwargs) -> MetaSearchCV:
    options = {"n_trials": 3, "n_warm": 1, "cv": 3, "random_state": 0}
    return MetaSearchCV(**{**options, **kwargs})


def _logistic(**kwargs) -> MetaSearchCV:
    return _small(
        estimator=LogisticRegression(max_iter=500),
        param_distributions={"C": FloatDistribution(1e-3, 1e2, log=True)},
        space="logistic_regression",
        **kwargs,
    )


# ---------------------------------------------------------------------- input data


def test_nullable_integer_boolean_and_string_columns_with_missing_values() -> None:
    rng = np.random.default_rng(0)
    n = 90
    frame = pd.DataFrame(
        {
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
            "count": pd.array(rng.integers(0, 5, size=n), dtype="Int64"),
            "flag": pd.array(rng.integers(0, 2, size=n).astype(bool), dtype="boolean"),
            "shop": pd.array(rng.choice(["north", "south"], size=n), dtype="string"),
        }
    )
    frame.loc[::7, "count"] = pd.NA
    frame.loc[::9, "flag"] = pd.NA
    frame.loc[::5, "shop"] = pd.NA
    y = np.where(frame["colour"] == "red", "yes", "no")
    search = _small(space="logistic_regression").fit(frame, y)
    assert search.score(frame, y) > 0.9  # the colour decides the class
    assert list(search.feature_names_in_) == ["colour", "count", "flag", "shop"]
    assert frame["count"].dtype == "Int64"  # the caller's frame is not changed


def test_fitted_on_an_array_predicts_a_dataframe_by_column_position(cancer) -> None:
    X, y = cancer
    search = _small(space="logistic_regression").fit(X, y)
    frame = pd.DataFrame(X[:10], columns=[f"feature {i}" for i in range(X.shape[1])])
    with pytest.warns(UserWarning, match="fitted without feature names"):
        predicted = search.predict(frame)
    np.testing.assert_array_equal(predicted, search.predict(X[:10]))


def test_regression_with_class_labels_says_what_is_wrong(cancer) -> None:
    X, y = cancer
    labels = np.array(["benign", "malignant"])[y]
    with pytest.raises(ValueError, match="regression needs a numeric target.*<U9"):
        _small(space="knn", task="regression").fit(X, labels)


# ---------------------------------------------------------------------- fit parameters


def test_sample_weight_goes_to_the_named_spaces_model(cancer) -> None:
    X, y = cancer
    weight = np.where(y == 1, 1.0, 20.0)
    search = _small(space="logistic_regression", n_trials=2).fit(X, y, sample_weight=weight)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])  # as the space sees it
    best = search.best_estimator_
    weighted = best.__sklearn_clone__().fit(frame, y, model__sample_weight=weight)
    np.testing.assert_allclose(search.predict_proba(X), weighted.predict_proba(frame))
    unweighted = best.__sklearn_clone__().fit(frame, y)
    assert not np.allclose(search.predict_proba(X), unweighted.predict_proba(frame))


@pytest.mark.parametrize(
    ("space", "task", "model"),
    [("knn", "classification", "KNeighborsClassifier"), ("svm", "regression", "RelativeGammaSVR")],
)
def test_a_fit_parameter_the_model_does_not_take_fails_before_the_search(
    cancer, space, task, model
) -> None:
    X, y = cancer
    search = _small(space=space, task=task)
    with pytest.raises(TypeError, match=rf"'{space}' space's model \({model}\) does not take"):
        search.fit(X, y, sample_weight=np.ones(len(y)))
    assert not hasattr(search, "study_")


# ---------------------------------------------------------------------- refit and results


def test_a_callable_refit_chooses_the_configuration(cancer) -> None:
    X, y = cancer

    def worst(results: dict) -> int:
        return int(np.argmin(results["mean_test_score"]))

    search = _logistic(n_trials=4, refit=worst).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.ptp(scores) > 0, "the seed must give different scores"
    assert search.best_index_ == int(np.argmin(scores))
    assert search.best_params_ == search.cv_results_["params"][search.best_index_]
    assert search.best_estimator_.C == search.best_params_["C"]
    assert not hasattr(search, "best_score_")  # as GridSearchCV with a callable refit


@pytest.mark.parametrize(
    ("refit", "match"),
    [("accuracy", "refit must be True, False or a callable"), (lambda r: 99, "int index")],
)
def test_a_refit_that_cannot_choose_raises(cancer, refit, match) -> None:
    with pytest.raises(ValueError, match=match):
        _logistic(refit=refit).fit(*cancer)


def test_refit_naming_the_single_scoring_is_accepted(cancer) -> None:
    search = _logistic(scoring="accuracy", refit="accuracy").fit(*cancer)
    assert hasattr(search, "best_estimator_") and search.best_score_ > 0.8


def test_param_columns_have_the_dtypes_gridsearchcv_gives(cancer) -> None:
    search = _small(
        estimator=LogisticRegression(max_iter=500),
        param_distributions={
            "C": FloatDistribution(1e-3, 1e2, log=True),
            "fit_intercept": CategoricalDistribution([True, False]),
            "solver": CategoricalDistribution(["lbfgs", "newton-cg"]),
        },
        n_warm=0,
    ).fit(*cancer)
    results = search.cv_results_
    assert results["param_C"].dtype == np.float64
    assert results["param_fit_intercept"].dtype == np.bool_
    assert results["param_solver"].dtype == object
    assert pd.DataFrame(results)["param_C"].dtype == np.float64


def test_an_unknown_knowledge_space_for_an_estimator_raises() -> None:
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=r"unknown knowledge space 'logistic'.*'svm'\]"):
        _logistic().set_params(space="logistic").fit(X, y)


def test_several_metrics_are_recorded_and_the_refit_one_is_searched(cancer) -> None:
    X, y = cancer
    search = _logistic(scoring=["accuracy", "roc_auc"], refit="roc_auc").fit(X, y)
    results = search.cv_results_
    for metric in ("accuracy", "roc_auc"):
        assert results[f"mean_test_{metric}"].shape == (3,)
        assert results[f"rank_test_{metric}"].min() == 1
    assert "mean_test_score" not in results
    # The study maximised roc_auc: its best trial is the best by roc_auc, and best_* follow it.
    assert search.best_index_ == int(np.argmax(results["mean_test_roc_auc"]))
    assert search.best_score_ == pytest.approx(results["mean_test_roc_auc"].max())
    assert search.study_.best_value == pytest.approx(search.best_score_)
    assert set(search.scorer_) == {"accuracy", "roc_auc"}
    # score() uses the refit metric: roc_auc of the refitted model, not its accuracy.
    from sklearn.metrics import roc_auc_score

    expected = roc_auc_score(y, search.best_estimator_.predict_proba(X)[:, 1])
    assert search.score(X, y) == pytest.approx(expected)


def test_several_metrics_without_refit_set_no_best_attributes(cancer) -> None:
    X, y = cancer
    search = _logistic(
        scoring={"acc": "accuracy", "bal": "balanced_accuracy"},
        refit=False,
        return_train_score=True,
    ).fit(X, y)
    assert {"mean_test_acc", "mean_test_bal", "mean_train_acc", "split2_train_bal"} <= set(
        search.cv_results_
    )
    assert not hasattr(search, "best_index_") and not hasattr(search, "best_score_")
    # The search maximised the first metric.
    assert search.study_.best_value == pytest.approx(search.cv_results_["mean_test_acc"].max())


def test_sample_weight_that_leaves_one_class_is_refused() -> None:
    # Every configuration would be fitted on one class: what it then predicts depends on the
    # configuration the knowledge base suggests, so the search says so instead.
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(20, 4)), np.arange(20) % 2
    search = MetaSearchCV(space="logistic_regression", n_trials=2, n_warm=1, cv=2, random_state=0)
    with pytest.raises(ValueError, match=r"classes with positive weight: \[1\], of \[0, 1\]"):
        search.fit(X, y, sample_weight=y.astype(float))
    search.fit(X, y, sample_weight=np.where(y == 1, 2.0, 0.5))  # both classes weighted: fits
    assert set(search.predict(X)) <= {0, 1}
