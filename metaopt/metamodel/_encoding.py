"""Turning parameter dicts into numeric vectors a model or a distance can use."""

from __future__ import annotations

import json
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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _category(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class ConfigEncoder:
    """Encode configurations of one space as vectors in about ``[0, 1]``.

    The encoding is learned from the configurations themselves, so it works for any space,
    including ones only known from a user's Optuna studies. A parameter whose values are all
    numbers is numeric: log-scaled when it is positive and spans two decades or more, then
    min-max scaled. Anything else is categorical and one-hot encoded with weight 0.5, so two
    different categories are at L1 distance 1, like the two ends of a numeric range. Missing or
    inactive parameters give NaN in every column of that parameter.

    Example:
        >>> enc = ConfigEncoder().fit([{"lr": 0.001, "kind": "a"}, {"lr": 0.1, "kind": "b"}])
        >>> enc.transform([{"lr": 0.01, "kind": "b"}]).round(2).tolist()
        [[0.5, 0.0, 0.5]]
    """

    def fit(self, configs: Sequence[Mapping[str, Any]]) -> ConfigEncoder:
        names: dict[str, None] = {}
        for config in configs:
            names.update(dict.fromkeys(config))
        self.params_: list[str] = list(names)
        self.numeric_: dict[str, tuple[bool, float, float]] = {}
        self.categories_: dict[str, list[str]] = {}
        for name in self.params_:
            values = [c[name] for c in configs if c.get(name) is not None]
            if values and all(_is_number(v) and math.isfinite(float(v)) for v in values):
                low, high = float(min(values)), float(max(values))
                log = low > 0 and high >= 100 * low
                if log:
                    low, high = math.log(low), math.log(high)
                self.numeric_[name] = (log, low, high)
            else:
                self.categories_[name] = sorted({_category(v) for v in values})
        self.columns_: list[str] = []
        for name in self.params_:
            if name in self.numeric_:
                self.columns_.append(name)
            else:
                self.columns_.extend(f"{name}={c}" for c in self.categories_[name])
        return self

    def transform(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Array of shape ``(len(configs), len(columns_))``."""
        out = np.full((len(configs), len(self.columns_)), np.nan)
        for row, config in enumerate(configs):
            col = 0
            for name in self.params_:
                value = config.get(name)
                if name in self.numeric_:
                    out[row, col] = self._numeric(name, value)
                    col += 1
                    continue
                categories = self.categories_[name]
                if value is not None or name in config:
                    key = _category(value)
                    out[row, col : col + len(categories)] = 0.0
                    if key in categories:
                        out[row, col + categories.index(key)] = 0.5
                col += len(categories)
        return out

    def _numeric(self, name: str, value: Any) -> float:
        if not _is_number(value):
            return math.nan
        log, low, high = self.numeric_[name]
        x = float(value)
        if log:
            x = math.log(x) if x > 0 else low
        return 0.0 if high == low else (x - low) / (high - low)


def unit_encode(
    distributions: Mapping[str, BaseDistribution],
    configs: Sequence[Mapping[str, Any]],
    *,
    missing: float = 0.5,
) -> np.ndarray:
    """Configurations as points of the unit cube of ``distributions``.

    Numbers scale to ``[0, 1]`` over the distribution's range (log-scaled where it is log),
    clipped; a categorical parameter is one-hot with weight ``1/sqrt(2)``, so two choices are at
    Euclidean distance 1, the length of a numeric range. A parameter a configuration lacks sits
    at ``missing`` (numbers; the middle by default, NaN to mark it inactive) or at no choice
    (categories).

    Example:
        >>> from optuna.distributions import FloatDistribution
        >>> unit_encode({"lr": FloatDistribution(1e-3, 1e-1, log=True)}, [{"lr": 1e-2}])
        array([[0.5]])
    """
    columns: list[np.ndarray] = []
    for name, dist in distributions.items():
        values = [c.get(name) for c in configs]
        if isinstance(dist, CategoricalDistribution):
            columns.append(_onehot(dist.choices, values) / math.sqrt(2.0))
            continue
        if not isinstance(dist, FloatDistribution | IntDistribution):
            continue
        low, high = float(dist.low), float(dist.high)
        if set(map(type, values)) <= _PLAIN_NUMBERS:  # the usual case: one C-level conversion
            x = np.array(values, dtype=float)  # None -> NaN, as _as_float
        else:
            x = np.array([_as_float(v) for v in values], dtype=float)
        if dist.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                x, low, high = np.log(np.where(x > 0, x, np.nan)), math.log(low), math.log(high)
        scaled = (x - low) / (high - low) if high > low else np.zeros_like(x)
        columns.append(np.clip(np.nan_to_num(scaled, nan=missing), 0.0, 1.0)[:, None])
    if not columns:
        return np.zeros((len(configs), 0))
    return np.concatenate(columns, axis=1)


#: Types whose values ``np.array(..., dtype=float)`` converts exactly as :func:`_as_float` does.
_PLAIN_NUMBERS = frozenset({float, int, type(None)})


def _onehot(choices: Sequence[Any], values: Sequence[Any]) -> np.ndarray:
    """1.0 where a value's repr is a choice's, else 0.0: ``(len(values), len(choices))``."""
    labels = [repr(v) for v in choices]
    given = [repr(v) for v in values]
    if len(set(labels)) < len(labels):  # choices sharing a repr: each of them matches
        return np.array([[g == lab for lab in labels] for g in given], dtype=float).reshape(
            len(values), len(labels)
        )
    position = {label: j for j, label in enumerate(labels)}
    index = np.array([position.get(g, -1) for g in given], dtype=np.int64)
    return (index[:, None] == np.arange(len(labels))[None, :]).astype(float)


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return math.nan
    return float(value)
