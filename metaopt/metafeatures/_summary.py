"""Summaries that reduce a per-column (or per-pair) vector to fixed-name scalars."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from metaopt.metafeatures._preprocess import PreparedData, Undefined

#: Summary suffixes, in output order, applied to every vector-valued measure.
SUMMARIES: tuple[str, ...] = ("mean", "sd", "min", "q25", "median", "q75", "max")

FeatureFunction = Callable[[PreparedData], float]


def summarise(values: np.ndarray, how: str) -> float:
    """One summary of the finite entries of ``values``; :class:`Undefined` when there are none.

    ``sd`` uses ``ddof=1`` (as pymfe) and needs two values; quantiles interpolate linearly.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise Undefined("no column (or pair) for which the measure is defined")
    with np.errstate(over="ignore", invalid="ignore"):
        value = _summary(finite, how)
    if not np.isfinite(value):
        # Huge entries (near the float64 limit) overflow the sums and squares of the mean, the
        # sd and the quantile interpolation although the summary itself is representable:
        # compute it in units of the largest magnitude. Finite results are left untouched.
        scale = float(np.abs(finite).max())
        with np.errstate(over="ignore", invalid="ignore"):
            value = _summary(finite / scale, how) * scale
    return value


def _summary(finite: np.ndarray, how: str) -> float:
    """The summary ``how`` of a non-empty vector of finite values (may overflow)."""
    if how == "mean":
        return float(finite.mean())
    if how == "sd":
        if finite.size < 2:
            raise Undefined("the standard deviation needs the measure on at least two columns")
        return float(finite.std(ddof=1))
    if how == "min":
        return float(finite.min())
    if how == "max":
        return float(finite.max())
    quantile = {"q25": 0.25, "median": 0.5, "q75": 0.75}[how]
    return float(np.quantile(finite, quantile))


def summarised(
    prefix: str, vector: Callable[[PreparedData], np.ndarray], key: str | None = None
) -> dict[str, FeatureFunction]:
    """Registry entries ``<prefix>.<summary>`` for a memoised vector-valued measure."""
    memo_key = key or prefix

    def make(how: str) -> FeatureFunction:
        def feature(data: PreparedData) -> float:
            return summarise(data.memo(memo_key, vector), how)

        feature.__name__ = f"{prefix}.{how}"
        return feature

    return {f"{prefix}.{how}": make(how) for how in SUMMARIES}
