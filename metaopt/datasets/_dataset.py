"""The :class:`Dataset` value type every part of metaopt consumes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

TaskType = Literal["classification", "regression"]
TASK_TYPES: tuple[str, ...] = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A tabular supervised-learning dataset.

    Attributes:
        X: Features. Numeric columns have a numeric dtype, categorical ones the pandas
            ``category`` dtype; missing values are ``NaN``.
        y: Target, aligned with ``X`` (same length, default ``RangeIndex``). Categorical for
            classification, float for regression.
        task: ``"classification"`` or ``"regression"``.
        name: Human-readable name, e.g. ``"anneal"``.
        source: Where the data came from, e.g. ``"openml:2"`` or a file path.
        metadata: Free-form extra facts (OpenML ids, original target name, ...).

    Example:
        >>> import metaopt
        >>> ds = metaopt.load_dataset("sklearn:iris")
        >>> ds.shape, ds.task, ds.n_classes
        ((150, 4), 'classification', 3)
    """

    X: pd.DataFrame
    y: pd.Series
    task: TaskType
    name: str
    source: str
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_features)``."""
        return (int(self.X.shape[0]), int(self.X.shape[1]))

    @property
    def n_classes(self) -> int | None:
        """Number of distinct target values for classification, ``None`` for regression."""
        if self.task != "classification":
            return None
        return int(self.y.nunique(dropna=True))

    @property
    def categorical_columns(self) -> list[str]:
        """Names of the categorical feature columns."""
        return [c for c in self.X.columns if isinstance(self.X[c].dtype, pd.CategoricalDtype)]

    @property
    def numeric_columns(self) -> list[str]:
        """Names of the numeric (including boolean) feature columns."""
        categorical = set(self.categorical_columns)
        return [c for c in self.X.columns if c not in categorical]

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the data, independent of names, column order and row order.

        Two copies of the same data under different names (an OpenML ARFF and its PMLB
        re-export with integer-coded categories, say) get the same fingerprint, so they can be
        kept from leaking between meta-training and evaluation. Each column is reduced to an
        order-free summary of its values up to relabelling (the sorted multiset of value counts
        for categorical or integer-coded columns, sorted rounded values otherwise).
        """
        return content_fingerprint(self.X, self.y)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, shape={self.shape}, "
            f"n_classes={self.n_classes}, source={self.source!r})"
        )


def _column_signature(values: pd.Series) -> bytes:
    """Relabelling- and order-invariant summary of one column."""
    non_missing = values.dropna()
    n_missing = int(values.isna().sum())
    numeric = None
    if not isinstance(values.dtype, pd.CategoricalDtype):
        coerced = pd.to_numeric(non_missing, errors="coerce")
        if not coerced.isna().any():
            numeric = coerced.to_numpy(dtype=float)
    # Integer codes with few distinct values are categories in disguise (PMLB re-encodes
    # nominal columns as integers), so they are summarised like categories.
    is_discrete = numeric is None or (
        bool(np.all(numeric == np.round(numeric)))
        and len(np.unique(numeric)) <= max(2, int(0.05 * len(numeric)) + 2)
    )
    if numeric is None or is_discrete:
        counts = np.sort(non_missing.astype(str).value_counts().to_numpy())
        payload = b"d" + counts.astype(np.int64).tobytes()
    else:
        payload = b"c" + np.sort(np.round(numeric, 6)).tobytes()
    return payload + n_missing.to_bytes(8, "little")


def content_fingerprint(X: pd.DataFrame, y: pd.Series) -> str:
    """Hash of a dataset's content that ignores names, column order and row order."""
    signatures = sorted(hashlib.sha1(_column_signature(X[c])).digest() for c in X.columns)
    target = hashlib.sha1(_column_signature(y)).digest()
    digest = hashlib.sha1()
    digest.update(len(X).to_bytes(8, "little"))
    for signature in signatures:
        digest.update(signature)
    digest.update(b"|target|" + target)
    return digest.hexdigest()[:16]
