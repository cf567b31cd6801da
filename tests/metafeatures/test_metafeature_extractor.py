"""The extractor's contract: fixed names and order, inputs accepted, determinism, budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metaopt.datasets import Dataset
from metaopt.metafeatures import (
    GROUPS,
    REGISTRY,
    MetafeatureExtractor,
    extract_metafeatures,
    feature_names,
)


def _mixed_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.exponential(size=n),
            "flag": rng.random(n) < 0.3,
            "colour": pd.Categorical(rng.choice(["r", "g", "b"], size=n)),
        }
    )
    X.loc[rng.choice(n, 20, replace=False), "x2"] = np.nan
    y = pd.Series(np.where(X["x1"] + rng.normal(scale=0.5, size=n) > 0, "yes", "no"))
    return X, y.astype("category")


def test_names_are_unique_and_grouped_in_fixed_order() -> None:
    names = feature_names()
    assert len(names) == len(set(names))
    assert [n.split(".")[0] for n in names] == sorted(
        (n.split(".")[0] for n in names), key=GROUPS.index
    )
    assert feature_names(["model_based", "general"]) == (
        list(REGISTRY["general"]) + list(REGISTRY["model_based"])
    )
    with pytest.raises(ValueError, match="unknown metafeature group"):
        feature_names("nonsense")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_output_has_every_name_in_order_and_reasons_for_each_nan(task: str) -> None:
    X, y = _mixed_frame()
    target = y if task == "classification" else X["x1"] * 3.0 + 1.0
    result = extract_metafeatures(X, target)
    assert list(result.index) == feature_names()
    assert result.dtype == np.float64
    assert np.all(np.isfinite(result) | np.isnan(result))
    reasons = result.attrs["nan_reasons"]
    assert set(reasons) == set(result.index[result.isna()])
    assert result.attrs["task"] == task
    undefined_for_task = (
        "statistical.target_skewness" if task == "classification" else ("general.n_classes")
    )
    assert undefined_for_task in reasons


def test_values_agree_with_direct_computation() -> None:
    X, y = _mixed_frame()
    result = extract_metafeatures(X, y)
    assert result["general.n_instances"] == len(X)
    assert result["general.n_features"] == 4
    assert result["general.n_numeric"] == 3  # the boolean column counts as numeric
    assert result["general.n_categorical"] == 1
    assert result["general.n_binary"] == 1
    assert result["general.n_missing_values"] == 20
    assert result["general.n_classes"] == 2
    counts = y.value_counts(normalize=True)
    assert result["general.class_prob_max"] == pytest.approx(counts.max())
    p = counts.to_numpy()
    assert result["info_theory.class_entropy"] == pytest.approx(-(p * np.log2(p)).sum())
    skews = [
        stats.skew(X[c].dropna().astype(float))
        * ((len(X[c].dropna()) - 1) / len(X[c].dropna())) ** 1.5
        for c in ["x1", "x2", "flag"]
    ]
    assert result["statistical.skewness.max"] == pytest.approx(max(skews), rel=1e-9)
    assert result["statistical.skewness.mean"] == pytest.approx(np.mean(skews), rel=1e-9)
    one_nn = result["landmarking.one_nn"]
    majority = counts.max()
    assert 0.0 <= one_nn <= 1.0
    assert result["landmarking.tree_depth3"] > majority  # x1 predicts y well


def test_dataset_dataframe_and_array_inputs_agree() -> None:
    rng = np.random.default_rng(1)
    array = rng.normal(size=(200, 4))
    labels = (array[:, 0] > 0).astype(int)
    frame = pd.DataFrame(array, columns=list("abcd"))
    dataset = Dataset(
        X=frame,
        y=pd.Series(labels).astype("category"),
        task="classification",
        name="toy",
        source="test",
    )
    from_dataset = extract_metafeatures(dataset)
    from_frame = extract_metafeatures(frame, labels)
    from_array = extract_metafeatures(array, list(labels))
    pd.testing.assert_series_equal(from_frame, from_array, check_names=False)
    pd.testing.assert_series_equal(from_frame, from_dataset, check_names=False)
    assert from_dataset.name == "toy"


def test_deterministic_for_a_seed_and_seed_matters_for_subsamples() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, 6))
    y = (X[:, 0] + rng.normal(size=3000) > 0).astype(int)
    first = extract_metafeatures(X, y, random_state=3)
    second = extract_metafeatures(X, y, random_state=3)
    pd.testing.assert_series_equal(first, second)
    other = extract_metafeatures(X, y, random_state=4)
    # 3000 rows > the 2000-row model subsample: another seed draws other rows.
    assert not np.allclose(
        first.filter(like="landmarking").to_numpy(), other.filter(like="landmarking").to_numpy()
    )
    pd.testing.assert_series_equal(first.filter(like="general"), other.filter(like="general"))


def test_groups_subset_and_extractor_attributes() -> None:
    X, y = _mixed_frame()
    extractor = MetafeatureExtractor(groups=["info_theory", "general"]).fit(X, y)
    assert list(extractor.metafeatures_.index) == feature_names(["general", "info_theory"])
    assert set(extractor.timings_) == {"prepare", "general", "info_theory"}
    full = extract_metafeatures(X, y)
    pd.testing.assert_series_equal(
        extractor.metafeatures_, full[extractor.metafeatures_.index], check_names=False
    )


def test_budget_keeps_cheap_groups_and_marks_skipped_ones() -> None:
    X, y = _mixed_frame()
    result = extract_metafeatures(X, y, budget_s=1e-9)
    cheap = [n for n in result.index if n.split(".")[0] not in ("landmarking", "model_based")]
    expensive = result.index.difference(cheap)
    assert result[cheap].equals(extract_metafeatures(X, y)[cheap])
    assert result[expensive].isna().all()
    assert all("budget_s" in result.attrs["nan_reasons"][n] for n in expensive)


def test_rows_with_missing_target_are_dropped() -> None:
    X, y = _mixed_frame()
    y_missing = y.astype(object)
    y_missing.iloc[:10] = None
    result = extract_metafeatures(X, y_missing)
    assert result["general.n_instances"] == len(X) - 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budget_s": -1}, "budget_s"),
        ({"groups": []}, "at least one"),
        ({"task": "clustering"}, "task must be one of"),
        ({"random_state": -1}, "random_state must be in"),
    ],
)
def test_invalid_settings_raise_value_error(kwargs: dict, match: str) -> None:
    X, y = _mixed_frame(50)
    with pytest.raises(ValueError, match=match):
        extract_metafeatures(X, y, **kwargs)


def test_numeric_labels_stored_as_categories_can_be_a_regression_target() -> None:
    rng = np.random.default_rng(5)
    x = pd.Series(rng.normal(size=200), name="x")
    rings = pd.Series(np.round(x * 3 + 10).astype(int).astype(str), dtype="category")
    result = extract_metafeatures(x, rings, task="regression")  # a Series is one column
    assert result.attrs["task"] == "regression"
    assert np.isfinite(result["statistical.target_skewness"])
    assert result["landmarking.linear"] > 0.8
    with pytest.raises(ValueError, match="non-numeric"):
        extract_metafeatures(x, pd.Series(["a", "b"] * 100), task="regression")


@pytest.mark.parametrize(
    "kwargs",
    [{"max_rows_models": 5}, {"max_rows_statistics": 2.5}, {"max_columns_pairs": 1}],
)
def test_invalid_extractor_limits_raise_value_error(kwargs: dict) -> None:
    X, y = _mixed_frame(50)
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        MetafeatureExtractor(**kwargs).fit(X, y)


def test_row_caps_subsample_reproducibly() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5000, 4))
    y = (X[:, 0] + rng.normal(size=5000) > 0).astype(int)  # noisy: a deep tree
    capped = MetafeatureExtractor(max_rows_statistics=1000, max_rows_models=300).fit(X, y)
    full = MetafeatureExtractor().fit(X, y)
    a, b = capped.metafeatures_, full.metafeatures_
    assert a["general.n_instances"] == b["general.n_instances"] == 5000
    assert a["model_based.n_leaves"] < b["model_based.n_leaves"]  # tree on 300 rows, not 2000
    # A 1,000-row sample estimates the column means closely but not exactly.
    assert a["statistical.mean.mean"] != b["statistical.mean.mean"]
    assert a["statistical.mean.mean"] == pytest.approx(b["statistical.mean.mean"], abs=0.1)
    again = MetafeatureExtractor(max_rows_statistics=1000, max_rows_models=300).fit(X, y)
    pd.testing.assert_series_equal(a, again.metafeatures_)


def test_entropies_skip_missing_values_per_attribute() -> None:
    rng = np.random.default_rng(6)
    n = 400
    colour = pd.Series(rng.choice(["r", "g", "b"], size=n), dtype="category")
    y = pd.Series(np.where(colour == "r", "a", rng.choice(["a", "b"], size=n)))
    colour[rng.random(n) < 0.25] = np.nan
    other = pd.Series(rng.choice(["u", "v"], size=n), dtype="category")
    result = extract_metafeatures(pd.DataFrame({"colour": colour, "other": other}), y)

    def entropy(values: pd.Series) -> float:
        p = values.value_counts(normalize=True).to_numpy()
        return float(-(p * np.log2(p)).sum())

    observed = colour.notna()
    x, t = colour[observed].astype(str), y[observed]
    mi_colour = entropy(x) + entropy(t) - entropy(x + "|" + t)
    mi_other = entropy(other.astype(str)) + entropy(y) - entropy(other.astype(str) + "|" + y)
    assert result["info_theory.mutual_information.max"] == pytest.approx(mi_colour, rel=1e-9)
    assert result["info_theory.mutual_information.min"] == pytest.approx(mi_other, rel=1e-9)
    assert result["info_theory.attr_entropy.max"] == pytest.approx(entropy(x), rel=1e-9)


def test_any_load_dataset_source_is_accepted() -> None:
    from metaopt.datasets import load_dataset

    from_source = extract_metafeatures("sklearn:wine")
    from_dataset = extract_metafeatures(load_dataset("sklearn:wine"))
    pd.testing.assert_series_equal(from_source, from_dataset)
