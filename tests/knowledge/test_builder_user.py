"""metaopt.knowledge.build on a user's own datasets, spaces and settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from optuna.distributions import FloatDistribution
from sklearn.linear_model import RidgeClassifier

import metaopt.datasets
import metaopt.knowledge as knowledge
from metaopt import spaces
from metaopt.knowledge import _builder
from metaopt.spaces import SearchSpace, scaled_pipeline

FAST = {"n_configs": 2, "cv": 3, "metafeatures": False, "progress": False, "n_jobs": 1}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"max_rows": 0}, "max_rows must be a positive int or None; got 0"),
        ({"max_rows": "500"}, "max_rows must be a positive int or None"),
        ({"full_max_rows": 0}, "full_max_rows must be a positive int or None"),
        ({"max_rows": 500, "full_max_rows": 100}, r"full_max_rows \(100\) must be at least"),
        ({"base_n_trees": 0}, "base_n_trees must be a positive int; got 0"),
        ({"n_full_best": -1}, "n_full_best must be a non-negative int"),
        ({"n_full_random": -1}, "n_full_random must be a non-negative int"),
        ({"complete_full": ["forest"]}, r"complete_full names unknown spaces \['forest'\]"),
        ({"seed": -1}, "seed must be a non-negative int"),
        ({"timeout": -5}, "timeout must be a positive number of seconds"),
        ({"timeout": 0}, "timeout must be a positive number of seconds"),
        ({"budget_s": -1}, "budget_s must be a number of seconds >= 0"),
        ({"metric": {"classif": "accuracy"}}, r"unknown tasks \['classif'\]"),
    ],
)
def test_an_invalid_setting_raises_before_anything_is_written(
    setting: dict, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=message):
        knowledge.build(["sklearn:iris"], ["random_forest"], work_dir=tmp_path, **FAST, **setting)
    assert not (tmp_path / "build.json").exists()
    assert not (tmp_path / "parts").exists()


def test_metric_as_a_string_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="metric maps each task to its metric"):
        knowledge.build(["sklearn:iris"], ["knn"], work_dir=tmp_path, metric="accuracy", **FAST)
    assert not (tmp_path / "build.json").exists()


def test_a_probability_metric_for_svm_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'roc_auc' needs class probabilities.*'svm'"):
        knowledge.build(
            ["sklearn:iris"],
            ["knn", "svm"],
            work_dir=tmp_path,
            metric={"classification": "roc_auc"},
            **FAST,
        )
    assert not (tmp_path / "build.json").exists()
    kb = knowledge.build(
        ["sklearn:iris"],
        ["knn"],
        work_dir=tmp_path / "knn",
        metric={"classification": "roc_auc"},
        **FAST,
    )
    assert (kb.evaluations["metric"] == "roc_auc").all() and (
        kb.evaluations["status"] == "ok"
    ).all()


def test_a_numpy_int_cv_is_accepted_and_recorded_as_an_int(tmp_path: Path) -> None:
    kb = knowledge.build(
        ["sklearn:iris"], ["knn"], work_dir=tmp_path, **{**FAST, "cv": np.int64(3)}
    )
    assert kb.provenance["settings"]["cv"] == 3
    assert kb.evaluations["fold_scores"].map(len).eq(3).all()


def test_mapping_values_are_loaded_like_list_items(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.where(X[:, 0] > 0, "yes", "no")
    kb = knowledge.build(
        {"iris": "sklearn:iris", "mine": (X, y)}, ["svm"], work_dir=tmp_path, **FAST
    )
    assert kb.datasets == ["iris", "mine"]
    assert kb.provenance["datasets"]["mine"]["n_rows"] == 40
    assert (kb.evaluations["status"] == "ok").all()


def test_a_dataframe_or_pair_without_an_id_gets_a_clear_error(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(30.0), "label": ["x", "y", "z"] * 10})
    with pytest.raises(TypeError, match=r"load_dataset\(frame, target="):
        knowledge.build({"mine": frame}, ["knn"], work_dir=tmp_path / "a", **FAST)
    with pytest.raises(TypeError, match=r"load_dataset\(frame, target="):
        knowledge.build([frame], ["knn"], work_dir=tmp_path / "b", **FAST)
    with pytest.raises(TypeError, match=r"pass a mapping such as \{'my-data': \(X, y\)\}"):
        knowledge.build([(frame[["a"]], frame["label"])], ["knn"], work_dir=tmp_path / "c", **FAST)


def test_a_source_whose_loading_raises_anything_is_recorded_as_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = metaopt.datasets.load_dataset

    def load(source: object, **kwargs: object) -> object:
        if source == "sklearn:wine":
            raise RuntimeError("the server went away")
        return real(source, **kwargs)

    monkeypatch.setattr(metaopt.datasets, "load_dataset", load)
    kb = knowledge.build(["sklearn:iris", "sklearn:wine"], ["knn"], work_dir=tmp_path, **FAST)
    assert kb.datasets == ["sklearn:iris"]
    skipped = kb.provenance["datasets"]["sklearn:wine"]["skipped"]
    assert skipped == "RuntimeError: the server went away"


def test_a_space_named_twice_is_evaluated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = _builder._evaluate_unit

    def counted(dataset_key: str, *args: object, **kwargs: object) -> pd.DataFrame:
        calls.append(dataset_key)
        return real(dataset_key, *args, **kwargs)

    monkeypatch.setattr(_builder, "_evaluate_unit", counted)
    kb = knowledge.build(["sklearn:iris"], ["knn", "knn"], work_dir=tmp_path, **FAST)
    assert calls == ["sklearn:iris"]
    assert len(kb.evaluations) == 2


def test_a_registered_space_is_evaluated_in_worker_processes(tmp_path: Path) -> None:
    # Defined here, so the worker processes cannot import it: the builder must send it.
    def ridge(task: str) -> SearchSpace:
        if task != "classification":
            raise ValueError(f"the ridge space is for classification only; got {task!r}")
        return SearchSpace(
            "worker_ridge",
            task,
            {"alpha": FloatDistribution(1e-3, 1e3, log=True)},
            {"alpha": 1.0},
            lambda params: scaled_pipeline(RidgeClassifier(**params)),
        )

    spaces.register("worker_ridge", ridge)
    try:
        options = {**FAST, "n_configs": 3, "n_jobs": 2}
        kb = knowledge.build(
            ["sklearn:iris", "sklearn:wine"], ["worker_ridge"], work_dir=tmp_path, **options
        )
    finally:
        from metaopt.spaces import _registry

        _registry._FACTORIES.pop("worker_ridge", None)
    assert not (tmp_path / "parts" / "unit_failures").exists()
    assert kb.spaces == ["worker_ridge"] and len(kb.evaluations) == 6
    assert (kb.evaluations["status"] == "ok").all()


def test_a_regression_only_space_builds_with_the_default_metrics(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    def ridge(task: str) -> SearchSpace:
        if task != "regression":
            raise ValueError(f"the ridge space is for regression only; got {task!r}")
        return SearchSpace(
            "regression_ridge",
            task,
            {"alpha": FloatDistribution(1e-3, 1e3, log=True)},
            {"alpha": 1.0},
            lambda params: scaled_pipeline(Ridge(**params)),
        )

    spaces.register("regression_ridge", ridge)
    try:
        kb = knowledge.build(["sklearn:diabetes"], ["regression_ridge"], work_dir=tmp_path, **FAST)
    finally:
        from metaopt.spaces import _registry

        _registry._FACTORIES.pop("regression_ridge", None)
    assert (kb.evaluations["status"] == "ok").all() and (kb.evaluations["metric"] == "r2").all()


def test_identifier_columns_are_left_out_and_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An object's name coded as a number, in the order of the classes (PMLB's musk files): it
    # alone separates the classes, so every configuration would score as if the task were easy.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] + rng.normal(scale=1.5, size=60) > 0, "musk", "other")
    names = np.where(y == "musk", 0, 100) + rng.permutation(60)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(molecule=names.astype(float))
    data = metaopt.load_dataset((frame, y), name="musky")
    with caplog.at_level("WARNING", logger="metaopt"):
        leaky = knowledge.build({"musky": data}, ["knn"], work_dir=tmp_path / "leaky", **FAST)
    assert "columns ['molecule'] alone separate the classes" in caplog.text
    assert leaky.provenance["datasets"]["musky"]["separating_columns"] == ["molecule"]
    kb = knowledge.build(
        {"musky": data},
        ["knn"],
        work_dir=tmp_path / "clean",
        drop_columns={"musky": ["molecule"]},
        **FAST,
    )
    facts = kb.provenance["datasets"]["musky"]
    assert facts["dropped_columns"] == ["molecule"] and "separating_columns" not in facts
    assert facts["n_features"] == 3
    assert kb.evaluations["score"].max() < leaky.evaluations["score"].max()
    # Rerun on the same work directory with the same columns left out: nothing new to do.
    again = knowledge.build(
        {"musky": data},
        ["knn"],
        work_dir=tmp_path / "clean",
        drop_columns={"musky": ["molecule"]},
        **FAST,
    )
    pd.testing.assert_frame_equal(again.evaluations, kb.evaluations)


def test_drop_columns_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"names datasets \['sklearn:wine'\] that are not among"):
        knowledge.build(
            ["sklearn:iris"],
            ["knn"],
            work_dir=tmp_path,
            drop_columns={"sklearn:wine": ["x"]},
            **FAST,
        )
    with pytest.raises(TypeError, match="must be a list of column names"):
        knowledge.build(
            ["sklearn:iris"],
            ["knn"],
            work_dir=tmp_path,
            drop_columns={"sklearn:iris": "x"},
            **FAST,
        )
    # A loaded dataset without a column named is refused before anything is written.
    with pytest.raises(ValueError, match=r"names columns \['petal width'\] that the dataset"):
        knowledge.build(
            ["sklearn:iris", "sklearn:wine"],
            ["knn"],
            work_dir=tmp_path,
            drop_columns={"sklearn:iris": ["petal width"]},
            **FAST,
        )
    assert not (tmp_path / "build.json").exists()


def test_separating_columns_finds_identifiers_and_target_copies() -> None:
    from metaopt.datasets._ids import separating_columns

    rng = np.random.default_rng(1)
    y = pd.Series(rng.choice(["drama", "news", "poetry"], size=90))
    X = pd.DataFrame(
        {
            "signal": rng.normal(size=90) + (y == "news"),  # informative, not decisive
            "genre_code": y.map({"drama": 7, "news": 3, "poetry": 5}),  # the target relabelled
            "text_id": y.map({"drama": 0, "news": 100, "poetry": 200}) + rng.permutation(90),
            "mostly": np.where(
                rng.random(90) < 0.9, y.map({"drama": 0, "news": 1, "poetry": 2}), 0
            ),
        }
    )
    assert separating_columns(X, y) == ["genre_code", "text_id"]
    assert separating_columns(X[["signal", "mostly"]], y) == []
