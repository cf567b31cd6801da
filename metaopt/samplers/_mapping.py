"""Fitting a knowledge-base value to the distribution a user's objective asks for."""

from __future__ import annotations

import math
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
