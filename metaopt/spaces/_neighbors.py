"""k-nearest neighbours."""

from __future__ import annotations

from typing import Any

from optuna.distributions import CategoricalDistribution, IntDistribution
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from metaopt.spaces._preprocessing import scaled_pipeline
from metaopt.spaces._space import SearchSpace


def knn(task: str) -> SearchSpace:
    """k-nearest neighbours on standardised, one-hot encoded features (Minkowski ``p`` 1 or 2)."""
    model_class = KNeighborsClassifier if task == "classification" else KNeighborsRegressor

    def factory(params: dict[str, Any]) -> Any:
        return scaled_pipeline(model_class(**params))

    return SearchSpace(
        "knn",
        task,
        {
            "n_neighbors": IntDistribution(1, 64, log=True),
            "weights": CategoricalDistribution(["uniform", "distance"]),
            "p": CategoricalDistribution([1, 2]),
        },
        {"n_neighbors": 5, "weights": "uniform", "p": 2},
        factory,
        description=f"{model_class.__name__}; scaled, one-hot",
    )
