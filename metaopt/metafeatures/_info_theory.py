"""Information-theoretic metafeatures (entropies in bits).

Numeric columns are discretised into equal-frequency bins, ``int(n ** (1/3))`` of them (pymfe's
rule), from the statistics rows; categorical columns are used as they are. A regression target
is discretised the same way, so the class-dependent features are defined for regression too.
Missing values are skipped per column: each attribute's entropies and its mutual information
with the target use the rows where that attribute is observed.
"""

from __future__ import annotations

import numpy as np

from metaopt.metafeatures._general import numeric_counts, sorted_numeric
from metaopt.metafeatures._preprocess import PreparedData, Undefined
from metaopt.metafeatures._summary import FeatureFunction, summarised


def _n_bins(n_rows: int) -> int:
    return max(int(n_rows ** (1.0 / 3.0)), 1)


def equal_frequency_codes(
    values: np.ndarray, ordered: np.ndarray, count: int, n_bins: int
) -> np.ndarray:
    """Bin index of each value (``-1`` for missing) using equal-frequency bin edges.

    ``ordered`` holds the column sorted ascending with its ``count`` observed values first.
    Upper bin edges are the ``1/n_bins, ..., 1`` quantiles; repeated edges are merged, so
    heavily tied columns get fewer bins. A value falls into the first bin whose edge is >= it.
    """
    codes = np.full(values.shape, -1, dtype=np.int64)
    if count == 0:
        return codes
    positions = np.linspace(0.0, 1.0, n_bins + 1)[1:] * (count - 1)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, count - 1)
    edges = ordered[low] + (ordered[high] - ordered[low]) * (positions - low)
    edges = edges[np.append(True, np.diff(edges) > 1e-8)]
    edges = np.unique(edges)
    observed = ~np.isnan(values)
    codes[observed] = np.searchsorted(edges, values[observed], side="left")
    return codes


def discretised(data: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, cardinality)`` of all attributes, numeric ones binned; statistics rows."""
    rows = data.subsample(data.max_rows_statistics, "statistics")
    n_bins = _n_bins(rows.size)
    columns, cards = [], []
    if data.n_numeric:
        ordered = data.memo("sorted_numeric", sorted_numeric)
        counts = data.memo("numeric_counts", numeric_counts)
        numeric = data.numeric[rows]
        for j in range(data.n_numeric):
            codes = equal_frequency_codes(numeric[:, j], ordered[:, j], int(counts[j]), n_bins)
            columns.append(codes)
            cards.append(int(codes.max()) + 1 if counts[j] else 1)
    if data.n_categorical:
        columns.extend(data.codes[rows].T)
        cards.extend(int(max(c, 1)) for c in data.cardinality)
    return np.column_stack(columns), np.asarray(cards, dtype=np.int64)


def target_codes(data: PreparedData) -> tuple[np.ndarray, int]:
    """Class index per statistics row; a regression target is binned like numeric columns."""
    rows = data.subsample(data.max_rows_statistics, "statistics")
    if data.task == "classification":
        codes = data.y_codes[rows]
        return codes, data.n_classes
    y = data.y_float[rows]
    codes = equal_frequency_codes(y, np.sort(y), y.size, _n_bins(rows.size))
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
    observed = codes >= 0
    column = np.broadcast_to(np.arange(n_attr), codes.shape)[observed]
    value = codes[observed]
    target = np.broadcast_to(y[:, None], codes.shape)[observed]

    offsets = np.concatenate([[0], np.cumsum(cards)[:-1]])
    attr_counts = np.bincount(offsets[column] + value, minlength=int(cards.sum()))
    attr_group = np.repeat(np.arange(n_attr), cards)
    attr_entropy = _entropy_by_group(attr_counts.astype(float), attr_group, n_attr)

    joint_counts = np.bincount(
        (offsets[column] + value) * k + target, minlength=int(cards.sum()) * k
    )
    joint_group = np.repeat(attr_group, k)
    joint_entropy = _entropy_by_group(joint_counts.astype(float), joint_group, n_attr)

    class_counts = np.bincount(column * k + target, minlength=n_attr * k)
    class_entropy = _entropy_by_group(
        class_counts.astype(float), np.repeat(np.arange(n_attr), k), n_attr
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


def _equivalent_attributes(data: PreparedData) -> float:
    """Class entropy / mean mutual information (pymfe ``eq_num_attr``, OpenML ENA)."""
    mi = np.nanmean(data.memo("entropies", entropies)["mi"])
    if not mi > 1e-12:
        raise Undefined("no attribute shares information with the target (mean MI is 0)")
    return _class_entropy(data) / mi


def _noise_signal(data: PreparedData) -> float:
    """(mean attribute entropy - mean MI) / mean MI (pymfe ``ns_ratio``, OpenML NSR)."""
    ent = data.memo("entropies", entropies)
    mi = np.nanmean(ent["mi"])
    if not mi > 1e-12:
        raise Undefined("no attribute shares information with the target (mean MI is 0)")
    return float((np.nanmean(ent["attr"]) - mi) / mi)


def _vector(name: str):
    return lambda data: data.memo("entropies", entropies)[name]


FEATURES: dict[str, FeatureFunction] = {
    "info_theory.class_entropy": _class_entropy,
    **summarised("info_theory.attr_entropy", _vector("attr"), key="attr_entropy"),
    **summarised("info_theory.joint_entropy", _vector("joint"), key="joint_entropy"),
    **summarised("info_theory.mutual_information", _vector("mi"), key="mutual_information"),
    "info_theory.equivalent_n_attributes": _equivalent_attributes,
    "info_theory.noise_signal_ratio": _noise_signal,
}
