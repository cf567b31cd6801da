"""Learning which metafeatures make two datasets alike for hyperparameter optimisation."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls


def performance_dissimilarity(values: np.ndarray) -> np.ndarray:
    """``1 - Pearson correlation`` of every two datasets' scores on common configurations.

    Args:
        values: ``(n_datasets, n_configs)`` each dataset's (modelled) score of the same
            configurations.

    Returns:
        ``(n_datasets, n_datasets)`` in ``[0, 2]``: 0 where two datasets order the
        configurations alike, 1 where unrelated. A dataset whose scores do not vary is
        unrelated to every other.
    """
    values = np.asarray(values, dtype=float)
    centred = values - values.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    flat = norms <= 1e-12
    unit = centred / np.where(flat, 1.0, norms)[:, None]
    correlation = np.clip(unit @ unit.T, -1.0, 1.0)
    correlation[flat, :] = 0.0
    correlation[:, flat] = 0.0
    np.fill_diagonal(correlation, 1.0)
    return 1.0 - correlation


def learn_metafeature_weights(scaled: np.ndarray, dissimilarity: np.ndarray) -> np.ndarray:
    """Non-negative weights of the metafeatures whose differences predict ``dissimilarity``.

    Fits ``dissimilarity[i, j] ~ c + sum_k w_k |scaled[i, k] - scaled[j, k]|`` by non-negative
    least squares over every pair of datasets, so a weighted L1 distance ranks the datasets as
    their performance does. A metafeature whose differences do not go with different
    optima gets weight 0.

    Args:
        scaled: ``(n_datasets, n_metafeatures)`` scaled metafeatures, no NaN.
        dissimilarity: ``(n_datasets, n_datasets)`` from :func:`performance_dissimilarity`.

    Returns:
        ``(n_metafeatures,)`` weights summing to 1; uniform when nothing is learned (fewer
        than three datasets, or no metafeature explains anything).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> scaled = rng.uniform(size=(30, 2))   # only the first metafeature matters
        >>> dissimilarity = np.abs(scaled[:, None, 0] - scaled[None, :, 0])
        >>> learn_metafeature_weights(scaled, dissimilarity).round(2).tolist()
        [1.0, 0.0]
    """
    scaled = np.asarray(scaled, dtype=float)
    n, k = scaled.shape
    uniform = np.full(k, 1.0 / max(k, 1))
    if n < 3 or k == 0:
        return uniform
    rows, cols = np.triu_indices(n, 1)
    design = np.abs(scaled[rows] - scaled[cols])
    design = np.hstack([design, np.ones((len(rows), 1))])  # the intercept c
    weights, _ = nnls(design, np.asarray(dissimilarity, dtype=float)[rows, cols], maxiter=50 * k)
    weights = weights[:k]
    total = float(weights.sum())
    return weights / total if total > 0 else uniform


def weighted_distances(known: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean absolute difference of ``target`` to each row of ``known``.

    Metafeatures the target lacks (NaN) are skipped and the weights renormalised over the rest.
    """
    present = np.isfinite(target)
    mass = float(weights[present].sum())
    if mass <= 0:
        return np.zeros(len(known))
    difference = np.abs(known[:, present] - target[None, present])
    return difference @ weights[present] / mass
