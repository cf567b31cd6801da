"""Preprocessing pipelines shared by the search spaces.

Two flavours: models that need numbers on a common scale (SVM, kNN, linear models, MLP) get
median imputation, standardisation and one-hot encoding; tree ensembles get ordinal encoding
(and imputation, except histogram gradient boosting, which handles missing values natively).
Both drop numeric columns without a single observed value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

#: One-hot encoding keeps at most this many levels per column (rarer levels share a column).
MAX_ONEHOT_LEVELS = 20


class DropMissingColumns(TransformerMixin, BaseEstimator):
    """Drops the numeric columns that have no observed value when fitted.

    No model learns from such a column, and histogram gradient boosting cannot even bin one
    (scikit-learn raises); the imputers would drop it too, with a warning. Infinite values
    count as missing (``NaN``), which the imputers and gradient boosting handle, where
    scikit-learn's models reject them.

    Example:
        >>> import numpy as np
        >>> DropMissingColumns().fit_transform(np.array([[1.0, np.nan], [2.0, np.nan]]))
        array([[1.],
               [2.]])
    """

    def fit(self, X: object, y: object = None) -> DropMissingColumns:
        values = _as_float(X)
        self.n_features_in_ = values.shape[1]
        self.keep_ = np.isfinite(values).any(axis=0)
        return self

    def transform(self, X: object) -> np.ndarray:
        values = _as_float(X)[:, self.keep_]  # a copy: X is not changed
        values[np.isinf(values)] = np.nan
        return values


def _as_float(X: object) -> np.ndarray:
    """``X`` as a float array; pandas' missing value ``pd.NA`` (nullable dtypes) becomes NaN."""
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(X, dtype=float)


def _categorical() -> make_column_selector:
    return make_column_selector(dtype_include=["category", "object", "string"])


def _numeric() -> make_column_selector:
    return make_column_selector(dtype_exclude=["category", "object", "string"])


def scaled_pipeline(model: BaseEstimator) -> Pipeline:
    """Impute, standardise numeric columns and one-hot encode categorical ones, then ``model``."""
    numeric = make_pipeline(
        DropMissingColumns(), SimpleImputer(strategy="median"), StandardScaler()
    )
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=MAX_ONEHOT_LEVELS,
            sparse_output=False,
        ),
    )
    columns = ColumnTransformer(
        [("numeric", numeric, _numeric()), ("categorical", categorical, _categorical())],
        sparse_threshold=0.0,
    )
    return Pipeline([("preprocess", columns), ("model", model)])


def tree_pipeline(model: BaseEstimator, *, impute: bool = True) -> Pipeline:
    """Ordinal-encode categorical columns (unknown or missing level -> -1), then ``model``.

    With ``impute=False`` missing numeric values stay ``NaN`` for models that handle them.
    """
    ordinal = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=-1,
        encoded_missing_value=-1,
        dtype=np.float64,
    )
    numeric = (
        make_pipeline(DropMissingColumns(), SimpleImputer(strategy="median"))
        if impute
        else DropMissingColumns()
    )
    columns = ColumnTransformer(
        [("numeric", numeric, _numeric()), ("categorical", ordinal, _categorical())],
        sparse_threshold=0.0,
    )
    return Pipeline([("preprocess", columns), ("model", model)])
