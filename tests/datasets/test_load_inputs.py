"""load_dataset on in-memory inputs, and the clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import metaopt
from metaopt.datasets import Dataset, load_dataset


def test_numpy_pair_becomes_numeric_frame_and_guessed_task() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = rng.integers(0, 3, size=30)
    dataset = load_dataset((X, y))
    assert isinstance(dataset, Dataset)
    assert dataset.shape == (30, 3)
    assert dataset.task == "classification"
    assert dataset.n_classes == len(np.unique(y))
    assert list(dataset.X.columns) == ["x0", "x1", "x2"]
    np.testing.assert_allclose(dataset.X.to_numpy(), X)


def test_float_target_is_regression() -> None:
    rng = np.random.default_rng(1)
    dataset = load_dataset((rng.normal(size=(20, 2)), rng.normal(size=20)))
    assert dataset.task == "regression"
    assert dataset.y.dtype == float
    assert dataset.n_classes is None


def test_dataframe_with_target_keeps_categoricals_and_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "num": [1.0, np.nan, 3.0, 4.0],
            "colour": ["red", "blue", None, "red"],
            "flag": [True, False, True, False],
            "label": ["a", "b", "a", "b"],
        }
    )
    dataset = load_dataset(frame, target="label")
    assert dataset.categorical_columns == ["colour"]
    assert set(dataset.numeric_columns) == {"num", "flag"}
    assert dataset.X["num"].isna().sum() == 1
    assert dataset.X["colour"].isna().sum() == 1
    assert dataset.X["flag"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert dataset.task == "classification"
    assert "label" not in dataset.X.columns
    # Nullable numbers become float64 with NaN, like every numeric column.
    frame["nullable"] = pd.array([1.5, None, 2.5, 3.5], dtype="Float64")
    frame["counts"] = pd.array([1, 2, None, 4], dtype="Int64")
    dataset = load_dataset(frame, target="label")
    assert dataset.X["nullable"].dtype == np.float64 and dataset.X["counts"].dtype == np.float64
    assert dataset.X["nullable"].isna().sum() == 1 and dataset.X["counts"].isna().sum() == 1


def test_rows_with_missing_target_are_dropped() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "t": [0.5, None, 1.5, 2.5]})
    dataset = load_dataset(frame, target="t", task="regression")
    assert len(dataset.y) == 3
    assert dataset.X["a"].tolist() == [1.0, 3.0, 4.0]


def test_task_override_and_name() -> None:
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.arange(10) % 2
    dataset = load_dataset((X, y), task="regression", name="toy")
    assert dataset.task == "regression"
    assert dataset.name == "toy"


def test_sklearn_sources() -> None:
    iris = metaopt.load_dataset("sklearn:iris")
    assert (iris.shape, iris.task, iris.n_classes) == ((150, 4), "classification", 3)
    diabetes = load_dataset("sklearn:diabetes")
    assert diabetes.task == "regression"
    assert diabetes.shape == (442, 10)


def test_dataset_passes_through() -> None:
    iris = load_dataset("sklearn:iris")
    assert load_dataset(iris) is iris
    with pytest.raises(ValueError, match="a Dataset already has its target"):
        load_dataset(iris, target="petal length (cm)")


def test_file_errors_name_the_file_and_paths_expand_home(tmp_path, monkeypatch) -> None:
    (tmp_path / "single.csv").write_text("a,b,class\n1,2,0\n3,4,0\n")
    with pytest.raises(ValueError, match=r"single\.csv': the target has a single value"):
        load_dataset(str(tmp_path / "single.csv"))
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ValueError, match="it is a folder, not a data file"):
        load_dataset(str(tmp_path / "folder.csv"))
    (tmp_path / "semicolons.csv").write_text("a;class\n1;0\n2;1\n")
    assert load_dataset(str(tmp_path / "semicolons.csv")).shape == (2, 1)  # ';' detected
    (tmp_path / "ok.csv").write_text("a,class\n1,0\n2,1\n3,0\n4,1\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_dataset("~/ok.csv").shape == (4, 1)


def test_fingerprint_ignores_names_and_column_and_row_order() -> None:
    wine = load_dataset("sklearn:wine")
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(wine.y))
    columns = list(reversed(wine.X.columns))
    shuffled = wine.X.iloc[rows][columns].reset_index(drop=True)
    shuffled.columns = [f"renamed_{i}" for i in range(shuffled.shape[1])]
    relabelled = wine.y.iloc[rows].reset_index(drop=True).map({0: "a", 1: "b", 2: "c"})
    twin = load_dataset((shuffled, relabelled))
    assert twin.fingerprint == wine.fingerprint
    altered = shuffled.copy()
    altered.iloc[0, 0] += 1.0
    assert load_dataset((altered, relabelled)).fingerprint != wine.fingerprint


@pytest.mark.parametrize(
    ("source", "kwargs", "error", "message"),
    [
        ((np.zeros((3, 2)), np.zeros(4)), {}, ValueError, "same number of rows"),
        ((np.zeros((0, 2)), np.zeros(0)), {}, ValueError, "empty"),
        ((np.zeros((5, 0)), np.arange(5)), {}, ValueError, "no feature columns"),
        ((np.zeros((5, 2)), np.ones(5)), {}, ValueError, "single value"),
        ((np.zeros((2, 2, 2)), np.ones(2)), {}, ValueError, "2-dimensional"),
        (
            (np.zeros((4, 2)), np.array(["a", "b", "c", "d"])),
            {"task": "regression"},
            ValueError,
            "must be numeric",
        ),
        ((np.zeros((4, 2)), np.arange(4)), {"task": "ranking"}, ValueError, "task must be one of"),
        ((np.zeros((3, 2)), np.arange(3), 1), {}, ValueError, "must be \\(X, y\\)"),
        (pd.DataFrame({"a": [1, 2]}), {}, ValueError, "needs target="),
        (
            pd.DataFrame({"a": [1, 2], "b": [0, 1]}),
            {"target": "missing"},
            ValueError,
            "'missing' does not exist",
        ),
        ("openml:abc", {}, ValueError, "integer id"),
        ("sklearn:mnist", {}, ValueError, "unknown scikit-learn dataset"),
        ("kaggle:titanic", {}, ValueError, "unknown dataset source"),
        ("no/such/file.csv", {}, ValueError, "no such file"),
        (42, {}, TypeError, "cannot load a dataset from int"),
        (({"a": 1}, [1]), {}, TypeError, "X must be"),
    ],
)
def test_bad_input_gets_a_clear_error(
    source: object, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        load_dataset(source, **kwargs)
