"""Extending a knowledge base with one's own datasets: rerun, extend, merge, read back."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metaopt.knowledge as knowledge
from metaopt.datasets import Dataset, load_dataset
from metaopt.exceptions import FallbackWarning
from metaopt.knowledge import KnowledgeBase
from metaopt.testing import toy_knowledge

FAST = {"cv": 3, "max_rows": 60, "full_max_rows": 60, "n_jobs": 1, "progress": False}


def _frame(n: int, seed: int) -> pd.DataFrame:
    """A small classification table with a categorical column and missing values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x0": rng.normal(size=n),
            "x1": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "x1"] = np.nan
    frame["label"] = np.where(frame["x0"] + (frame["colour"] == "red") > 0.4, "yes", "no")
    return frame


def _data(n: int = 60, seed: int = 0) -> Dataset:
    return load_dataset(_frame(n, seed), target="label", name="churn")


def test_a_rerun_adding_a_space_with_its_own_count_extends_the_build(tmp_path: Path) -> None:
    options = {**FAST, "metafeatures": False, "work_dir": tmp_path}
    knowledge.build({"churn": _data()}, ["knn"], n_configs={"knn": 3}, **options)
    kb = knowledge.build(
        {"churn": _data()}, ["knn", "svm"], n_configs={"knn": 3, "svm": 2}, **options
    )
    assert kb.evaluations.groupby("space").size().to_dict() == {"knn": 3, "svm": 2}
    assert kb.provenance["settings"]["n_configs"] == {"knn": 3, "svm": 2}
    # A count that changes for a space with results is still refused.
    with pytest.raises(ValueError, match="other settings.*n_configs"):
        knowledge.build({"churn": _data()}, ["knn", "svm"], n_configs=3, **options)
    # One count for every space extends a build made with one count too.
    single = {**options, "work_dir": tmp_path / "single"}
    knowledge.build({"churn": _data()}, ["knn"], n_configs=2, **single)
    kb = knowledge.build(
        {"churn": _data()}, ["knn", "svm"], n_configs={"knn": 2, "svm": 3}, **single
    )
    assert kb.evaluations.groupby("space").size().to_dict() == {"knn": 2, "svm": 3}


def test_a_rerun_with_other_data_under_a_built_id_is_refused(tmp_path: Path) -> None:
    options = {**FAST, "metafeatures": False, "n_configs": 2, "work_dir": tmp_path}
    knowledge.build({"churn": _data(60, seed=0)}, ["knn"], **options)
    before = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    with pytest.raises(ValueError, match=r"results of dataset 'churn' made on other data"):
        knowledge.build({"churn": _data(80, seed=1)}, ["knn", "svm"], **options)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == before
    # The same data, rows shuffled, is the same dataset: the rerun extends it.
    shuffled = load_dataset(_frame(60, 0).sample(frac=1, random_state=3), target="label")
    kb = knowledge.build({"churn": shuffled}, ["knn", "svm"], **options)
    assert kb.evaluations["fingerprint"].nunique() == 1


def test_a_built_dataset_that_no_longer_loads_keeps_its_facts(tmp_path: Path) -> None:
    csv = tmp_path / "my data" / "churn.csv"
    csv.parent.mkdir()
    _frame(60, 0).to_csv(csv, index=False, lineterminator="\r\n")
    options = {**FAST, "metafeatures": False, "n_configs": 2, "work_dir": tmp_path / "work"}
    first = knowledge.build({"churn": str(csv), "copy": str(csv)}, ["knn"], **options)
    assert first.groups == {"churn": "churn", "copy": "churn"}
    csv.unlink()
    with pytest.warns(FallbackWarning, match="2 datasets could not be loaded"):
        kb = knowledge.build({"churn": str(csv), "copy": str(csv)}, ["knn", "svm"], **options)
    assert kb.provenance["datasets"]["churn"]["n_rows"] == 60
    assert "skipped" not in kb.provenance["datasets"]["churn"]
    assert kb.groups == first.groups
    assert kb.evaluations.groupby("space").size().to_dict() == {"knn": 4}


def test_a_skipped_dataset_is_a_warning_not_only_a_log_line(tmp_path: Path) -> None:
    csv = tmp_path / "houses.csv"
    _frame(60, 0).rename(columns={"label": "price"}).to_csv(csv, index=False)
    with pytest.warns(FallbackWarning, match=r"'houses': ValueError: .*names no target column"):
        kb = knowledge.build(
            {"houses": str(csv), "churn": _data()},
            ["knn"],
            n_configs=2,
            metafeatures=False,
            work_dir=tmp_path / "work",
            **FAST,
        )
    assert kb.datasets == ["churn"]


def test_home_folder_paths_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    options = {**FAST, "metafeatures": False, "n_configs": 2}
    knowledge.build({"churn": _data()}, ["knn"], work_dir="~/kb work", output="~/kb", **options)
    assert (tmp_path / "kb work" / "build.json").is_file()
    assert not (tmp_path / "~").exists()
    assert len(KnowledgeBase.read("~/kb")) == 2
    assert len(knowledge.consolidate("~/kb work")) == 2


def test_consolidate_saves_a_build_without_metafeatures(tmp_path: Path) -> None:
    options = {**FAST, "metafeatures": False, "n_configs": 2, "work_dir": tmp_path / "work"}
    knowledge.build({"churn": _data()}, ["knn"], **options)
    knowledge.consolidate(tmp_path / "work", output=tmp_path / "kb")
    assert knowledge.load(tmp_path / "kb").metafeatures.empty


def test_a_failure_record_goes_once_the_unit_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metaopt.knowledge import _builder

    real = _builder._evaluate_unit

    def broken(*args: object, **kwargs: object) -> pd.DataFrame:
        raise MemoryError("out of memory")

    options = {**FAST, "metafeatures": False, "n_configs": 2, "work_dir": tmp_path}
    monkeypatch.setattr(_builder, "_evaluate_unit", broken)
    with pytest.warns(FallbackWarning, match="units failed as a whole"):
        knowledge.build({"churn": _data()}, ["knn"], **options)
    assert list((tmp_path / "parts" / "unit_failures").glob("*.json"))
    monkeypatch.setattr(_builder, "_evaluate_unit", real)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        kb = knowledge.build({"churn": _data()}, ["knn"], **options)
    assert len(kb) == 2
    assert not list((tmp_path / "parts" / "unit_failures").glob("*.json"))


def _toy(prefix: str, *, seed: int = 0) -> KnowledgeBase:
    evaluations, metafeatures = toy_knowledge(n_datasets=3, n_configs=4, seed=seed)
    rename = {d: f"{prefix}:{d.split(':')[1]}" for d in metafeatures.index}
    evaluations["dataset"] = evaluations["dataset"].map(rename)
    evaluations["fingerprint"] = evaluations["dataset"]
    metafeatures.index = metafeatures.index.map(rename).rename("dataset")
    return KnowledgeBase(evaluations, metafeatures, {"schema_version": knowledge.SCHEMA_VERSION})


def test_concat_refuses_one_id_for_other_data() -> None:
    mine = _toy("mine")
    other = _toy("mine", seed=1)
    other.evaluations["space"] = "toy2"  # other rows: only the data behind the ids differs
    other.evaluations["fingerprint"] = other.evaluations["fingerprint"] + "-v2"
    with pytest.raises(ValueError, match=r"3 dataset ids name other data.*'mine:0'"):
        mine.concat(other)
    same = _toy("mine", seed=1)
    same.evaluations["space"] = "toy2"
    assert len(mine.concat(same).datasets) == 3


def test_concat_warns_when_the_metafeatures_differ(tmp_path: Path) -> None:
    mine = _toy("mine")
    theirs = _toy("theirs")
    theirs.metafeatures = theirs.metafeatures.drop(columns=["mf_noise"])
    with pytest.warns(FallbackWarning, match=r"1 metafeatures of the first \(e.g. \['mf_noise'\]"):
        both = mine.concat(theirs)
    assert (
        both.metafeatures.loc["theirs:0", "mf_noise"]
        != both.metafeatures.loc["theirs:0", "mf_noise"]
    )
    assert list(both.metafeatures.columns) == list(mine.metafeatures.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        reordered = _toy("other")
        reordered.metafeatures = reordered.metafeatures[reordered.metafeatures.columns[::-1]]
        mine.concat(reordered)  # the same metafeatures in another order: nothing to say
    both.save(tmp_path / "kb")
    back = knowledge.load(tmp_path / "kb")
    pd.testing.assert_frame_equal(back.metafeatures, both.metafeatures)
    assert json.loads((tmp_path / "kb" / "provenance.json").read_text())["schema_version"] == 2
