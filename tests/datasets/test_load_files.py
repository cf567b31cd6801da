"""load_dataset on files: every format, real shared data, and unreadable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaopt.datasets import load_dataset

# Files of the shared OpenML mirror that cannot be loaded, and why (both are real defects of
# the files as served, so the loader must say so clearly rather than load something wrong).
KNOWN_BAD_ARFF = {
    "310-mammography.arff": "cannot read",  # truncated in the middle of its last row
    "470-profb.arff": "single value",  # default target 'Overtime' has one value, rest missing
}


@pytest.fixture()
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=40),
            "b": rng.choice(["x", "y", "z"], size=40),
            "target": rng.integers(0, 2, size=40),
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".tsv.gz", ".parquet"])
def test_tabular_formats_round_trip(tmp_path: Path, frame: pd.DataFrame, suffix: str) -> None:
    path = tmp_path / f"toy{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="," if suffix == ".csv" else "\t", index=False)
    dataset = load_dataset(path)
    assert dataset.name == "toy"
    assert dataset.shape == (40, 2)
    assert dataset.categorical_columns == ["b"]
    assert dataset.task == "classification"
    np.testing.assert_allclose(dataset.X["a"], frame["a"])
    assert load_dataset(str(path), target="a").task == "regression"


def test_arff_nominals_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "toy.arff"
    path.write_text(
        "@relation toy\n@attribute size NUMERIC\n@attribute colour {red,blue}\n"
        "@attribute class {yes,no}\n@data\n1.5,red,yes\n?,blue,no\n2.5,?,yes\n3.0,red,no\n"
    )
    dataset = load_dataset(path)
    assert dataset.categorical_columns == ["colour"]
    assert dataset.X["size"].isna().sum() == 1
    assert dataset.X["colour"].isna().sum() == 1
    assert sorted(dataset.y.cat.categories) == ["no", "yes"]


def test_unreadable_and_unsupported_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.arff"
    broken.write_text("@relation x\n@attribute a NUMERIC\n@data\nnot-a-number,,\n")
    with pytest.raises(ValueError, match="cannot read .*broken.arff"):
        load_dataset(broken)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="cannot read .*empty.csv"):
        load_dataset(empty)
    notarget = tmp_path / "notarget.csv"
    notarget.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(ValueError, match="names no target column"):
        load_dataset(notarget)
    with pytest.raises(ValueError, match="unsupported file type"):
        load_dataset(tmp_path / "data.xlsx")


@pytest.mark.shared
def test_every_shared_openml_arff_loads(openml_arff_dir: Path) -> None:
    index = pd.read_csv(openml_arff_dir / "index.csv")
    loaded = 0
    for row in index.to_dict("records"):
        path = openml_arff_dir / row["file"]
        if row["file"] in KNOWN_BAD_ARFF:
            with pytest.raises(ValueError, match=KNOWN_BAD_ARFF[row["file"]]):
                load_dataset(path, target=row["target"])
            continue
        dataset = load_dataset(path, target=row["target"])
        assert dataset.shape[0] <= row["rows"]
        assert dataset.shape[1] == row["features"] - 1 or dataset.shape[1] == row["features"]
        if dataset.task == "classification":
            assert dataset.n_classes <= row["n_classes"]
        loaded += 1
    assert loaded == len(index) - len(KNOWN_BAD_ARFF)


@pytest.mark.shared
def test_sample_of_pmlb_files_loads_with_the_index_task(pmlb_dir: Path) -> None:
    index = pd.read_csv(pmlb_dir / "index.csv")
    sample = index.sample(n=25, random_state=0)
    for row in sample.to_dict("records"):
        dataset = load_dataset(pmlb_dir / row["file"], task=row["task"])
        # PMLB counts the target among its "features".
        assert dataset.shape == (int(row["rows"]), int(row["features"]) - 1)
        assert dataset.task == row["task"]
        assert dataset.y.name == "target"
