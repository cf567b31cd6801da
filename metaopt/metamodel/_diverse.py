"""Greedy selection of a top-n that is good and not made of near-copies."""

from __future__ import annotations

import numpy as np


def greedy_diverse_top_n(
    scores: np.ndarray,
    embedding: np.ndarray,
    n: int,
    *,
    penalty: float = 0.5,
    radius: float = 0.25,
) -> list[int]:
    """Indices of ``n`` candidates chosen greedily by score minus a closeness penalty.

    The first pick is the best-scored candidate. Each later pick maximises
    ``score - penalty * max_similarity`` to the picks so far, where the similarity of two
    candidates is ``max(0, 1 - d / radius)`` and ``d`` is their mean absolute difference over
    the embedding columns (NaN columns, e.g. inactive parameters, count as a difference of 1
    when only one side has them). With ``penalty=0`` this is the plain top-n.

    Args:
        scores: Predicted quality, higher is better, shape ``(m,)``.
        embedding: Candidates in about ``[0, 1]``, shape ``(m, d)``.
        n: How many to pick (fewer when there are fewer candidates).
        penalty: Weight of closeness, in units of score.
        radius: Mean per-column distance beyond which two candidates do not penalise each other.

    Example:
        >>> import numpy as np
        >>> scores = np.array([1.0, 0.9, 0.6])
        >>> points = np.array([[0.0], [0.01], [1.0]])
        >>> greedy_diverse_top_n(scores, points, 2)
        [0, 2]
    """
    scores = np.asarray(scores, dtype=float)
    embedding = np.asarray(embedding, dtype=float)
    if scores.ndim != 1 or embedding.ndim != 2 or len(embedding) != len(scores):
        raise ValueError(
            f"scores must have shape (m,) and embedding (m, d); got {scores.shape} and "
            f"{embedding.shape}"
        )
    if not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if radius <= 0:
        raise ValueError(f"radius must be positive, got {radius}")
    m = len(scores)
    order: list[int] = []
    if m == 0 or n == 0:
        return order
    safe = np.where(np.isfinite(scores), scores, -np.inf)
    closeness = np.zeros(m)
    available = np.ones(m, dtype=bool)
    for _ in range(min(n, m)):
        value = np.where(available, safe - penalty * closeness, -np.inf)
        pick = int(np.argmax(value))
        order.append(pick)
        available[pick] = False
        closeness = np.maximum(closeness, _similarity(embedding, embedding[pick], radius))
    return order


def _similarity(embedding: np.ndarray, point: np.ndarray, radius: float) -> np.ndarray:
    if embedding.shape[1] == 0:
        return np.ones(len(embedding))
    a_nan = np.isnan(embedding)
    b_nan = np.isnan(point)[None, :]
    diff = np.abs(np.nan_to_num(embedding) - np.nan_to_num(point)[None, :])
    diff = np.where(a_nan & b_nan, 0.0, np.where(a_nan | b_nan, 1.0, diff))
    distance = diff.mean(axis=1)
    return np.clip(1.0 - distance / radius, 0.0, 1.0)
