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

#: The spaces metaopt ships (and its knowledge base describes); :func:`register` adds others.
BUILT_IN = tuple(_FACTORIES)


def names() -> list[str]:
    """Names of the registered search spaces."""
    return list(_FACTORIES)


def registered_factory(name: str) -> Callable[[str], SearchSpace]:
    """The factory registered as ``name`` (for shipping a user's space to worker processes).

    Raises:
        ValueError: for an unknown name, listing the registered ones.
    """
    if name not in _FACTORIES:
        raise ValueError(f"unknown search space {name!r}; registered: {names()}.")
    return _FACTORIES[name]


def get(name: str | SearchSpace, task: str = "classification") -> SearchSpace:
    """The search space ``name`` for ``task`` (a :class:`SearchSpace` is returned as is).

    Raises:
        TypeError: ``name`` is neither a str nor a SearchSpace, or a registered factory
            returned something else than a SearchSpace.
        ValueError: an unknown ``name`` or ``task`` (the message lists the accepted ones), or
            a registered factory returned a space of another name or task.

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
    space = _FACTORIES[name](task)
    if not isinstance(space, SearchSpace):
        raise TypeError(
            f"the factory registered as {name!r} must return a SearchSpace; got "
            f"{type(space).__name__}."
        )
    if space.name != name or space.task != task:
        raise ValueError(
            f"the factory registered as {name!r}, asked for {task}, returned the space "
            f"{space.name!r} for {space.task}; it must return SearchSpace({name!r}, task, ...) "
            "for the task it is given (raise ValueError for a task it does not support)."
        )
    return space


def register(name: str, factory: Callable[[str], SearchSpace]) -> None:
    """Register a space factory ``factory(task) -> SearchSpace`` under ``name``.

    ``factory(task)`` must return a :class:`SearchSpace` named ``name`` for that task (or raise
    ``ValueError`` for a task it does not support). Registering a name again replaces an
    earlier registration of yours; the built-in spaces cannot be replaced, since the shipped
    knowledge base describes them.

    Raises:
        TypeError: ``name`` is not a str or ``factory`` is not callable.
        ValueError: ``name`` is empty or names a built-in space.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {type(name).__name__}.")
    if not name:
        raise ValueError("name must be a non-empty str; got ''.")
    if name in BUILT_IN:
        raise ValueError(
            f"{name!r} is a built-in space and cannot be replaced; register yours under "
            f"another name (built-in: {list(BUILT_IN)})."
        )
    if not callable(factory):
        raise TypeError(f"factory must be callable; got {type(factory).__name__}.")
    _FACTORIES[name] = factory
