"""Property-based: random small mixed frames always give the full, finite-or-NaN vector."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaopt.metafeatures import extract_metafeatures, feature_names

NAMES = feature_names()

_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-1e3, max_value=1e3),
)


@st.composite
def mixed_frames(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Series, str]:
    n = draw(st.integers(min_value=1, max_value=40))
    n_cols = draw(st.integers(min_value=1, max_value=6))
    columns: dict[str, object] = {}
    for j in range(n_cols):
        kind = draw(st.sampled_from(["float", "int", "bool", "category", "string"]))
        if kind == "float":
            values = draw(st.lists(_floats, min_size=n, max_size=n))
            columns[f"c{j}"] = np.array(values, dtype=float)
        elif kind == "int":
            columns[f"c{j}"] = np.array(
                draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), dtype=np.int64
            )
        elif kind == "bool":
            columns[f"c{j}"] = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        else:
            levels = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))
            values = draw(st.lists(levels, min_size=n, max_size=n))
            columns[f"c{j}"] = (
                pd.Categorical(values) if kind == "category" else pd.Series(values, dtype=object)
            )
    task = draw(st.sampled_from(["classification", "regression"]))
    if task == "classification":
        labels = draw(st.lists(st.sampled_from(["x", "y", "z"]), min_size=n, max_size=n))
        y = pd.Series(labels, dtype="category")
    else:
        y = pd.Series(draw(st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n)))
    return pd.DataFrame(columns), y, task


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mixed_frames())
def test_any_small_mixed_frame_gives_full_finite_or_nan_vector(
    case: tuple[pd.DataFrame, pd.Series, str],
) -> None:
    X, y, task = case
    result = extract_metafeatures(X, y, task=task, random_state=1)
    assert list(result.index) == NAMES
    values = result.to_numpy()
    assert np.all(np.isfinite(values) | np.isnan(values))
    assert set(result.attrs["nan_reasons"]) == set(result.index[result.isna()])
    assert result["general.n_instances"] == len(X)
    assert result["general.n_features"] == X.shape[1]
    assert 0.0 <= result["general.ratio_missing_values"] <= 1.0
    again = extract_metafeatures(X, y, task=task, random_state=1)
    pd.testing.assert_series_equal(result, again)
