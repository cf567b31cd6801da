"""Preprocessing pipelines shared by the search spaces.

Two flavours: models that need numbers on a common scale (SVM, kNN, linear models, MLP) get
median imputation, standardisation and one-hot encoding; tree ensembles get ordinal encoding
(and imputation, except histogram gradient boosting, which handles missing values natively).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

#: One-hot encoding keeps at most this many levels per column (rarer levels share a column).
MAX_ONEHOT_LEVELS = 20


def _categorical() -> make_column_selector:
    return make_column_selector(dtype_include=["category", "object", "string"])


def _numeric() -> make_column_selector:
    return make_column_selector(dtype_exclude=["category", "object", "string"])


def scaled_pipeline(model: BaseEstimator) -> Pipeline:
    """Impute, standardise numeric columns and one-hot encode categorical ones, then ``model``."""
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
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
    numeric: BaseEstimator | str = SimpleImputer(strategy="median") if impute else "passthrough"
    columns = ColumnTransformer(
        [("numeric", numeric, _numeric()), ("categorical", ordinal, _categorical())],
        sparse_threshold=0.0,
    )
    return Pipeline([("preprocess", columns), ("model", model)])
