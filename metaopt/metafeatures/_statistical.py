"""Statistical metafeatures of the numeric (and boolean) columns.

Computed on at most ``max_rows_statistics`` seeded uniformly drawn rows (all rows by default
up to 100,000). Missing values are skipped per column; pairwise measures (correlation,
covariance, PCA) use mean-imputed columns, and at most ``max_columns_pairs`` seeded randomly
chosen columns when there are more.
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

#: Relative variance below which a column counts as constant (its shape is undefined).
_CONSTANT_TOL = 1e-12


def _rows(data: PreparedData) -> np.ndarray:
    return data.subsample(data.max_rows_statistics, "statistics")


def _numeric_rows(data: PreparedData) -> np.ndarray:
    if data.n_numeric == 0:
        raise Undefined("no numeric columns")
    return data.memo("numeric_rows", lambda d: d.take(d.numeric, _rows(d)))


def moments(data: PreparedData) -> dict[str, np.ndarray]:
    """Per-column count, mean, sample sd (ddof=1) and central moments m2..m4, NaN-aware.

    Columns are first divided by their largest absolute value (``scale``) so that huge values
    cannot overflow the powers; ``*_s`` entries are in those scaled units, ``mean`` and ``sd``
    in the original ones. Shape measures are scale-free and use the scaled moments.
    """
    X = _numeric_rows(data)
    missing = np.isnan(X)
    complete = not missing.any()
    count = np.full(X.shape[1], X.shape[0]) if complete else X.shape[0] - missing.sum(axis=0)
    with np.errstate(all="ignore"):
        # Missing cells become 0 once, so plain sums skip them (fast path: none missing).
        filled = X if complete else np.where(missing, 0.0, X)
        scale = np.abs(filled).max(axis=0, initial=0.0)
        scale[~(scale > 0)] = 1.0
        Xs = filled / scale
        mean_s = Xs.sum(axis=0) / count
        centred = Xs - mean_s
        if not complete:
            centred[missing] = 0.0
        sq = centred * centred
        m2 = sq.sum(axis=0) / count
        m3 = np.einsum("ij,ij->j", sq, centred) / count
        m4 = np.einsum("ij,ij->j", sq, sq) / count
        sd_s = np.sqrt(m2 * count / (count - 1))
        sd_s[count < 2] = np.nan
        constant = (m2 <= _CONSTANT_TOL * np.maximum(mean_s * mean_s, 1e-300)) | (count < 2)
        return {
            "count": count,
            "scale": scale,
            "mean_s": mean_s,
            "sd_s": sd_s,
            "mean": mean_s * scale,
            "sd": sd_s * scale,
            "m2": m2,
            "m3": m3,
            "m4": m4,
            "constant": constant,
        }


def _shape(data: PreparedData, order: int) -> np.ndarray:
    """Skewness (order 3) or excess kurtosis (order 4), e1071 type 3 as pymfe's default."""
    m = data.memo("moments", moments)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = m["sd_s"] ** 2
        value = m["m3"] / s2**1.5 if order == 3 else m["m4"] / s2**2 - 3.0
    value[m["constant"] | (m["count"] < 3)] = np.nan
    return value


def _column_means(data: PreparedData) -> np.ndarray:
    return data.memo("moments", moments)["mean"]


def _column_sds(data: PreparedData) -> np.ndarray:
    return data.memo("moments", moments)["sd"]


def _variation(data: PreparedData) -> np.ndarray:
    """Coefficient of variation sd/|mean|; undefined where the mean is (near) zero."""
    m = data.memo("moments", moments)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = m["sd_s"] / np.abs(m["mean_s"])
    cv[np.abs(m["mean_s"]) <= 1e-12 * np.maximum(m["sd_s"], 1e-300)] = np.nan
    return cv


def quartiles(data: PreparedData) -> np.ndarray:
    """``(5, p)`` array: min, q1, median, q3, max of each column (linear interpolation)."""
    _numeric_rows(data)
    ordered = data.memo("sorted_numeric", sorted_numeric)
    count = data.memo("numeric_counts", numeric_counts)
    result = np.full((5, ordered.shape[1]), np.nan)
    has = count > 0
    for i, q in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        pos = q * (np.maximum(count, 1) - 1)
        low = np.floor(pos).astype(np.int64)
        high = np.minimum(low + 1, np.maximum(count - 1, 0))
        lower = np.take_along_axis(ordered, low[None, :], axis=0)[0]
        upper = np.take_along_axis(ordered, high[None, :], axis=0)[0]
        result[i] = np.where(has, lower + (upper - lower) * (pos - low), np.nan)
    return result


def _outlier_share(data: PreparedData) -> np.ndarray:
    """Share of each column's values outside Tukey's fences (1.5 IQR beyond the quartiles)."""
    X = _numeric_rows(data)
    q = data.memo("quartiles", quartiles)
    iqr = q[3] - q[1]
    with np.errstate(invalid="ignore"):
        outside = (X < q[1] - 1.5 * iqr) | (X > q[3] + 1.5 * iqr)
        share = outside.sum(axis=0) / data.memo("numeric_counts", numeric_counts)
    share[data.memo("moments", moments)["constant"]] = np.nan
    return share


def _n_outlier_features(data: PreparedData) -> float:
    """Columns with at least one value beyond Tukey's fences (pymfe ``nr_outliers``)."""
    if data.n_numeric == 0:
        return 0.0
    q = data.memo("quartiles", quartiles)
    iqr = q[3] - q[1]
    with np.errstate(invalid="ignore"):
        has = (q[0] < q[1] - 1.5 * iqr) | (q[4] > q[3] + 1.5 * iqr)
    return float(np.count_nonzero(has))


def _pair_columns(data: PreparedData) -> np.ndarray:
    """Numeric columns observed at least twice, used for pairwise measures (capped, seeded).

    Constant columns stay in (as in pymfe): their covariances are 0 and their correlations
    undefined, and they count as uncorrelated in ``high_correlation_ratio``.
    """
    m = data.memo("moments", moments)
    usable = np.flatnonzero(m["count"] >= 2)
    if usable.size > data.max_columns_pairs:
        rng = data.rng("pair-columns")
        usable = np.sort(rng.choice(usable, size=data.max_columns_pairs, replace=False))
    return usable


def standardised(data: PreparedData) -> np.ndarray:
    """Mean-imputed, standardised pair columns (constant ones all 0; the statistics rows)."""
    columns = data.memo("pair_columns", _pair_columns)
    if columns.size == 0:
        raise Undefined("no numeric column with at least two observed values")
    m = data.memo("moments", moments)
    X = _numeric_rows(data)[:, columns] / m["scale"][columns]
    Z = (X - m["mean_s"][columns]) / m["sd_s"][columns]
    Z[:, m["constant"][columns]] = 0.0
    Z[np.isnan(Z)] = 0.0
    return Z


def _varying(data: PreparedData) -> np.ndarray:
    """Mask of the pair columns that are not constant."""
    return ~data.memo("moments", moments)["constant"][data.memo("pair_columns", _pair_columns)]


def _covariance(data: PreparedData) -> np.ndarray:
    Z = data.memo("standardised", standardised)
    if Z.shape[0] < 2:
        raise Undefined("pairwise measures need at least two rows")
    return (Z.T @ Z) / (Z.shape[0] - 1)


def _lower_triangle(matrix: np.ndarray) -> np.ndarray:
    if matrix.shape[0] < 2:
        raise Undefined("pairwise measures need at least two numeric columns")
    return matrix[np.tril_indices(matrix.shape[0], k=-1)]


def _abs_correlation(data: PreparedData) -> np.ndarray:
    """|Pearson correlation| of every pair of columns (lower triangle)."""
    z_cov = data.memo("z_covariance", _covariance)
    scale = np.sqrt(np.diag(z_cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = z_cov / np.outer(scale, scale)
    return np.abs(_lower_triangle(corr))


def _abs_covariance(data: PreparedData) -> np.ndarray:
    """|Covariance| of every pair of columns in original units (lower triangle)."""
    z_cov = data.memo("z_covariance", _covariance)
    sd = data.memo("moments", moments)["sd"][data.memo("pair_columns", _pair_columns)]
    return np.abs(_lower_triangle(z_cov * np.outer(sd, sd)))


def _high_correlation_ratio(data: PreparedData) -> float:
    """Share of column pairs with |correlation| >= 0.5 (pymfe ``nr_cor_attr``)."""
    corr = data.memo("abs_correlation", _abs_correlation)
    return float(np.mean(corr >= 0.5))


def pca(data: PreparedData) -> dict[str, np.ndarray]:
    """Eigen-decomposition of the correlation matrix (PCA of the non-constant columns)."""
    varying = _varying(data)
    if not varying.any():
        raise Undefined("no non-constant numeric column")
    z_cov = data.memo("z_covariance", _covariance)[np.ix_(varying, varying)]
    eigenvalues, eigenvectors = np.linalg.eigh(z_cov)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.clip(eigenvalues[order], 0.0, None)
    if eigenvalues.sum() <= 0:
        raise Undefined("the numeric columns have no variance after imputation")
    return {"values": eigenvalues, "first": eigenvectors[:, order[0]]}


def _pca_components_95(data: PreparedData) -> float:
    values = data.memo("pca", pca)["values"]
    explained = np.cumsum(values) / values.sum()
    return float(np.searchsorted(explained, 0.95 - 1e-12) + 1)


def _pca_ratio_95(data: PreparedData) -> float:
    return _pca_components_95(data) / data.memo("pca", pca)["values"].size


def _pca_first_ratio(data: PreparedData) -> float:
    values = data.memo("pca", pca)["values"]
    return float(values[0] / values.sum())


def _first_pc_shape(order: int) -> FeatureFunction:
    def feature(data: PreparedData) -> float:
        first = data.memo("pca", pca)["first"]
        scores = data.memo("standardised", standardised)[:, _varying(data)] @ first
        if scores.size < 3:
            raise Undefined("the first principal component's shape needs at least three rows")
        centred = scores - scores.mean()
        n = scores.size
        s2 = (centred**2).sum() / (n - 1)
        if s2 <= 1e-24:
            raise Undefined("the first principal component is constant")
        if order == 3:
            return float((centred**3).mean() / s2**1.5)
        return float((centred**4).mean() / s2**2 - 3.0)

    feature.__name__ = f"first_pc_moment{order}"
    return feature


def _target_shape(order: int) -> FeatureFunction:
    def feature(data: PreparedData) -> float:
        if data.task != "regression":
            raise Undefined("target moments are defined for regression targets only")
        y = data.y_float
        centred = y - y.mean()
        n = y.size
        if n < 3:
            raise Undefined("target moments need at least three rows")
        s2 = (centred**2).sum() / (n - 1)
        if s2 <= _CONSTANT_TOL * max(y.mean() ** 2, 1e-300):
            raise Undefined("the target is constant")
        if order == 3:
            return float((centred**3).mean() / s2**1.5)
        return float((centred**4).mean() / s2**2 - 3.0)

    return feature


FEATURES: dict[str, FeatureFunction] = {
    **summarised("statistical.mean", _column_means),
    **summarised("statistical.sd", _column_sds),
    **summarised("statistical.skewness", lambda d: _shape(d, 3), key="skewness"),
    **summarised("statistical.kurtosis", lambda d: _shape(d, 4), key="kurtosis"),
    **summarised("statistical.variation", _variation),
    **summarised("statistical.outlier_share", _outlier_share),
    **summarised("statistical.abs_correlation", _abs_correlation, key="abs_correlation"),
    **summarised("statistical.abs_covariance", _abs_covariance),
    "statistical.n_outlier_features": _n_outlier_features,
    "statistical.high_correlation_ratio": _high_correlation_ratio,
    "statistical.pca_components_95": _pca_components_95,
    "statistical.pca_ratio_95": _pca_ratio_95,
    "statistical.pca_first_explained": _pca_first_ratio,
    "statistical.pca_first_skewness": _first_pc_shape(3),
    "statistical.pca_first_kurtosis": _first_pc_shape(4),
    "statistical.target_skewness": _target_shape(3),
    "statistical.target_kurtosis": _target_shape(4),
}
