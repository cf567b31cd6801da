"""Tree ensemble spaces: histogram gradient boosting, random forest, extra trees."""

from __future__ import annotations

from typing import Any

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from metaopt.spaces._preprocessing import tree_pipeline
from metaopt.spaces._space import SearchSpace

#: Trees per forest for users, scikit-learn's default. Not tuned (more trees are almost never
#: worse, only slower): a fidelity setting, which the knowledge builder lowers for its base runs.
N_TREES = 100


def hist_gradient_boosting(task: str) -> SearchSpace:
    """Histogram gradient boosting; missing values handled natively, no early stopping."""
    model_class = (
        HistGradientBoostingClassifier
        if task == "classification"
        else HistGradientBoostingRegressor
    )

    def factory(params: dict[str, Any]) -> Any:
        model = model_class(**params, early_stopping=False, random_state=0)
        return tree_pipeline(model, impute=False)

    return SearchSpace(
        "hist_gradient_boosting",
        task,
        {
            "learning_rate": FloatDistribution(0.01, 1.0, log=True),
            "max_iter": IntDistribution(10, 100, log=True),
            "max_leaf_nodes": IntDistribution(4, 64, log=True),
            "min_samples_leaf": IntDistribution(1, 64, log=True),
            "l2_regularization": FloatDistribution(1e-8, 10.0, log=True),
            "max_features": FloatDistribution(0.1, 1.0),
        },
        # scikit-learn's defaults, with l2_regularization 0 moved onto the log range.
        {
            "learning_rate": 0.1,
            "max_iter": 100,
            "max_leaf_nodes": 31,
            "min_samples_leaf": 20,
            "l2_regularization": 1e-8,
            "max_features": 1.0,
        },
        factory,
        description="HistGradientBoosting; ordinal-encoded categoricals, native missing values",
    )


def _forest(name: str, task: str, bootstrap_default: bool) -> SearchSpace:
    classes = {
        ("random_forest", "classification"): RandomForestClassifier,
        ("random_forest", "regression"): RandomForestRegressor,
        ("extra_trees", "classification"): ExtraTreesClassifier,
        ("extra_trees", "regression"): ExtraTreesRegressor,
    }
    model_class = classes[(name, task)]

    def factory(params: dict[str, Any], n_trees: int = N_TREES) -> Any:
        model = model_class(n_estimators=n_trees, **params, n_jobs=1, random_state=0)
        return tree_pipeline(model)

    distributions: dict[str, Any] = {
        "max_features": FloatDistribution(0.05, 1.0),
        "min_samples_leaf": IntDistribution(1, 32, log=True),
        "min_samples_split": IntDistribution(2, 32, log=True),
    }
    default: dict[str, Any] = {
        # A fraction of features (about sqrt(d)/d for d ~ 10) for classification, all features
        # for regression, as scikit-learn's defaults do.
        "max_features": 0.3 if task == "classification" else 1.0,
        "min_samples_leaf": 1,
        "min_samples_split": 2,
    }
    if task == "classification":
        distributions["criterion"] = CategoricalDistribution(["gini", "entropy"])
        default["criterion"] = "gini"
    distributions["bootstrap"] = CategoricalDistribution([True, False])
    distributions["max_samples"] = FloatDistribution(0.1, 1.0)
    default["bootstrap"] = bootstrap_default
    default["max_samples"] = 1.0
    return SearchSpace(
        name,
        task,
        distributions,
        default,
        factory,
        conditions={"max_samples": lambda p: bool(p.get("bootstrap"))},
        description=f"{model_class.__name__}; ordinal-encoded categoricals",
        fidelity={"n_trees": N_TREES},
    )


def random_forest(task: str) -> SearchSpace:
    """Random forest (:data:`N_TREES` trees by default); ``max_samples`` only with bootstrap."""
    return _forest("random_forest", task, bootstrap_default=True)


def extra_trees(task: str) -> SearchSpace:
    """Extra trees (:data:`N_TREES` trees by default); ``max_samples`` only with bootstrap."""
    return _forest("extra_trees", task, bootstrap_default=False)
