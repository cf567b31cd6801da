"""Id-like columns of data files: row numbers are dropped, other ids are warned about."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from metaopt.datasets._readers import warn_data

# Column names that mark a row id or a written-out index (``DataFrame.to_csv`` without
# ``index=False`` writes ``Unnamed: 0``).
ID_NAME = re.compile(r"(?i)^(unnamed: ?0|id|index|row ?id|row_id|.*[_ ]id)$")


def _named_like_id(column: object) -> bool:
    return bool(ID_NAME.match(str(column).strip()))


def is_row_number(values: pd.Series) -> bool:
    """Whether ``values`` are the row numbers 0, 1, ..., n-1 or 1, 2, ..., n in row order.

    Such a column tells a model only where a row sits in the file; where the file is sorted by
    class (OpenML's MagicTelescope is) it gives the labels away.
    """
    if len(values) < 2 or not pd.api.types.is_numeric_dtype(values):
        return False
    if pd.api.types.is_bool_dtype(values):
        return False
    array = values.to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(array).all() or array[0] not in (0.0, 1.0):
        return False
    return bool(np.array_equal(array, np.arange(len(array)) + array[0]))


def drop_row_numbers(where: str, X: pd.DataFrame) -> pd.DataFrame:
    """``X`` without its row-number columns named like an id, with a warning naming them.

    OpenML marks such a column as the row id and leaves it out of the data it serves; a column
    written by ``DataFrame.to_csv`` without ``index=False`` is one too. Other id-like columns
    (named like an id, a different value in every row, not the row numbers) stay features, with
    a warning.
    """
    dropped = [c for c in X.columns if _named_like_id(c) and is_row_number(X[c])]
    if dropped:
        warn_data(
            f"{where}: dropped columns {[str(c) for c in dropped[:10]]}: they hold the row "
            "numbers (0 or 1, 2, 3, ... in file order) under an id-like name, which tells a "
            "model only where a row sits in the file. To keep them, load the file with pandas "
            "and pass the DataFrame with target=."
        )
        X = X.drop(columns=dropped)
    if len(X) < 2:
        return X
    found = [
        str(c)
        for c in X.columns
        if _named_like_id(c) and X[c].notna().all() and X[c].nunique() == len(X)
    ]
    if found:
        warn_data(
            f"{where}: columns {found[:10]} hold a different value in every row, like a row id "
            "or an index written by DataFrame.to_csv; they are used as features. Drop them "
            "(load the file with pandas, drop them and pass the DataFrame with target=) or "
            "write the file with index=False."
        )
    return X


def separating_columns(X: pd.DataFrame, y: pd.Series) -> list[str]:
    """Columns that alone give the classes away.

    Two kinds: a copy of the target under other labels (one value per class, one class per
    value), and a numeric column with more distinct values than classes along which, sorted,
    each class is one run. The second is often an identifier (an object's name coded as a number,
    the row number of a file sorted by class), sometimes a genuinely decisive feature: a hint to
    check it. A column with fewer values that only mostly matches the classes is not counted.
    """
    labels = pd.factorize(y.astype(str))[0]
    n_classes = int(labels.max()) + 1 if len(labels) else 0
    if n_classes < 2:
        return []
    found = []
    for column in X.columns:
        values = X[column]
        if values.isna().any():
            continue
        codes = pd.factorize(values)[0]
        if int(codes.max()) + 1 == n_classes:
            if len(set(zip(codes.tolist(), labels.tolist(), strict=True))) == n_classes:
                found.append(str(column))  # the target, relabelled
            continue
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        if int(codes.max()) + 1 < n_classes:
            continue
        ordered = labels[np.argsort(values.to_numpy(), kind="stable")]
        if 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1])) <= n_classes:
            found.append(str(column))
    return found
