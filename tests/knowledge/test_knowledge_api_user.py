"""The knowledge-base API as a user meets it: selections, reading, studies."""

from __future__ import annotations

import optuna
import pytest

from metaopt import knowledge


def _study(name: str, metafeatures: dict, storage=None) -> optuna.Study:
    study = optuna.create_study(study_name=name, storage=storage)
    study.set_user_attr("metaopt:metafeatures", metafeatures)
    study.set_user_attr("metaopt:task", "classification")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    return study


@pytest.fixture(scope="module")
def kb() -> knowledge.KnowledgeBase:
    studies = [_study(n, {"general.n_instances": float(i)}) for i, n in enumerate("abc")]
    return knowledge.from_studies(None, studies)


def test_subset_of_an_unknown_dataset_names_the_known_ones(kb) -> None:
    with pytest.raises(ValueError, match=r"unknown datasets \['study:d'\].*did you mean") as info:
        kb.subset(["study:a", "study:d"])
    assert "holds 3 datasets" in str(info.value) and "'study:b'" in str(info.value)
    assert kb.subset(["study:a"]).datasets == ["study:a"]


def test_reading_a_file_instead_of_a_directory_says_so(kb, tmp_path) -> None:
    kb.save(tmp_path / "kb")
    with pytest.raises(ValueError, match="not a directory"):
        knowledge.load(tmp_path / "kb" / "provenance.json")


def test_unknown_study_name_lists_the_studies_of_the_storage(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    _study("mine", {"general.n_instances": 1.0}, storage=url)
    with pytest.raises(ValueError, match=r"did you mean \[.mine.\]\?\); it holds the studies"):
        knowledge.from_studies(url, "mien")


@pytest.mark.parametrize(
    ("storage", "names", "match"),
    [
        (None, 5, "study_names must be a study name"),
        (None, [3], "study_names must hold study names"),
        (5, "x", "storage must be an Optuna storage"),
    ],
)
def test_from_studies_wrong_types_raise_type_error(storage, names, match) -> None:
    with pytest.raises(TypeError, match=match):
        knowledge.from_studies(storage, names)


def test_non_numeric_metafeatures_name_the_study_and_the_values() -> None:
    study = _study("words", {"general.n_instances": "many"})
    with pytest.raises(ValueError, match=r"study 'words'.*'general.n_instances': 'many'"):
        knowledge.from_studies(None, study)
    numeric = _study("numbers", {"general.n_instances": "150", "other": None})
    assert knowledge.from_studies(None, numeric).metafeatures.iloc[0, 0] == 150.0
