"""Turn user-supplied features and targets into a validated :class:`Dataset`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from metaopt.datasets._dataset import TASK_TYPES, Dataset

# An integer-valued numeric target with at most this many distinct values is taken to be class
# labels; anything else numeric is a regression target. ``task=`` overrides the guess.
MAX_CLASSES_FOR_NUMERIC_TARGET = 20


def _as_frame(X: object) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        # No deep copy: make_dataset builds a new frame from the columns anyway, and
        # copy-on-write keeps the caller's frame from changing through this one.
        frame = X.copy(deep=False)
    elif isinstance(X, pd.Series):
        frame = X.to_frame()
    elif isinstance(X, np.ndarray) or isinstance(X, Sequence) and not isinstance(X, str):
        array = np.asarray(X)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2:
            raise ValueError(
                f"X must be 2-dimensional (rows x features); got an array of shape {array.shape}."
            )
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    else:
        raise TypeError(
            "X must be a pandas DataFrame, a numpy array or a list of rows; "
            f"got {type(X).__name__}."
        )
    frame.columns = [str(c) for c in frame.columns]
    if frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(
            f"X has duplicated column names {duplicated}; column names must be unique."
        )
    return frame.reset_index(drop=True)


def _as_series(y: object) -> pd.Series:
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(
                f"y must be a single column; got a DataFrame with {y.shape[1]} columns."
            )
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        series = y.copy()
    elif isinstance(y, np.ndarray) or isinstance(y, Sequence) and not isinstance(y, str):
        array = np.asarray(y)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise ValueError(f"y must be 1-dimensional; got an array of shape {array.shape}.")
        series = pd.Series(array)
    else:
        raise TypeError(
            f"y must be a pandas Series, a numpy array or a list; got {type(y).__name__}."
        )
    return series.reset_index(drop=True)


def _normalise_feature(column: pd.Series) -> pd.Series:
    """Numeric stays numeric (booleans become 0/1 floats), everything else becomes categorical."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return column
    if pd.api.types.is_bool_dtype(dtype):
        return column.astype(float)
    if pd.api.types.is_numeric_dtype(dtype):
        # float64 with NaN for missing, also from nullable (Float64, Int64: pd.NA) columns.
        return column if dtype == np.float64 else column.astype(float)
    # Object columns that hold only numbers (e.g. read with missing markers) stay numeric.
    non_missing = column.dropna()
    numeric = pd.to_numeric(non_missing, errors="coerce")
    if (
        len(non_missing) > 0
        and not numeric.isna().any()
        and not pd.api.types.is_bool_dtype(non_missing.infer_objects().dtype)
    ):
        # Missing stays missing: NaT would otherwise become the smallest int64.
        return pd.to_numeric(column, errors="coerce").astype(float).where(column.notna())
    return column.astype(str).where(column.notna()).astype("category")


def infer_task(y: pd.Series) -> str:
    """Guess ``"classification"`` or ``"regression"`` from the target's values."""
    if isinstance(y.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(y.dtype):
        return "classification"
    if not pd.api.types.is_numeric_dtype(y.dtype):
        numeric = pd.to_numeric(y.dropna(), errors="coerce")
        if numeric.isna().any():
            return "classification"
        y = numeric
    values = y.dropna().to_numpy(dtype=float)
    is_integer = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    if is_integer and len(np.unique(values)) <= MAX_CLASSES_FOR_NUMERIC_TARGET:
        return "classification"
    return "regression"


def make_dataset(
    X: object,
    y: object,
    *,
    task: str | None = None,
    name: str = "dataset",
    source: str = "in-memory",
    metadata: dict[str, object] | None = None,
) -> Dataset:
    """Validate features and target and wrap them in a :class:`Dataset`.

    Rows whose target is missing are dropped (they cannot be learned from). Raises ``ValueError``
    for mismatched lengths, empty data, a target with fewer than two distinct values, or an
    unknown task, and ``TypeError`` for unsupported container types.
    """
    frame = _as_frame(X)
    target = _as_series(y)
    if len(frame) != len(target):
        raise ValueError(
            f"X and y must have the same number of rows; got {len(frame)} rows in X and "
            f"{len(target)} values in y."
        )
    if frame.shape[1] == 0:
        raise ValueError("X has no feature columns; at least one feature is needed.")
    keep = target.notna().to_numpy()
    if not keep.all():
        frame, target = frame[keep].reset_index(drop=True), target[keep].reset_index(drop=True)
    if len(frame) == 0:
        raise ValueError("the dataset is empty: no rows with a known target value.")
    if task is not None and task not in TASK_TYPES:
        raise ValueError(f"task must be one of {list(TASK_TYPES)}; got {task!r}.")
    resolved_task = task or infer_task(target)
    if target.nunique(dropna=True) < 2:
        raise ValueError(
            f"the target has a single value ({target.iloc[0]!r}) in all {len(target)} rows; "
            "a learnable target needs at least two distinct values."
        )
    frame = pd.DataFrame({c: _normalise_feature(frame[c]) for c in frame.columns})
    if resolved_task == "classification":
        if pd.api.types.is_numeric_dtype(target.dtype) and not pd.api.types.is_bool_dtype(
            target.dtype
        ):
            values = target.to_numpy(dtype=float)
            if np.all(values == np.round(values)):
                target = target.astype(np.int64)
        target = target.astype("category").cat.remove_unused_categories()
    else:
        numeric = pd.to_numeric(target, errors="coerce")
        if numeric.isna().any():
            bad = target[numeric.isna()].iloc[0]
            raise ValueError(
                f"a regression target must be numeric; got the non-numeric value {bad!r}. "
                "Pass task='classification' for class labels."
            )
        target = numeric.astype(float)
    target.name = str(target.name) if target.name is not None else "target"
    return Dataset(
        X=frame,
        y=target,
        task=resolved_task,  # type: ignore[arg-type]
        name=name,
        source=source,
        metadata=dict(metadata or {}),
    )


def target_position(frame: pd.DataFrame, target: object) -> int:
    """The position of the column of ``frame`` that ``target`` names.

    ``target`` is a column name, or an integer: the column labelled with that integer when the
    frame has one (a DataFrame built from an array), else the column at that position
    (negative positions count from the end, ``-1`` is the last column).

    Raises:
        TypeError: ``target`` is neither a string nor an integer.
        ValueError: No such column or position, or a name shared by several columns.
    """
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (str, int, np.integer)):
        raise TypeError(
            "target must be a column name (str) or a column position (int); got "
            f"{type(target).__name__}."
        )
    n_columns = frame.shape[1]
    shown = list(map(str, frame.columns[:20]))
    more = f" (and {n_columns - 20} more)" if n_columns > 20 else ""
    if isinstance(target, str):
        matches = [i for i, c in enumerate(frame.columns) if isinstance(c, str) and c == target]
        if not matches:
            wanted = target.strip().lower()
            close = [str(c) for c in frame.columns if str(c).strip().lower() == wanted]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"target column {target!r} does not exist; the columns are {shown}{more}.{hint}"
            )
    else:
        matches = [
            i
            for i, c in enumerate(frame.columns)
            if isinstance(c, (int, np.integer)) and not isinstance(c, bool) and c == int(target)
        ]
        if not matches:
            if not -n_columns <= int(target) < n_columns:
                raise ValueError(
                    f"target position {int(target)} is out of range: the data has {n_columns} "
                    f"columns (positions 0 to {n_columns - 1}, or -1 for the last); the "
                    f"columns are {shown}{more}."
                )
            return int(target) % n_columns
    if len(matches) > 1:
        raise ValueError(
            f"target {target!r} names {len(matches)} columns (at positions {matches}); name "
            "the target by position (target=<int>) or give the columns distinct names."
        )
    return matches[0]


def split_target(frame: pd.DataFrame, target: object) -> tuple[pd.DataFrame, pd.Series]:
    """Separate the target column from a frame, with a clear error when it is absent.

    ``target`` is a column name or position, as :func:`target_position` reads it.
    """
    position = target_position(frame, target)
    keep = [i for i in range(frame.shape[1]) if i != position]
    return frame.iloc[:, keep], frame.iloc[:, position]
