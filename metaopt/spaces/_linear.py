"""Elastic-net linear models: logistic regression (classification), ElasticNet (regression)."""

from __future__ import annotations

from typing import Any

from optuna.distributions import FloatDistribution
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import ElasticNet, LogisticRegression
from sklearn.preprocessing import StandardScaler

from metaopt.spaces._preprocessing import scaled_pipeline
from metaopt.spaces._space import SearchSpace

#: Solver iterations are bounded so that a badly conditioned configuration stays cheap.
MAX_ITER = 100


def logistic_regression(task: str) -> SearchSpace:
    """Elastic-net logistic regression (saga); for regression, an elastic-net linear model.

    The regression variant tunes ``alpha`` instead of ``C`` and standardises the target.
    """
    if task == "classification":

        def factory(params: dict[str, Any]) -> Any:
            model = LogisticRegression(
                **params, solver="saga", max_iter=MAX_ITER, tol=1e-3, random_state=0
            )
            return scaled_pipeline(model)

        return SearchSpace(
            "logistic_regression",
            task,
            {
                "C": FloatDistribution(1e-4, 1e4, log=True),
                "l1_ratio": FloatDistribution(0.0, 1.0),
            },
            {"C": 1.0, "l1_ratio": 0.0},
            factory,
            description="LogisticRegression(solver='saga'), elastic net; scaled, one-hot",
        )

    def regression_factory(params: dict[str, Any]) -> Any:
        model = ElasticNet(**params, max_iter=MAX_ITER * 10, tol=1e-3, random_state=0)
        return scaled_pipeline(TransformedTargetRegressor(model, transformer=StandardScaler()))

    return SearchSpace(
        "logistic_regression",
        task,
        {
            "alpha": FloatDistribution(1e-5, 10.0, log=True),
            "l1_ratio": FloatDistribution(0.0, 1.0),
        },
        {"alpha": 1e-2, "l1_ratio": 0.5},
        regression_factory,
        description="ElasticNet on the standardised target; scaled, one-hot",
    )
