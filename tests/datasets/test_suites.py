"""Suites: the shipped OpenML-CC18 list and local folders deduplicated by content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaopt.datasets import suite


@pytest.fixture(autouse=True)
def _private_fingerprint_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_cc18_is_shipped_and_resolves_offline(shared_dir: Path) -> None:
    cc18 = suite("OpenML-CC18")
    assert len(cc18) == 72
    assert suite("cc18").entries == cc18.entries == suite("99").entries
    reference = pd.read_csv(shared_dir / "suites" / "openml-cc18.tsv", sep="\t")
    # The shared list has the right task ids, dataset ids and names, but its task-id column is
    # sorted on its own, so it pairs tasks with the wrong datasets from task 43 on; the shipped
    # list keeps OpenML's pairing.
    assert sorted(cc18.task_ids) == sorted(reference["task_id"])
    assert sorted(cc18.dataset_ids) == sorted(reference["dataset_id"])
    names = dict(zip(reference["dataset_id"], reference["name"], strict=True))
    assert all(names[e.dataset_id] == e.name for e in cc18)
    pairs = {e.task_id: e.dataset_id for e in cc18}
    assert pairs[43] == 44  # spambase
    assert pairs[3021] == 38  # sick
    assert pairs[7592] == 1590  # adult


def test_unknown_suite_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown suite 'no-such-suite'.*shipped"):
        suite("no-such-suite")
    with pytest.raises(TypeError, match="suite name, a folder"):
        suite(3.5)  # type: ignore[arg-type]


def test_unknown_suite_without_openml_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "openml", None)  # as if not installed
    with pytest.raises(ValueError, match=r"unknown suite 'x'.*metaopt-hpo\[openml\]") as info:
        suite("x")
    assert isinstance(info.value.__cause__, ImportError)


def test_local_folder_deduplicates_renamed_copies(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    frame["target"] = rng.integers(0, 2, size=50)
    folder = tmp_path / "data"
    folder.mkdir()
    frame.to_csv(folder / "original.csv", index=False)
    shuffled = frame.sample(frac=1.0, random_state=1)[["target", "b", "a"]]
    shuffled.rename(columns={"a": "first"}).to_csv(folder / "copy.tsv", sep="\t", index=False)
    other = frame.assign(a=rng.normal(size=50), b=rng.normal(size=50))
    other.to_parquet(folder / "other.parquet")
    local = suite(folder, progress=False)
    assert sorted(e.name for e in local) == ["copy", "other"]
    assert local.duplicates == ((str(folder / "original.csv"), str(folder / "copy.tsv")),)
    assert {d.name for d in local.datasets(progress=False)} == {"copy", "other"}


def test_local_folder_deduplicates_recoded_subsets(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "length": np.round(rng.gamma(2.0, 3.0, size=n), 3),
            "colour": rng.choice(["red", "green", "blue", "grey"], size=n, p=[0.4, 0.3, 0.2, 0.1]),
            "width": np.round(rng.normal(5, 2, size=n), 2),
            "depth": np.round(rng.uniform(0, 50, size=n), 2),
            "weight": np.round(rng.lognormal(3, 0.5, size=n), 2),
            "age": rng.integers(18, 90, size=n),
            "class": rng.choice(["yes", "no", "maybe"], size=n, p=[0.5, 0.35, 0.15]),
        }
    )
    folder = tmp_path / "data"
    folder.mkdir()
    frame.to_csv(folder / "a_original.csv", index=False)
    # A PMLB-style copy: integer-coded categories, renamed columns, the rarest class dropped.
    copy = frame[frame["class"] != "maybe"].sample(frac=1.0, random_state=2)
    copy = copy.assign(
        colour=copy["colour"].astype("category").cat.codes,
        target=copy.pop("class").astype("category").cat.codes,
    ).rename(columns={"length": "f0", "width": "f1", "colour": "f2"})
    copy.to_csv(folder / "b_copy.tsv", sep="\t", index=False)
    other = frame.assign(length=np.round(rng.gamma(2.0, 3.0, size=n), 3))
    other.assign(width=np.round(rng.normal(5, 2, size=n), 2)).to_csv(
        folder / "c_other.csv", index=False
    )
    local = suite(folder, progress=False)
    assert [e.name for e in local] == ["a_original", "c_other"]
    assert local.duplicates == ((str(folder / "b_copy.tsv"), str(folder / "a_original.csv")),)


@pytest.mark.shared
@pytest.mark.slow
def test_shared_openml_and_pmlb_folders_deduplicate(openml_arff_dir: Path, pmlb_dir: Path) -> None:
    combined = suite([openml_arff_dir, pmlb_dir], progress=False)
    sources = {e.source for e in combined}
    dropped = dict(combined.duplicates)
    # PMLB re-exports of OpenML datasets are recognised by content, the OpenML copy kept.
    assert dropped[str(pmlb_dir / "letter.tsv.gz")] == str(openml_arff_dir / "6-letter.arff")
    assert dropped[str(pmlb_dir / "credit_g.tsv.gz")] == str(openml_arff_dir / "31-credit-g.arff")
    assert str(pmlb_dir / "letter.tsv.gz") not in sources
    fingerprints = [e.fingerprint for e in combined]
    assert len(fingerprints) == len(set(fingerprints))
    ids = [e.dataset_id for e in combined if e.dataset_id is not None]
    assert len(ids) == len(set(ids))
    assert sum(e.task == "classification" for e in combined) >= 150
