"""scikit-learn's bundled datasets (no download needed)."""

from __future__ import annotations

from collections.abc import Callable

from metaopt.datasets._coerce import make_dataset
from metaopt.datasets._dataset import Dataset

# name -> (loader name in sklearn.datasets, task)
SKLEARN_DATASETS: dict[str, tuple[str, str]] = {
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "digits": ("load_digits", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}


def load_sklearn(name: str) -> Dataset:
    """Load one of scikit-learn's bundled datasets by name, e.g. ``"iris"``."""
    if name not in SKLEARN_DATASETS:
        raise ValueError(
            f"unknown scikit-learn dataset {name!r}; accepted: {sorted(SKLEARN_DATASETS)}."
        )
    import sklearn.datasets

    loader_name, task = SKLEARN_DATASETS[name]
    loader: Callable[..., object] = getattr(sklearn.datasets, loader_name)
    X, y = loader(return_X_y=True, as_frame=True)  # type: ignore[misc]
    return make_dataset(X, y, task=task, name=name, source=f"sklearn:{name}")
