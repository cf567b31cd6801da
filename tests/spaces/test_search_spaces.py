"""Behaviour of the registered search spaces: sampling, suggesting, building, fitting."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from metaopt import spaces
from metaopt.datasets import Dataset


@pytest.fixture(autouse=True)
def _one_thread() -> object:
    """One BLAS/OpenMP thread: on a shared 2-core machine, spinning threads only slow fits."""
    with threadpool_limits(1):
        yield


ALL = [(name, task) for name in spaces.names() for task in ("classification", "regression")]


def _contains(dist: object, value: object) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    assert isinstance(dist, FloatDistribution | IntDistribution)
    return dist.low <= value <= dist.high


def test_registry_lists_the_required_spaces() -> None:
    required = {"hist_gradient_boosting", "random_forest", "extra_trees", "svm"}
    assert required | {"logistic_regression", "knn", "mlp"} <= set(spaces.names())
    with pytest.raises(ValueError, match="unknown search space"):
        spaces.get("gaussian_process")
    with pytest.raises(ValueError, match="task"):
        spaces.get("knn", task="ranking")


@pytest.mark.parametrize(("name", "task"), ALL)
def test_sample_is_seeded_valid_and_buildable(name: str, task: str) -> None:
    space = spaces.get(name, task)
    assert space.name == name and space.task == task
    first, again, other = space.sample(16, seed=3), space.sample(16, seed=3), space.sample(16, 4)
    assert first == again
    assert first != other
    for config in first:
        active = [p for p in space.distributions if space.is_active(p, config)]
        assert set(config) == set(active)
        for param, value in config.items():
            assert _contains(space.distributions[param], value), (param, value)
        assert space.complete(config) == config
    assert isinstance(space.build(first[0]), Pipeline)
    assert space.complete({}) == space.default


def test_log_scaled_parameters_are_spread_in_log_space() -> None:
    space = spaces.get("svm")
    values = np.array([c["C"] for c in space.sample(64, seed=0)])
    dist = space.distributions["C"]
    assert dist.log
    # Uniform in log space: the median sits near the geometric middle, not the arithmetic one.
    geometric_middle = math.sqrt(dist.low * dist.high)
    assert abs(math.log(np.median(values)) - math.log(geometric_middle)) < 1.0
    assert np.median(values) < (dist.low + dist.high) / 4


def test_build_rejects_unknown_and_out_of_range_parameters() -> None:
    space = spaces.get("random_forest")
    with pytest.raises(ValueError, match="unknown parameters"):
        space.build({"n_trees": 10})
    with pytest.raises(ValueError, match="outside"):
        space.build({"max_features": 1.5})
    with pytest.raises(ValueError, match="not one of"):
        space.build({"criterion": "mse"})
    model = space.build({"min_samples_leaf": 4}).named_steps["model"]
    assert model.min_samples_leaf == 4
    assert model.max_features == space.default["max_features"]


def test_conditional_parameters() -> None:
    forest = spaces.get("random_forest")
    assert forest.complete({"bootstrap": False, "max_samples": 0.5}) == {
        **{k: v for k, v in forest.default.items() if k != "max_samples"},
        "bootstrap": False,
    }
    assert forest.build({"bootstrap": True, "max_samples": 0.5})["model"].max_samples == 0.5
    mlp = spaces.get("mlp")
    assert "lr_multiplier" not in mlp.default
    lstm = mlp.complete({"optimizer": "lstm"})
    assert "learning_rate" not in lstm and lstm["lr_multiplier"] == 1.0
    assert mlp.build({"optimizer": "lstm", "lr_multiplier": 2.0})["model"].learning_rate == 2.0


@pytest.mark.parametrize("name", spaces.names())
def test_suggest_uses_exactly_the_space_distributions(name: str) -> None:
    space = spaces.get(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(6):
        trial = study.ask()
        params = space.suggest(trial)
        assert set(params) == set(trial.params)
        assert set(params) <= set(space.distributions)
        for param, dist in trial.distributions.items():
            assert dist == space.distributions[param]
        assert space.complete(params) == params
        study.tell(trial, 0.0)


def _messy_dataset(task: str) -> Dataset:
    rng = np.random.default_rng(0)
    n = 90
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
            # Never observed (OpenML's sick has such a column): histogram gradient boosting
            # cannot bin it, so the pipelines drop it.
            "empty": np.full(n, np.nan),
            # Infinite values (a ratio divided by zero) count as missing.
            "spiky": rng.normal(size=n),
            "infinite": np.full(n, np.inf),
        }
    )
    X.loc[::5, "spiky"] = np.inf
    X.loc[::9, "spiky"] = -np.inf
    X.loc[::7, "a"] = np.nan
    X.loc[::11, "colour"] = np.nan
    signal = X["b"] + (X["colour"] == "red").astype(float)
    if task == "classification":
        y = pd.Series(pd.Categorical(np.where(signal > 0.3, "yes", "no")))
    else:
        y = signal + 0.1 * rng.normal(size=n)
    return Dataset(X=X, y=y, task=task, name="messy", source="test")


@pytest.mark.parametrize(("name", "task"), ALL)
def test_defaults_fit_messy_data(name: str, task: str) -> None:
    # Missing and infinite values, a never-observed column, categories with gaps.
    data = _messy_dataset(task)
    space = spaces.get(name, task)
    splits = spaces.cv_splits(data.y, task, cv=3, seed=0)
    quick_mlp = {"epochs": 20, "learning_rate": 0.01, "batch_size": 16}
    params = {**space.default, **quick_mlp} if name == "mlp" else space.default
    result = spaces.evaluate(space, data.X, data.y, params, splits)
    assert result.status == "ok", result.error
    assert len(result.fold_scores) == 3
    floor = 0.55 if task == "classification" else 0.2
    assert result.score > floor  # the signal is learnable by every model family


def test_objective_scores_are_reproducible_and_recorded() -> None:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    data = Dataset(X=X, y=y.astype("category"), task="classification", name="iris", source="t")
    objective = spaces.objective("knn", data, cv=3, seed=1)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=3)
    first = study.trials[0]
    assert len(first.user_attrs["fold_scores"]) == 3
    assert 0.0 <= first.value <= 1.0
    # Same parameters on the same fixed splits give the same score.
    replay = optuna.create_study(direction="maximize")
    replay.enqueue_trial(first.params)
    replay.optimize(spaces.objective("knn", data, cv=3, seed=1), n_trials=1)
    assert replay.trials[0].value == first.value
    with pytest.raises(ValueError, match="metric"):
        spaces.objective("knn", data, metric="r2")
    # An RBF SVC gives no probabilities: every trial would fail, so it is refused up front.
    with pytest.raises(ValueError, match=r"'roc_auc' needs class probabilities.*'svm'"):
        spaces.objective("svm", data, metric="roc_auc")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(spaces.objective("knn", data, cv=3, metric="neg_log_loss"), n_trials=2)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_prepare_caps_rows_with_stratification_and_drops_rare_classes() -> None:
    rng = np.random.default_rng(0)
    labels = np.array(["a"] * 800 + ["b"] * 190 + ["c"] * 10 + ["d"] * 2)
    X = pd.DataFrame({"x": rng.normal(size=len(labels))})
    data = Dataset(
        X=X, y=pd.Series(pd.Categorical(labels)), task="classification", name="s", source="t"
    )
    capped = spaces.prepare(data, max_rows=200, cv=3, seed=0)
    counts = capped.y.value_counts()
    assert len(capped.y) == 200
    assert "d" not in counts.index  # 2 rows cannot fill 3 folds
    assert abs(counts["a"] / 200 - 800 / 1000) < 0.02
    assert counts["c"] >= 2
    again = spaces.prepare(data, max_rows=200, cv=3, seed=0)
    pd.testing.assert_frame_equal(capped.X, again.X)
    assert capped.metadata["n_rows_original"] == len(labels)


def test_logistic_regression_l1_ratio_sets_the_penalty() -> None:
    # The knowledge base's logistic_regression configurations mix L1 and L2: a high l1_ratio
    # with strong regularisation must zero coefficients out, a zero l1_ratio must not. (Before
    # scikit-learn 1.8, l1_ratio was ignored unless the penalty was named.)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 20))).add_prefix("x")
    y = (X["x0"] + 0.5 * X["x1"] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    space = spaces.get("logistic_regression")

    def coefficients(l1_ratio: float) -> np.ndarray:
        model = space.build({"C": 0.05, "l1_ratio": l1_ratio}).fit(X, y)
        return model[-1].coef_.ravel()

    assert np.sum(coefficients(1.0) == 0.0) >= 10
    assert np.sum(coefficients(0.0) == 0.0) == 0


def test_knn_manhattan_predicts_string_labels() -> None:
    # p=1 with uniform weights takes scikit-learn's brute-force class-mode path, which crashed
    # on string labels before scikit-learn 1.9; real datasets' labels are strings.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {f"x{i}": rng.normal(size=200) for i in range(10)}
        | {f"c{i}": pd.Categorical(rng.choice(["a", "b", "c"], size=200)) for i in range(5)}
    )
    y = np.where(X["c0"] == "a", "yes", "no")
    model = spaces.get("knn").build({"n_neighbors": 5, "weights": "uniform", "p": 1}).fit(X, y)
    assert (model.predict(X) == y).mean() > 0.8
