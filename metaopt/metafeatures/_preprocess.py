"""Input validation and the shared intermediates every metafeature group reads.

All groups receive one :class:`PreparedData`. It converts the caller's table once into numpy
arrays (numeric matrix with ``NaN`` for missing, compact integer codes for categoricals, encoded
target) and memoises the costlier intermediates (column moments, sorted columns, discretised
matrix, row subsamples), so each is computed at most once per extraction.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger("metaopt.metafeatures")

TASKS = ("classification", "regression")


class Undefined(Exception):
    """Raised by a feature function when the feature is undefined for this dataset.

    The extractor turns it into ``NaN`` and records ``reason`` in ``nan_reasons``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class PreparedData:
    """A dataset converted once into the arrays the feature functions share.

    Attributes:
        numeric: ``(n, p_num)`` float64 matrix of numeric and boolean columns; missing and
            infinite values are ``NaN``.
        numeric_names: Column names of ``numeric``.
        codes: ``(n, p_cat)`` int64 matrix of categorical codes ``0..k-1`` (observed values
            only, compact), ``-1`` for missing.
        cardinality: Observed number of distinct values of each categorical column.
        declared_levels: Declared number of categories of each categorical column (the pandas
            ``category`` dtype's categories; the observed count for other dtypes).
        categorical_names: Column names of ``codes``.
        task: ``"classification"`` or ``"regression"``.
        y_codes: Class index per row (classification), else ``None``.
        classes: Class labels as strings (classification), else empty.
        y_float: Target values (regression), else ``None``.
        n_missing_cells: Missing (or infinite) cells in the original ``X``.
        n_rows_with_missing: Rows with at least one missing cell.
        n_cols_with_missing: Columns with at least one missing cell.
        n_infinite: Infinite cells in the original ``X`` (counted as missing).
        random_state: Seed of every random choice made while extracting.
        max_rows_statistics: Row cap of the statistical and information-theoretic groups.
        max_rows_models: Row cap of the landmarking and model-based groups.
        max_columns_pairs: Column cap of correlation, covariance and PCA.
        max_onehot_levels: Most frequent levels one-hot encoded per categorical column for the
            learners (rarer levels share the all-zero code).
        deadline: ``time.monotonic()`` value after which budgeted groups stop.
    """

    numeric: np.ndarray
    numeric_names: list[str]
    codes: np.ndarray
    cardinality: np.ndarray
    declared_levels: np.ndarray
    categorical_names: list[str]
    task: str
    y_codes: np.ndarray | None
    classes: list[str]
    y_float: np.ndarray | None
    n_missing_cells: int
    n_rows_with_missing: int
    n_cols_with_missing: int
    n_infinite: int
    random_state: int
    max_rows_statistics: int | None = 100_000
    max_rows_models: int | None = 2_000
    max_columns_pairs: int = 500
    max_onehot_levels: int = 10
    deadline: float | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_rows(self) -> int:
        return int(self.numeric.shape[0])

    @property
    def n_numeric(self) -> int:
        return int(self.numeric.shape[1])

    @property
    def n_categorical(self) -> int:
        return int(self.codes.shape[1])

    @property
    def n_features(self) -> int:
        return self.n_numeric + self.n_categorical

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def memo(self, key: str, compute: Callable[[PreparedData], Any]) -> Any:
        """Return the intermediate ``key``, computing it with ``compute(self)`` the first time.

        A :class:`Undefined` raised by ``compute`` is cached too, so every feature depending on
        an undefined intermediate reports the same reason without recomputing.
        """
        if key not in self._cache:
            try:
                self._cache[key] = compute(self)
            except Undefined as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, Undefined):
            raise value
        return value

    def rng(self, purpose: str) -> np.random.Generator:
        """A generator seeded by ``random_state`` and ``purpose`` (independent streams)."""
        salt = sum((i + 1) * ord(c) for i, c in enumerate(purpose))
        return np.random.default_rng([int(self.random_state) & 0xFFFFFFFF, salt])

    def take(self, array: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``array[rows]`` without a copy when ``rows`` are all rows (the common case)."""
        return array if rows.size == self.n_rows else array[rows]

    def subsample(self, max_rows: int | None, purpose: str) -> np.ndarray:
        """Sorted row indices of a seeded subsample of at most ``max_rows`` rows.

        Rows are drawn uniformly without replacement. For classification, every class that the
        uniform draw misses gets up to two of its rows added back, so rare classes stay visible
        to the learners (the result can exceed ``max_rows`` by at most ``2 * n_classes``).
        All rows are returned when ``max_rows`` is ``None`` or not smaller than ``n_rows``.
        """
        key = f"rows:{purpose}:{max_rows}"
        if key in self._cache:
            return self._cache[key]
        n = self.n_rows
        if max_rows is None or n <= max_rows:
            rows = np.arange(n)
        else:
            rng = self.rng(purpose)
            rows = np.sort(rng.choice(n, size=max_rows, replace=False))
            if self.y_codes is not None:
                present = np.zeros(self.n_classes, dtype=bool)
                present[self.y_codes[rows]] = True
                extra = []
                for cls in np.flatnonzero(~present):
                    members = np.flatnonzero(self.y_codes == cls)
                    extra.append(rng.choice(members, size=min(2, members.size), replace=False))
                if extra:
                    rows = np.sort(np.concatenate([rows, *extra]))
        self._cache[key] = rows
        return rows


def _as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X
    elif isinstance(X, pd.Series):
        frame = X.to_frame()
    elif isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional; got an array of shape {X.shape}.")
        frame = pd.DataFrame(X)
    else:
        raise TypeError(
            "X must be a metaopt.datasets.Dataset, a pandas DataFrame/Series or a 2-D numpy "
            "array; "
            f"got {type(X).__name__}."
        )
    frame = frame.copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _as_target(y: Any, n_rows: int) -> pd.Series:
    if y is None:
        raise ValueError(
            "y is required when X is not a metaopt.datasets.Dataset: pass the target as a "
            "Series, list or 1-D array aligned with X."
        )
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"y must be one column; got a DataFrame with {y.shape[1]} columns.")
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        series = y.reset_index(drop=True)
    else:
        array = np.asarray(y)
        if array.ndim == 2 and 1 in array.shape:
            array = array.ravel()
        if array.ndim != 1:
            raise ValueError(f"y must be 1-dimensional; got shape {array.shape}.")
        series = pd.Series(array)
    if len(series) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(series)} values; they must match.")
    return series


def _is_categorical_dtype(dtype: Any) -> bool:
    return isinstance(dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    )


def _numeric_column(column: pd.Series) -> np.ndarray:
    dtype = column.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        # The column's own time unit since the epoch (UTC for time-zone-aware columns), as
        # metaopt.load_dataset turns them into numbers.
        out = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        out[column.isna().to_numpy()] = np.nan
        return out
    return column.to_numpy(dtype=float, na_value=np.nan)


def _categorical_column(column: pd.Series) -> tuple[np.ndarray, int, int]:
    """Compact codes (``-1`` missing), observed cardinality and declared level count."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        raw = column.cat.codes.to_numpy().astype(np.int64)
        declared = len(column.cat.categories)
    else:
        raw, uniques = pd.factorize(column.astype("object"), use_na_sentinel=True)
        raw = raw.astype(np.int64)
        declared = len(uniques)
    present = np.zeros(max(declared, 1), dtype=bool)
    present[raw[raw >= 0]] = True
    remap = np.cumsum(present) - 1
    codes = np.where(raw >= 0, remap[np.maximum(raw, 0)], -1)
    return codes, int(present.sum()), int(declared)


def _encode_target(
    y: pd.Series, task: str
) -> tuple[np.ndarray | None, list[str], np.ndarray | None]:
    if task == "classification":
        codes, uniques = pd.factorize(y, sort=False)
        labels = [str(u) for u in uniques]
        # Classes are ordered by their label text, whatever the input order or dtype.
        order = np.argsort(np.asarray(labels, dtype=object), kind="stable")
        rank = np.empty(len(labels), dtype=np.int64)
        rank[order] = np.arange(len(labels))
        return rank[codes], [labels[i] for i in order], None
    if _is_categorical_dtype(y.dtype):
        # Labels such as "1", "2.5" (an ARFF nominal target) are numbers in disguise.
        numeric = pd.to_numeric(y.astype("object").astype(str), errors="coerce")
        if numeric.isna().any():
            raise ValueError(
                f"task='regression' needs a numeric target; got dtype {y.dtype} with "
                "non-numeric values. Pass task='classification' or a numeric y."
            )
        y = numeric
    values = _numeric_column(y)
    if not np.all(np.isfinite(values)):
        raise ValueError("the regression target contains infinite values; remove those rows.")
    return None, [], values


def prepare(
    X: Any, y: Any = None, *, task: str | None = None, random_state: int = 0
) -> PreparedData:
    """Validate ``X``/``y`` and convert them into a :class:`PreparedData`.

    ``X`` may be a ``metaopt.datasets.Dataset`` (then ``y`` must be ``None``), a DataFrame or a
    2-D array. Rows whose target is missing are dropped (logged). Raises ``ValueError`` for
    input that cannot be described: no rows, no feature columns, a target that is entirely
    missing or not aligned with ``X``, or an unknown ``task``.
    """
    from metaopt.datasets import Dataset, infer_task

    if isinstance(X, Dataset):
        if y is not None:
            raise ValueError("pass either a Dataset or X and y, not a Dataset and y.")
        frame, target = _as_frame(X.X), _as_target(X.y, X.X.shape[0])
        task = task or X.task
    else:
        frame = _as_frame(X)
        target = _as_target(y, frame.shape[0])
    frame = frame.reset_index(drop=True)
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}.")
    if not isinstance(random_state, (int, np.integer)) or isinstance(random_state, bool):
        raise TypeError(f"random_state must be an int; got {type(random_state).__name__}.")
    if not 0 <= random_state < 2**32:
        raise ValueError(f"random_state must be in [0, 2**32); got {random_state}.")

    keep = ~target.isna().to_numpy()
    if not keep.all():
        if not keep.any():
            raise ValueError("y has no non-missing values; nothing can be described.")
        logger.info("dropping %d rows whose target is missing", int((~keep).sum()))
        frame = frame.loc[keep].reset_index(drop=True)
        target = target.loc[keep].reset_index(drop=True)
    if frame.shape[0] == 0:
        raise ValueError("X has no rows; metafeatures need at least one row.")
    if frame.shape[1] == 0:
        raise ValueError("X has no feature columns; metafeatures need at least one column.")
    task = task or infer_task(target)
    y_codes, classes, y_float = _encode_target(target, task)

    names = list(frame.columns)
    dtypes = list(frame.dtypes)
    complex_columns = [
        name
        for name, dtype in zip(names, dtypes, strict=True)
        if pd.api.types.is_complex_dtype(dtype)
    ]
    if complex_columns:
        raise TypeError(
            f"X has complex-valued column(s) {complex_columns[:5]}; metafeatures accept real "
            "numeric, boolean, categorical/string/object and datetime columns. Split them into "
            "real and imaginary parts first."
        )
    categorical = [_is_categorical_dtype(dtype) for dtype in dtypes]
    numeric_pos = [i for i, is_cat in enumerate(categorical) if not is_cat]
    cat_pos = [i for i, is_cat in enumerate(categorical) if is_cat]
    numeric_cols = [names[i] for i in numeric_pos]
    cat_cols = [names[i] for i in cat_pos]
    temporal = [
        j
        for j, i in enumerate(numeric_pos)
        if pd.api.types.is_datetime64_any_dtype(dtypes[i])
        or pd.api.types.is_timedelta64_dtype(dtypes[i])
    ]
    n = frame.shape[0]
    numeric = np.empty((n, len(numeric_pos)), dtype=float)
    plain = np.setdiff1d(np.arange(len(numeric_pos)), temporal)
    if plain.size:
        # One bulk conversion: per-column access is slow on wide frames.
        bulk = frame.iloc[:, [numeric_pos[j] for j in plain]].to_numpy(
            dtype=float, na_value=np.nan
        )
        if plain.size == len(numeric_pos):
            numeric[...] = bulk  # a plain copy is ~3x faster than an indexed one
        else:
            numeric[:, plain] = bulk
    for j in temporal:
        numeric[:, j] = _numeric_column(frame.iloc[:, numeric_pos[j]])
    infinite = np.isinf(numeric)
    n_infinite = int(infinite.sum())
    if n_infinite:
        numeric[infinite] = np.nan
    codes = np.empty((n, len(cat_cols)), dtype=np.int64)
    cardinality = np.empty(len(cat_cols), dtype=np.int64)
    declared = np.empty(len(cat_cols), dtype=np.int64)
    for j, i in enumerate(cat_pos):
        codes[:, j], cardinality[j], declared[j] = _categorical_column(frame.iloc[:, i])

    # Counted per block: concatenating them would copy an n x p mask.
    missing_numeric, missing_codes = np.isnan(numeric), codes < 0
    return PreparedData(
        numeric=numeric,
        numeric_names=numeric_cols,
        codes=codes,
        cardinality=cardinality,
        declared_levels=declared,
        categorical_names=cat_cols,
        task=task,
        y_codes=y_codes,
        classes=classes,
        y_float=y_float,
        n_missing_cells=int(missing_numeric.sum()) + int(missing_codes.sum()),
        n_rows_with_missing=int((missing_numeric.any(axis=1) | missing_codes.any(axis=1)).sum()),
        n_cols_with_missing=int(missing_numeric.any(axis=0).sum())
        + int(missing_codes.any(axis=0).sum()),
        n_infinite=n_infinite,
        random_state=int(random_state),
    )


def design_matrix(data: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """Learner-ready matrix of the model rows and the source column of each design column.

    Numeric columns are median-imputed and standardised (constant ones dropped); categorical
    columns are one-hot encoded on their ``max_onehot_levels`` most frequent levels, missing
    and rarer levels being all zeros. Source indices count numeric columns first, then
    categoricals, as in ``PreparedData``.
    """
    rows = data.subsample(data.max_rows_models, "models")
    blocks, owners = [], []
    if data.n_numeric:
        X = data.take(data.numeric, rows)
        observed = ~np.isnan(X)
        # Divide by the largest magnitude first so that huge values cannot overflow.
        scale = np.where(observed, np.abs(X), 0.0).max(axis=0, initial=0.0)
        X = X / np.where(scale > 0, scale, 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns -> NaN
            median = np.nanmedian(X, axis=0)
        median = np.where(np.isnan(median), 0.0, median)
        X = np.where(observed, X, median)
        sd = X.std(axis=0)
        keep = sd > 1e-12 * np.maximum(np.abs(X.mean(axis=0)), 1.0)
        blocks.append((X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep])
        owners.append(np.flatnonzero(keep))
    for j in range(data.n_categorical):
        codes = data.codes[rows, j]
        counts = np.bincount(codes[codes >= 0], minlength=max(int(data.cardinality[j]), 1))
        levels = np.argsort(-counts, kind="stable")[: data.max_onehot_levels]
        levels = levels[counts[levels] > 0]
        if levels.size < 2 and not (levels.size == 1 and counts[levels[0]] < rows.size):
            continue  # constant column: carries no information for a learner
        blocks.append((codes[:, None] == levels[None, :]).astype(float))
        owners.append(np.full(levels.size, data.n_numeric + j))
    if not blocks:
        return np.zeros((rows.size, 0)), np.zeros(0, dtype=np.int64)
    return np.column_stack(blocks), np.concatenate(owners).astype(np.int64)


def sorted_numeric(data: PreparedData) -> np.ndarray:
    """Numeric columns sorted ascending, ``NaN`` last (shared with the statistical group)."""
    rows = data.subsample(data.max_rows_statistics, "statistics")
    return np.sort(data.take(data.numeric, rows), axis=0)


def numeric_counts(data: PreparedData) -> np.ndarray:
    """Non-missing values per numeric column of the statistics rows."""
    rows = data.subsample(data.max_rows_statistics, "statistics")
    return np.count_nonzero(~np.isnan(data.take(data.numeric, rows)), axis=0)
