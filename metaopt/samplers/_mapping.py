"""Fitting a knowledge-base value to the distribution a user's objective asks for."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

#: Returned when a value cannot be expressed in the distribution.
UNMAPPABLE = object()


def _number(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def fit_to_distribution(value: Any, distribution: BaseDistribution) -> Any:
    """``value`` expressed in ``distribution``, or :data:`UNMAPPABLE`.

    Numbers are clipped to the range and rounded to the step (and to ``int`` for an
    :class:`~optuna.distributions.IntDistribution`); a categorical value must equal one of the
    choices, except that a number maps to the nearest of all-numeric choices. ``None`` and
    non-finite values are unmappable.

    Example:
        >>> from optuna.distributions import IntDistribution
        >>> fit_to_distribution(37.6, IntDistribution(1, 32))
        32
    """
    if isinstance(distribution, CategoricalDistribution):
        return _fit_categorical(value, distribution)
    x = _number(value)
    if x is None:
        return UNMAPPABLE
    if isinstance(distribution, FloatDistribution):
        low, high, step = distribution.low, distribution.high, distribution.step
        x = min(max(x, low), high)
        if step is not None:
            k = round((x - low) / step)
            k = min(k, math.floor((high - low) / step + 1e-9))
            x = low + k * step
        return float(x)
    if isinstance(distribution, IntDistribution):
        low, high, step = distribution.low, distribution.high, distribution.step
        k = round((min(max(x, low), high) - low) / step)
        k = min(k, (high - low) // step)
        return int(low + k * step)
    return UNMAPPABLE


def _fit_categorical(value: Any, distribution: CategoricalDistribution) -> Any:
    for choice in distribution.choices:
        if type(choice) is type(value) and choice == value:
            return choice
    for choice in distribution.choices:
        # 1 and 1.0 (not True) are the same choice.
        if _number(choice) is not None and _number(value) is not None and choice == value:
            return choice
    x = _number(value)
    numeric = [_number(c) for c in distribution.choices]
    if x is not None and numeric and all(v is not None for v in numeric):
        return distribution.choices[int(np.argmin([abs(v - x) for v in numeric]))]
    return UNMAPPABLE


def fit_config(
    config: dict[str, Any], distributions: dict[str, BaseDistribution]
) -> dict[str, Any]:
    """The parameters of ``config`` expressible in ``distributions``, fitted to them.

    Parameters the distributions lack, and values that cannot be expressed, are dropped.

    Example:
        >>> from optuna.distributions import IntDistribution
        >>> fit_config({"k": 40, "other": 1}, {"k": IntDistribution(1, 32)})
        {'k': 32}
    """
    fitted = {}
    for name, value in config.items():
        if name in distributions:
            mapped = fit_to_distribution(value, distributions[name])
            if mapped is not UNMAPPABLE:
                fitted[name] = mapped
    return fitted


def fit_configs(
    configs: Sequence[Mapping[str, Any]], distributions: Mapping[str, BaseDistribution]
) -> list[dict[str, Any]]:
    """``[fit_config(c, distributions) for c in configs]``, one pass per parameter.

    Numbers are clipped and rounded for all configurations at once with numpy (the same
    operations in the same order as :func:`fit_to_distribution`, so the same floats); each
    result keeps its configuration's order of parameters.

    Example:
        >>> from optuna.distributions import IntDistribution
        >>> fit_configs([{"k": 40}, {"k": 3.4}, {"other": 1}], {"k": IntDistribution(1, 32)})
        [{'k': 32}, {'k': 3}, {}]
    """
    columns = {
        name: _fit_values([c.get(name, UNMAPPABLE) for c in configs], distribution)
        for name, distribution in distributions.items()
    }
    return [
        {
            name: value
            for name in config
            if name in columns and (value := columns[name][i]) is not UNMAPPABLE
        }
        for i, config in enumerate(configs)
    ]


def _fit_values(values: list[Any], distribution: BaseDistribution) -> list[Any]:
    """``fit_to_distribution`` of each value (:data:`UNMAPPABLE` where it is)."""
    is_int = isinstance(distribution, IntDistribution)
    if not (is_int or isinstance(distribution, FloatDistribution)) or (
        is_int and max(abs(distribution.low), abs(distribution.high)) >= 2**53
    ):  # categories match value by value; integers beyond float precision need Python ints
        return [fit_to_distribution(v, distribution) for v in values]
    if {type(v) for v in values} <= {float, int}:  # as JSON gives them: numpy converts them all
        x = np.array(values, dtype=float)
    else:
        x = np.array([math.nan if (n := _number(v)) is None else n for v in values], dtype=float)
    mappable = np.isfinite(x)  # where _number gives a number
    low, high, step = distribution.low, distribution.high, distribution.step
    # min(max(x, low), high) exactly as Python does it (np.clip may differ on signed zeros).
    x = np.where(low > x, low, x)
    x = np.where(high < x, high, x)
    # np.rint rounds half to even, as round() does; k is an integer, exact in a float.
    if is_int:
        k = np.minimum(np.rint((x - low) / step), (high - low) // step)
        fitted = (low + np.where(mappable, k, 0).astype(np.int64) * step).tolist()
    elif step is not None:
        k = np.minimum(np.rint((x - low) / step), math.floor((high - low) / step + 1e-9))
        fitted = (low + k * step).tolist()
    else:
        fitted = x.tolist()
    return [f if ok else UNMAPPABLE for f, ok in zip(fitted, mappable.tolist(), strict=True)]
