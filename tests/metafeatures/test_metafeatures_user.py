"""Inputs a user of the metafeature extractor hits: huge values, settings and column types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metaopt.metafeatures import MetafeatureExtractor, extract_metafeatures, feature_names


def _iris_like(n: int = 150, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(loc=[5.0, 3.0, 4.0, 1.0], size=(n, 4)), columns=list("abcd"))
    return X, np.arange(n) % 3


def test_huge_values_give_finite_summaries() -> None:
    X, y = _iris_like()
    scaled = X.copy()
    scaled["a"] *= 1e6
    huge = X.copy()
    huge["a"] *= 1e306
    groups = ["statistical"]
    reference = extract_metafeatures(scaled, y, groups=groups)
    result = extract_metafeatures(huge, y, groups=groups)
    for name in ("statistical.mean.sd", "statistical.sd.sd", "statistical.abs_covariance.sd"):
        assert np.isfinite(result[name]), result.attrs["nan_reasons"].get(name)
        # The huge column dominates both summaries (the others are ~1e-6 of it at 1e6).
        assert result[name] / 1e300 == pytest.approx(reference[name], rel=1e-4)


def test_summary_mean_of_columns_near_the_float_limit() -> None:
    _, y = _iris_like()
    X = pd.DataFrame({"a": np.full(150, 1.5e308), "b": np.full(150, 1.6e308)})
    X.iloc[::2] *= 0.99
    result = extract_metafeatures(X, y, groups=["statistical"])
    assert result["statistical.mean.mean"] == pytest.approx(0.995 * 1.55e308, rel=1e-6)
    assert np.isfinite(result["statistical.mean.median"])


@pytest.mark.parametrize("groups", [5, 2.5, object()])
def test_groups_of_a_wrong_type_raise_a_clear_type_error(groups: object) -> None:
    X, y = _iris_like()
    with pytest.raises(TypeError, match="groups must be a group name.*got"):
        extract_metafeatures(X, y, groups=groups)  # type: ignore[arg-type]


@pytest.mark.parametrize("budget_s", [True, np.bool_(True)])
def test_boolean_budget_is_rejected(budget_s: object) -> None:
    X, y = _iris_like()
    with pytest.raises(ValueError, match="budget_s must be a positive number"):
        MetafeatureExtractor(budget_s=budget_s).fit(X, y)  # type: ignore[arg-type]


def test_numpy_number_budget_is_accepted() -> None:
    X, y = _iris_like()
    result = MetafeatureExtractor(["general"], budget_s=np.float32(30.0)).extract(X, y)
    assert list(result.index) == feature_names("general")


def test_complex_columns_raise_a_type_error() -> None:
    X, y = _iris_like()
    X["z"] = X["a"] * (1 + 1j)
    with pytest.raises(TypeError, match=r"complex-valued column\(s\) \['z'\]"):
        extract_metafeatures(X, y)
    with pytest.raises(TypeError, match="complex-valued"):
        extract_metafeatures(X.to_numpy(), y)


def test_at_rows_gives_the_size_counts_of_a_subsample() -> None:
    from metaopt.metafeatures import at_rows

    X, y = _iris_like(n=300)
    whole = extract_metafeatures(X, y, groups=["general"])
    half = extract_metafeatures(X.iloc[:120], y[:120], groups=["general"])
    sized = at_rows(whole, 120)
    counts = [
        "general.n_instances",
        "general.log_n_instances",
        "general.dimensionality",
        "general.log_dimensionality",
    ]
    np.testing.assert_allclose(sized[counts].to_numpy(float), half[counts].to_numpy(float))
    unchanged = [n for n in whole.index if n not in counts]
    pd.testing.assert_series_equal(sized[unchanged], whole[unchanged])
    assert whole["general.n_instances"] == 300.0  # the original is untouched
    with pytest.raises(ValueError, match="n_rows must be a positive number, got 0"):
        at_rows(whole, 0)
