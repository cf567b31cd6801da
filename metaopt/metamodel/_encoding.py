"""Turning parameter dicts into numeric vectors a model or a distance can use."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


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
