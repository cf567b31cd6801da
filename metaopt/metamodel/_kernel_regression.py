"""The known datasets' models: Nadaraya-Watson regression of each one's normalised scores.

Pure NumPy on configurations encoded in the unit cube (:mod:`metaopt.metamodel._encoding`), each
coordinate scaled by how much of the score variance it explains (:func:`relevance`), so that
parameters that matter little do not blur the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def kernel_regression(
    points: np.ndarray,
    values: np.ndarray,
    starts: np.ndarray,
    bandwidths: np.ndarray,
    queries: np.ndarray,
) -> np.ndarray:
    """Each source's Nadaraya-Watson estimate at ``queries``: shape ``(n_sources, n_queries)``.

    Gaussian kernels, one bandwidth per source. Stabilised per query and source by the nearest
    point, so far-away queries get the nearest points' values instead of 0/0. All sources are
    computed in one pass (one distance matrix), which keeps a trial's cost low.

    Args:
        points: Every source's points, one source after the other.
        values: Their values.
        starts: Index of each source's first point (ascending, first 0).
        bandwidths: Each source's bandwidth.
        queries: Where to estimate.
    """
    counts = np.diff(np.append(starts, len(points)))
    d2 = (
        (queries**2).sum(axis=1)[:, None]
        + (points**2).sum(axis=1)[None, :]
        - 2.0 * queries @ points.T
    )
    d2 = np.maximum(d2, 0.0)
    nearest = np.minimum.reduceat(d2, starts, axis=1)
    scale = np.repeat(2.0 * np.asarray(bandwidths, dtype=float) ** 2, counts)
    weights = np.exp(-(d2 - np.repeat(nearest, counts, axis=1)) / scale)
    numerator = np.add.reduceat(weights * values[None, :], starts, axis=1)
    return (numerator / np.add.reduceat(weights, starts, axis=1)).T


#: Bandwidths a source's model chooses from, by leave-one-out error.
BANDWIDTHS = (0.03, 0.06, 0.12, 0.25, 0.5)


def select_bandwidth(points: np.ndarray, values: np.ndarray, grid: Sequence[float]) -> float:
    """The bandwidth of ``grid`` whose kernel regression predicts left-out points best."""
    if len(values) < 5:
        return float(max(grid))
    d2 = (points**2).sum(axis=1)[:, None] + (points**2).sum(axis=1)[None, :]
    d2 = np.maximum(d2 - 2.0 * points @ points.T, 0.0)
    np.fill_diagonal(d2, np.inf)
    shift = d2.min(axis=1, keepdims=True)
    errors = []
    for h in grid:
        weights = np.exp(-(d2 - shift) / (2.0 * h * h))
        predicted = (weights @ values) / weights.sum(axis=1)
        errors.append(float(np.mean((predicted - values) ** 2)))
    return float(grid[int(np.argmin(errors))])


def relevance(points: Sequence[np.ndarray], values: Sequence[np.ndarray]) -> np.ndarray:
    """Per coordinate, the share of score variance it explains, relative to the most relevant.

    The correlation ratio of the scores over five equal-width bins of the coordinate, averaged
    over the sources; the square root, so it scales distances. In ``[0.05, 1]``.
    """
    dims = next((p.shape[1] for p in points if len(p)), 0)
    totals, count = np.zeros(dims), 0
    for x, y in zip(points, values, strict=True):
        if len(y) < 10 or np.var(y) <= 0:
            continue
        low, span = x.min(axis=0), np.ptp(x, axis=0)
        bins = np.clip(((x - low) / np.where(span > 0, span, 1.0) * 5).astype(int), 0, 4)
        centred = y - y.mean()
        for j in range(dims):
            sums = np.bincount(bins[:, j], weights=centred, minlength=5)
            sizes = np.bincount(bins[:, j], minlength=5)
            filled = sizes > 0
            between = float((sums[filled] ** 2 / sizes[filled]).sum())
            totals[j] += between / float((centred**2).sum())
        count += 1
    if count == 0 or totals.max() <= 0:
        return np.ones(dims)
    return np.sqrt(np.clip(totals / totals.max(), 0.05**2, 1.0))
