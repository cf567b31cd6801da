"""General metafeatures: sizes, feature types, missing values and class balance.

Counted on all rows, except the distinct values per column (``n_binary``, ``n_constant``),
which come from the sorted statistics rows (all rows up to ``max_rows_statistics``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metaopt.metafeatures._preprocess import (
    PreparedData,
    Undefined,
    numeric_counts,
    sorted_numeric,
)
from metaopt.metafeatures._summary import FeatureFunction, summarised


def _n_distinct_observed(data: PreparedData) -> np.ndarray:
    """Distinct non-missing values per column (numeric columns first, then categoricals)."""

    def compute(d: PreparedData) -> np.ndarray:
        numeric = np.zeros(d.n_numeric)
        if d.n_numeric:
            ordered = d.memo("sorted_numeric", sorted_numeric)
            counts = d.memo("numeric_counts", numeric_counts)
            # In each sorted column, a new value starts wherever it differs from its
            # predecessor; only the first ``count`` (observed) entries take part.
            inside = np.arange(1, ordered.shape[0])[:, None] < counts[None, :]
            changes = ((ordered[1:] != ordered[:-1]) & inside).sum(axis=0)
            numeric = np.where(counts > 0, 1 + changes, 0).astype(float)
        return np.concatenate([numeric, d.cardinality.astype(float)])

    return data.memo("n_distinct", compute)


def _class_probabilities(data: PreparedData) -> np.ndarray:
    if data.task != "classification":
        raise Undefined("class balance is undefined for regression")
    return np.bincount(data.y_codes, minlength=data.n_classes) / data.n_rows


def _require_classification(data: PreparedData) -> None:
    if data.task != "classification":
        raise Undefined("undefined for regression")


def _n_classes(data: PreparedData) -> float:
    _require_classification(data)
    return float(data.n_classes)


def _class_prob(how: str) -> FeatureFunction:
    def feature(data: PreparedData) -> float:
        probs = data.memo("class_probs", _class_probabilities)
        if how == "min":
            return float(probs.min())
        if how == "max":
            return float(probs.max())
        if how == "sd":
            if probs.size < 2:
                raise Undefined("a single class has no spread of class probabilities")
            return float(probs.std(ddof=1))
        if how == "imbalance":
            return float(probs.min() / probs.max())
        # Normalised entropy: 1 for perfectly balanced classes, lower when imbalanced.
        if probs.size < 2:
            raise Undefined("normalised class entropy needs at least two classes")
        return float(-(probs * np.log(probs)).sum() / np.log(probs.size))

    return feature


def _binary_count(data: PreparedData) -> float:
    return float(np.count_nonzero(_n_distinct_observed(data) == 2))


def _constant_count(data: PreparedData) -> float:
    return float(np.count_nonzero(_n_distinct_observed(data) <= 1))


def _declared_levels(data: PreparedData) -> np.ndarray:
    if data.n_categorical == 0:
        raise Undefined("no categorical columns")
    return data.declared_levels.astype(float)


FEATURES: dict[str, FeatureFunction] = {
    "general.n_instances": lambda d: float(d.n_rows),
    "general.n_features": lambda d: float(d.n_features),
    "general.log_n_instances": lambda d: float(np.log(d.n_rows)),
    "general.log_n_features": lambda d: float(np.log(d.n_features)),
    "general.dimensionality": lambda d: d.n_features / d.n_rows,
    "general.log_dimensionality": lambda d: float(np.log(d.n_features / d.n_rows)),
    "general.n_numeric": lambda d: float(d.n_numeric),
    "general.n_categorical": lambda d: float(d.n_categorical),
    "general.n_binary": _binary_count,
    "general.n_constant": _constant_count,
    "general.ratio_numeric": lambda d: d.n_numeric / d.n_features,
    "general.ratio_categorical": lambda d: d.n_categorical / d.n_features,
    "general.ratio_binary": lambda d: _binary_count(d) / d.n_features,
    "general.n_missing_values": lambda d: float(d.n_missing_cells),
    "general.ratio_missing_values": lambda d: d.n_missing_cells / (d.n_rows * d.n_features),
    "general.n_instances_with_missing": lambda d: float(d.n_rows_with_missing),
    "general.ratio_instances_with_missing": lambda d: d.n_rows_with_missing / d.n_rows,
    "general.n_features_with_missing": lambda d: float(d.n_cols_with_missing),
    "general.ratio_features_with_missing": lambda d: d.n_cols_with_missing / d.n_features,
    "general.n_infinite_values": lambda d: float(d.n_infinite),
    **summarised("general.cat_levels", _declared_levels, key="declared_levels"),
    "general.n_classes": _n_classes,
    "general.class_prob_min": _class_prob("min"),
    "general.class_prob_max": _class_prob("max"),
    "general.class_prob_sd": _class_prob("sd"),
    "general.class_imbalance_ratio": _class_prob("imbalance"),
    "general.class_balance_entropy": _class_prob("entropy"),
}


def at_rows(metafeatures: pd.Series, n_rows: float) -> pd.Series:
    """``metafeatures`` with the row counts of a dataset of ``n_rows`` rows.

    A knowledge base scores large datasets on a subsample; a dataset described at its full size
    but scored on fewer rows stands for a dataset of that many rows. Only the counts that
    follow from the number of rows change (``n_instances`` and the dimensionality); the
    distribution statistics of a random subsample are about those of the whole.

    Example:
        >>> import pandas as pd
        >>> described = pd.Series({"general.n_instances": 9000.0, "general.n_features": 9.0})
        >>> float(at_rows(described, 2000)["general.n_instances"])
        2000.0
    """
    if not (np.isfinite(n_rows) and n_rows > 0):
        raise ValueError(f"n_rows must be a positive number, got {n_rows!r}")
    counts = {"general.n_instances": float(n_rows), "general.log_n_instances": np.log(n_rows)}
    features = float(metafeatures.get("general.n_features", np.nan))
    if np.isfinite(features) and features > 0:
        counts["general.dimensionality"] = features / n_rows
        counts["general.log_dimensionality"] = np.log(features / n_rows)
    sized = metafeatures.copy()
    for name, value in counts.items():
        if name in sized.index:  # a description without a count does not gain one
            sized[name] = float(value)
    return sized
