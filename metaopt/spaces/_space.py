"""The :class:`SearchSpace` type: distributions, defaults, sampling and estimator building."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from scipy.stats import qmc
from sklearn.base import BaseEstimator

Condition = Callable[[Mapping[str, Any]], bool]
EstimatorFactory = Callable[[dict[str, Any]], BaseEstimator]


class SearchSpace:
    """A named hyperparameter search space for one model family and task.

    A space couples Optuna distributions with the scikit-learn pipeline they configure, so an
    Optuna objective, a space-filling sample and the knowledge base all use the same parameter
    names and the same preprocessing.

    Args:
        name: Registry name, e.g. ``"random_forest"``.
        task: ``"classification"`` or ``"regression"``.
        distributions: Every parameter that can ever be active, in an order where a
            conditional parameter comes after the parameters its condition reads.
        default: A default value for every parameter; :attr:`default` keeps those active under
            it, the others fill in when a configuration activates them.
        factory: Builds the full estimator (preprocessing included) from a complete, valid
            parameter dict.
        conditions: For conditional parameters, a predicate on the other parameters that says
            whether the parameter is used.
        description: One line shown in docs and reprs.
        fidelity: Settings that are not hyperparameters but change the cost and the score, with
            their values for users (e.g. ``{"n_trees": 100}`` for forests); ``factory`` receives
            them as keyword arguments. :meth:`with_fidelity` makes a cheaper copy, as the
            knowledge builder does for its base fidelity.

    Example:
        >>> import metaopt.spaces
        >>> space = metaopt.spaces.get("knn")
        >>> sorted(space.distributions)
        ['n_neighbors', 'p', 'weights']
        >>> configs = space.sample(4, seed=0)
        >>> len(configs), space.build(configs[0]).__class__.__name__
        (4, 'Pipeline')
    """

    def __init__(
        self,
        name: str,
        task: str,
        distributions: Mapping[str, BaseDistribution],
        default: Mapping[str, Any],
        factory: EstimatorFactory,
        *,
        conditions: Mapping[str, Condition] | None = None,
        description: str = "",
        fidelity: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.fidelity: dict[str, Any] = dict(fidelity or {})
        self.task = task
        self.distributions: dict[str, BaseDistribution] = dict(distributions)
        self.conditions: dict[str, Condition] = dict(conditions or {})
        self.description = description
        self._factory = factory
        unknown = set(self.conditions) - set(self.distributions)
        if unknown:
            raise ValueError(f"conditions for unknown parameters {sorted(unknown)} in {name!r}")
        missing = set(self.distributions) - set(default)
        if missing:
            raise ValueError(f"no default for parameters {sorted(missing)} in {name!r}")
        self._fallback = {
            k: _check_value(name, k, d, default[k]) for k, d in distributions.items()
        }
        self.default: dict[str, Any] = self.complete({})

    def __repr__(self) -> str:
        return (
            f"SearchSpace(name={self.name!r}, task={self.task!r}, "
            f"params={list(self.distributions)})"
        )

    @property
    def param_names(self) -> list[str]:
        """All parameter names, in definition order."""
        return list(self.distributions)

    def is_active(self, param: str, params: Mapping[str, Any]) -> bool:
        """Whether ``param`` is used under the configuration ``params``."""
        if param not in self.distributions:
            raise ValueError(
                f"unknown parameter {param!r} for space {self.name!r}; known: {self.param_names}"
            )
        condition = self.conditions.get(param)
        return True if condition is None else bool(condition(params))

    def complete(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``params``, fill missing ones with defaults and drop inactive ones.

        Raises:
            ValueError: for an unknown parameter name or a value outside its distribution.
        """
        unknown = [k for k in params if k not in self.distributions]
        if unknown:
            raise ValueError(
                f"unknown parameters {unknown} for space {self.name!r}; "
                f"accepted: {self.param_names}"
            )
        full: dict[str, Any] = {}
        for name, dist in self.distributions.items():
            if not self.is_active(name, full):
                continue
            if name in params:
                value = _check_value(self.name, name, dist, params[name])
            else:
                value = self._fallback[name]
            full[name] = value
        return full

    def build(self, params: Mapping[str, Any] | None = None) -> BaseEstimator:
        """The scikit-learn estimator (a pipeline with its preprocessing) for ``params``.

        Missing parameters take their defaults; values of inactive parameters are ignored.

        Raises:
            ValueError: for an unknown parameter name or an out-of-range value.
        """
        return self._factory(self.complete(dict(params or {})), **self.fidelity)

    def with_fidelity(self, **fidelity: Any) -> SearchSpace:
        """A copy of this space whose estimators use other fidelity settings.

        Example:
            >>> import metaopt.spaces
            >>> cheap = metaopt.spaces.get("random_forest").with_fidelity(n_trees=16)
            >>> cheap.build().steps[-1][1].n_estimators
            16

        Raises:
            ValueError: for a setting the space does not have.
        """
        unknown = sorted(set(fidelity) - set(self.fidelity))
        if unknown:
            raise ValueError(
                f"space {self.name!r} has no fidelity settings {unknown}; it has "
                f"{sorted(self.fidelity) or 'none'}"
            )
        space = copy.copy(self)
        space.fidelity = {**self.fidelity, **fidelity}
        return space

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Ask ``trial`` for a configuration, using exactly the names of :attr:`distributions`.

        Conditional parameters are suggested only when active.
        """
        params: dict[str, Any] = {}
        for name, dist in self.distributions.items():
            if not self.is_active(name, params):
                continue
            params[name] = _suggest_one(trial, name, dist)
        return params

    def sample(self, n: int, seed: int = 0) -> list[dict[str, Any]]:
        """``n`` space-filling configurations from a scrambled, seeded Sobol sequence.

        Each configuration holds exactly its active parameters and is valid for :meth:`build`.
        """
        if not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        return sobol_configs(self.distributions, n, seed, active=self.is_active)


def sobol_configs(
    distributions: Mapping[str, BaseDistribution],
    n: int,
    seed: int,
    active: Callable[[str, dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """``n`` configurations of ``distributions`` from a scrambled, seeded Sobol sequence.

    Args:
        distributions: Parameter name -> distribution, in the order the parameters are set.
        n: How many configurations.
        seed: Seed of the scrambling.
        active: ``active(name, params_so_far)`` says whether a parameter is set (conditional
            spaces); ``None`` sets every parameter.

    Example:
        >>> from optuna.distributions import FloatDistribution
        >>> configs = sobol_configs({"x": FloatDistribution(0.0, 1.0)}, 4, seed=0)
        >>> len(configs), all(0.0 <= c["x"] <= 1.0 for c in configs)
        (4, True)
    """
    if n <= 0 or not distributions:
        return []
    sobol = qmc.Sobol(d=len(distributions), scramble=True, seed=seed)
    points = sobol.random_base2(m=max(0, math.ceil(math.log2(n))))[:n]
    configs = []
    for row in points:
        params: dict[str, Any] = {}
        for u, (name, dist) in zip(row, distributions.items(), strict=True):
            if active is None or active(name, params):
                params[name] = _from_unit(float(u), dist)
        configs.append(params)
    return configs


def _suggest_one(trial: optuna.Trial, name: str, dist: BaseDistribution) -> Any:
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, list(dist.choices))
    raise TypeError(f"unsupported distribution {type(dist).__name__} for {name!r}")


def _from_unit(u: float, dist: BaseDistribution) -> Any:
    """Map ``u`` in [0, 1) to a value of ``dist`` (uniform in log space for log scales)."""
    u = min(max(u, 0.0), np.nextafter(1.0, 0.0))
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(u * len(dist.choices))]
    if isinstance(dist, FloatDistribution):
        if dist.log:
            value = math.exp(math.log(dist.low) + u * (math.log(dist.high) - math.log(dist.low)))
        else:
            value = dist.low + u * (dist.high - dist.low)
        if dist.step is not None:
            value = dist.low + round((value - dist.low) / dist.step) * dist.step
        return float(min(max(value, dist.low), dist.high))
    if isinstance(dist, IntDistribution):
        if dist.log:
            lo, hi = math.log(dist.low), math.log(dist.high + 1)
            value = int(math.floor(math.exp(lo + u * (hi - lo))))
        else:
            n_steps = (dist.high - dist.low) // dist.step + 1
            value = dist.low + int(u * n_steps) * dist.step
        return int(min(max(value, dist.low), dist.high))
    raise TypeError(f"unsupported distribution {type(dist).__name__}")


def _to_unit(value: Any, dist: BaseDistribution) -> float:
    """The position of ``value`` in [0, 1) that :func:`_from_unit` maps back to it.

    Integers and categories sit in the middle of their interval, so a small move of ``u``
    either way keeps the value.
    """
    if isinstance(dist, CategoricalDistribution):
        index = next((i for i, c in enumerate(dist.choices) if c == value), 0)
        return (index + 0.5) / len(dist.choices)
    x = float(value)
    if isinstance(dist, IntDistribution):
        if dist.log:
            lo, hi = math.log(dist.low), math.log(dist.high + 1)
            u = (math.log(x + 0.5) - lo) / (hi - lo)
        else:
            n_steps = (dist.high - dist.low) // dist.step + 1
            u = ((x - dist.low) / dist.step + 0.5) / n_steps
    elif isinstance(dist, FloatDistribution):
        low, high = float(dist.low), float(dist.high)
        if dist.log:
            x, low, high = math.log(max(x, low)), math.log(low), math.log(high)
        u = (x - low) / (high - low) if high > low else 0.5
    else:
        raise TypeError(f"unsupported distribution {type(dist).__name__}")
    return min(max(u, 0.0), float(np.nextafter(1.0, 0.0)))


def _check_value(space: str, name: str, dist: BaseDistribution, value: Any) -> Any:
    """Return ``value`` in the distribution's exact type, or raise ValueError."""
    if isinstance(dist, CategoricalDistribution):
        for choice in dist.choices:
            if type(choice) is type(value) and choice == value:
                return choice
        for choice in dist.choices:  # e.g. 2.0 read back from JSON for choice 2
            if not isinstance(choice, str) and not isinstance(value, str) and choice == value:
                return choice
        raise ValueError(f"{space}.{name}={value!r} is not one of {list(dist.choices)}")
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{space}.{name} must be a number, got {value!r}")
    if not dist.low <= value <= dist.high:
        raise ValueError(f"{space}.{name}={value!r} is outside [{dist.low}, {dist.high}]")
    if isinstance(dist, IntDistribution):
        if float(value) != int(value):
            raise ValueError(f"{space}.{name} must be an integer, got {value!r}")
        return int(value)
    return float(value)
