"""The registry of named search spaces."""

from __future__ import annotations

from collections.abc import Callable

from metaopt.spaces._ensembles import extra_trees, hist_gradient_boosting, random_forest
from metaopt.spaces._kernel import svm
from metaopt.spaces._linear import logistic_regression
from metaopt.spaces._neighbors import knn
from metaopt.spaces._neural import mlp
from metaopt.spaces._space import SearchSpace

TASKS = ("classification", "regression")

_FACTORIES: dict[str, Callable[[str], SearchSpace]] = {
    "hist_gradient_boosting": hist_gradient_boosting,
    "random_forest": random_forest,
    "extra_trees": extra_trees,
    "svm": svm,
    "logistic_regression": logistic_regression,
    "knn": knn,
    "mlp": mlp,
}


def names() -> list[str]:
    """Names of the registered search spaces."""
    return list(_FACTORIES)


def get(name: str | SearchSpace, task: str = "classification") -> SearchSpace:
    """The search space ``name`` for ``task`` (a :class:`SearchSpace` is returned as is).

    Example:
        >>> import metaopt.spaces
        >>> metaopt.spaces.get("svm").default
        {'C': 1.0, 'gamma': 1.0}
    """
    if isinstance(name, SearchSpace):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"a search space is given by its name (str) or a SearchSpace, got "
            f"{type(name).__name__}; registered: {names()}."
        )
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}.")
    if name not in _FACTORIES:
        raise ValueError(f"unknown search space {name!r}; registered: {names()}.")
    return _FACTORIES[name](task)


def register(name: str, factory: Callable[[str], SearchSpace]) -> None:
    """Register a space factory ``factory(task) -> SearchSpace`` under ``name``."""
    if not callable(factory):
        raise TypeError(f"factory must be callable; got {type(factory).__name__}.")
    _FACTORIES[name] = factory
