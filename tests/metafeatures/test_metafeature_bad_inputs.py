"""Awkward data gets values (or NaN with a reason), truly unusable data a clear ValueError."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metaopt.metafeatures import extract_metafeatures, feature_names


def _check(result: pd.Series) -> pd.Series:
    assert list(result.index) == feature_names()
    assert np.all(np.isfinite(result) | np.isnan(result))
    assert set(result.attrs["nan_reasons"]) == set(result.index[result.isna()])
    return result


def _base(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(size=n)})
    return X, (X["a"].to_numpy() > 0).astype(int)


def test_constant_and_all_missing_columns() -> None:
    X, y = _base()
    X["const"] = 5.0
    X["empty"] = np.nan
    X["empty_cat"] = pd.Categorical([None] * len(X), categories=["u", "v"])
    result = _check(extract_metafeatures(X, y))
    assert result["general.n_constant"] == 3
    assert result["general.n_features_with_missing"] == 2
    # Constant/empty columns have no shape; the two real columns still give a skewness spread.
    assert np.isfinite(result["statistical.skewness.sd"])
    assert result["statistical.pca_ratio_95"] <= 1.0


def test_infinite_values_count_as_missing() -> None:
    X, y = _base()
    X.loc[:4, "a"] = np.inf
    X.loc[5, "b"] = -np.inf
    result = _check(extract_metafeatures(X, y))
    assert result["general.n_infinite_values"] == 6
    assert result["general.n_missing_values"] == 6
    assert np.isfinite(result["statistical.mean.max"])


def test_single_row() -> None:
    result = _check(extract_metafeatures(pd.DataFrame({"a": [1.0], "b": ["x"]}), ["k"]))
    assert result["general.n_instances"] == 1
    assert np.isnan(result["landmarking.one_nn"])


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_single_class_or_constant_target(task: str) -> None:
    X, _ = _base()
    y = np.zeros(len(X)) if task == "regression" else np.array(["a"] * len(X))
    result = _check(extract_metafeatures(X, y, task=task))
    assert np.isnan(result["info_theory.equivalent_n_attributes"])
    assert np.isnan(result["landmarking.one_nn"])


def test_class_with_one_member_and_string_target() -> None:
    X, y = _base()
    labels = np.where(y == 1, "pos", "neg").astype(object)
    labels[0] = "lonely"
    result = _check(extract_metafeatures(X, labels))
    assert result["general.n_classes"] == 3
    assert result["general.class_prob_min"] == pytest.approx(1 / len(X))
    assert np.isfinite(result["landmarking.one_nn"])


def test_thousands_of_categories() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    X = pd.DataFrame(
        {
            "id_like": pd.Categorical([f"c{i}" for i in rng.integers(0, 3000, n)]),
            "x": rng.normal(size=n),
        }
    )
    result = _check(extract_metafeatures(X, (X["x"] > 0).astype(int)))
    assert result["general.cat_levels.max"] > 2000
    assert np.isfinite(result["landmarking.one_nn"])


def test_boolean_and_object_columns() -> None:
    X, y = _base()
    X["flag"] = X["a"] > 1
    X["text"] = np.where(X["b"] > 0.5, "hi", "lo")
    X["nullable"] = pd.array(np.where(X["b"] > 0.2, 1, None), dtype="Int64")
    result = _check(extract_metafeatures(X, y))
    assert result["general.n_categorical"] == 1
    assert result["general.n_binary"] == 2  # flag and text; nullable has one value + missing
    assert result["general.n_missing_values"] == int(X["nullable"].isna().sum())


def test_wide_data() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 5000))
    result = _check(extract_metafeatures(X, np.array([0, 1] * 5)))
    assert result["general.n_features"] == 5000
    assert result["statistical.pca_components_95"] <= 10


def test_duplicated_rows() -> None:
    X, y = _base(60)
    X2 = pd.concat([X, X, X], ignore_index=True)
    result = _check(extract_metafeatures(X2, np.tile(y, 3)))
    assert result["general.n_instances"] == 180
    # Every test row has an identical training twin, so 1-NN is nearly perfect.
    assert result["landmarking.one_nn"] > 0.9


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (np.zeros((0, 3)), [], ValueError, "no rows"),
        (pd.DataFrame(index=range(5)), [0, 1, 0, 1, 0], ValueError, "no feature columns"),
        (np.zeros((4, 2)), [0, 1], ValueError, "4 rows but y has 2"),
        (np.zeros((3, 2)), [None, None, None], ValueError, "no non-missing"),
        (np.zeros(3), [0, 1, 0], ValueError, "2-dimensional"),
        (np.zeros((3, 2)), None, ValueError, "y is required"),
        ([[1, 2], [3, 4]], [0, 1], TypeError, "DataFrame"),
    ],
)
def test_unusable_input_raises(X: object, y: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        extract_metafeatures(X, y)


def test_degenerate_lda_fold_is_nan_with_a_reason() -> None:
    # Found by the property test: scikit-learn's LDA raises IndexError on this fold layout.
    X = pd.DataFrame({"c0": [0.0, 0.0, 0.0, 0.0, 1.0]})
    y = pd.Series(list("xxxxy"), dtype="category")
    result = extract_metafeatures(X, y, task="classification", random_state=1)
    assert np.isnan(result["landmarking.lda"])
    assert "lda could not be fitted" in result.attrs["nan_reasons"]["landmarking.lda"]


def test_time_zone_aware_dates_are_numbers_as_the_loader_makes_them() -> None:
    from metaopt.datasets import load_dataset
    from metaopt.metafeatures import describe_dataset

    X, y = _base(100)
    X["when"] = pd.date_range("2020", periods=100, freq="h", tz="Europe/Paris")
    X.loc[3, "when"] = pd.NaT
    loaded = load_dataset((X, y))
    assert loaded.X["when"].isna().sum() == 1  # NaT stays missing, not the smallest int64
    direct = _check(extract_metafeatures(X, y))
    pd.testing.assert_series_equal(
        direct, describe_dataset(loaded), check_exact=False, check_names=False
    )
