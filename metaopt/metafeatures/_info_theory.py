"""Information-theoretic metafeatures (entropies in bits).

Numeric columns are discretised into equal-frequency bins, ``int(n ** (1/3))`` of them (pymfe's
rule), from the statistics rows; categorical columns are used as they are. A regression target
is discretised the same way, so the class-dependent features are defined for regression too.
Missing values are skipped per column: each attribute's entropies and its mutual information
with the target use the rows where that attribute is observed.
"""

from __future__ import annotations

import numpy as np

from metaopt.metafeatures._preprocess import (
    PreparedData,
    Undefined,
    numeric_counts,
    sorted_numeric,
)
from metaopt.metafeatures._summary import FeatureFunction, summarised


def _n_bins(n_rows: int) -> int:
    return max(int(n_rows ** (1.0 / 3.0)), 1)


def equal_frequency_edges(ordered: np.ndarray, counts: np.ndarray, n_bins: int) -> np.ndarray:
    """``(n_bins, p)`` upper bin edges: the ``1/n_bins, ..., 1`` quantiles of each column.

    ``ordered`` holds the columns sorted ascending with their ``counts`` observed values first.
    Edges closer than ``1e-8`` to the previous one are ``NaN`` (merged), so heavily tied
    columns get fewer bins, as in pymfe.
    """
    fractions = np.linspace(0.0, 1.0, n_bins + 1)[1:, None]
    positions = fractions * np.maximum(counts - 1, 0)[None, :]
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(counts - 1, 0)[None, :])
    lower = np.take_along_axis(ordered, low, axis=0)
    upper = np.take_along_axis(ordered, high, axis=0)
    edges = lower + (upper - lower) * (positions - low)
    keep = np.ones_like(edges, dtype=bool)
    keep[1:] = np.diff(edges, axis=0) > 1e-8
    return np.where(keep, edges, np.nan)


def equal_frequency_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value (``-1`` for missing): the first bin whose edge is >= it."""
    codes = np.full(values.shape, -1, dtype=np.int64)
    edges = edges[~np.isnan(edges)]
    observed = ~np.isnan(values)
    if edges.size:
        codes[observed] = np.searchsorted(edges, values[observed], side="left")
    return codes


def discretised(data: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, cardinality)`` of all attributes, numeric ones binned; statistics rows."""
    rows = data.subsample(data.max_rows_statistics, "statistics")
    n_bins = _n_bins(rows.size)
    codes = np.empty((rows.size, data.n_features), dtype=np.int64)
    cards = np.ones(data.n_features, dtype=np.int64)
    if data.n_numeric:
        ordered = data.memo("sorted_numeric", sorted_numeric)
        counts = data.memo("numeric_counts", numeric_counts)
        edges = equal_frequency_edges(ordered, counts, n_bins)
        numeric = data.take(data.numeric, rows)
        for j in range(data.n_numeric):
            codes[:, j] = equal_frequency_codes(numeric[:, j], edges[:, j])
        cards[: data.n_numeric] = np.maximum(codes[:, : data.n_numeric].max(axis=0) + 1, 1)
    if data.n_categorical:
        codes[:, data.n_numeric :] = data.take(data.codes, rows)
        cards[data.n_numeric :] = np.maximum(data.cardinality, 1)
    return codes, cards


def target_codes(data: PreparedData) -> tuple[np.ndarray, int]:
    """Class index per statistics row; a regression target is binned like numeric columns."""
    rows = data.subsample(data.max_rows_statistics, "statistics")
    if data.task == "classification":
        codes = data.take(data.y_codes, rows)
        return codes, data.n_classes
    y = data.take(data.y_float, rows)
    edges = equal_frequency_edges(np.sort(y)[:, None], np.array([y.size]), _n_bins(rows.size))
    codes = equal_frequency_codes(y, edges[:, 0])
    return codes, int(codes.max()) + 1


def _entropy_by_group(counts: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Entropy (bits) of each group's count distribution; counts are flat, grouped by ``group``."""
    totals = np.bincount(group, weights=counts, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / totals[group]
        terms = np.where(counts > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    entropy = np.bincount(group, weights=terms, minlength=n_groups)
    entropy[totals == 0] = np.nan
    return entropy


def entropies(data: PreparedData) -> dict[str, np.ndarray]:
    """Per attribute: entropy H(x), target entropy on its observed rows H(y), joint H(x,y), MI."""
    codes, cards = data.memo("discretised", discretised)
    y, k = data.memo("target_codes", target_codes)
    n_attr = codes.shape[1]
    offsets = np.concatenate([[0], np.cumsum(cards)[:-1]])
    # One count per (attribute, value, class); attribute-value and per-attribute class counts
    # (on the rows where the attribute is observed) are sums of it.
    joint = (codes + offsets) * k + y[:, None]
    observed = codes >= 0
    joint = joint.ravel() if observed.all() else joint[observed]
    joint_counts = np.bincount(joint, minlength=int(cards.sum()) * k).reshape(-1, k)
    attr_counts = joint_counts.sum(axis=1)
    class_counts = np.add.reduceat(joint_counts, offsets, axis=0)  # (n_attr, k)
    attr_group = np.repeat(np.arange(n_attr), cards)
    attr_entropy = _entropy_by_group(attr_counts.astype(float), attr_group, n_attr)
    joint_entropy = _entropy_by_group(
        joint_counts.ravel().astype(float), np.repeat(attr_group, k), n_attr
    )
    class_entropy = _entropy_by_group(
        class_counts.ravel().astype(float), np.repeat(np.arange(n_attr), k), n_attr
    )
    mutual_information = np.maximum(attr_entropy + class_entropy - joint_entropy, 0.0)
    return {
        "attr": attr_entropy,
        "joint": joint_entropy,
        "class_on_observed": class_entropy,
        "mi": mutual_information,
    }


def _class_entropy(data: PreparedData) -> float:
    y, k = data.memo("target_codes", target_codes)
    p = np.bincount(y, minlength=k) / y.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def equivalent_n_attributes(class_entropy: float, mean_mutual_information: float) -> float:
    """Attributes needed to explain the class if each carried the mean information.

    ``H(y) / mean_j MI(x_j, y)``: pymfe ``eq_num_attr``, OpenML ``EquivalentNumberOfAtts``.
    """
    if not abs(mean_mutual_information) > 1e-12:
        raise Undefined("no attribute shares information with the target (mean MI is 0)")
    return float(class_entropy / mean_mutual_information)


def noise_signal_ratio(mean_attr_entropy: float, mean_mutual_information: float) -> float:
    """Non-class information per unit of class information in the attributes.

    ``(mean_j H(x_j) - mean_j MI(x_j, y)) / mean_j MI(x_j, y)``: pymfe ``ns_ratio``, OpenML
    ``NoiseToSignalRatio``.
    """
    if not abs(mean_mutual_information) > 1e-12:
        raise Undefined("no attribute shares information with the target (mean MI is 0)")
    return float((mean_attr_entropy - mean_mutual_information) / mean_mutual_information)


def _mean_of(data: PreparedData, name: str) -> float:
    values = data.memo("entropies", entropies)[name]
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise Undefined("no attribute has an observed value")
    return float(values.mean())


def _vector(name: str):
    return lambda data: data.memo("entropies", entropies)[name]


FEATURES: dict[str, FeatureFunction] = {
    "info_theory.class_entropy": _class_entropy,
    **summarised("info_theory.attr_entropy", _vector("attr"), key="attr_entropy"),
    **summarised("info_theory.joint_entropy", _vector("joint"), key="joint_entropy"),
    **summarised("info_theory.mutual_information", _vector("mi"), key="mutual_information"),
    "info_theory.equivalent_n_attributes": lambda d: equivalent_n_attributes(
        _class_entropy(d), _mean_of(d, "mi")
    ),
    "info_theory.noise_signal_ratio": lambda d: noise_signal_ratio(
        _mean_of(d, "attr"), _mean_of(d, "mi")
    ),
}
