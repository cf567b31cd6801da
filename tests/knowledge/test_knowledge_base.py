"""The KnowledgeBase value type: selection, validation, persistence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metaopt.knowledge as knowledge
from metaopt import spaces
from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase


def _rows(dataset: str, space: str, n: int, *, failed: int = 0) -> list[dict[str, object]]:
    configs = knowledge.configurations(spaces.get(space), n, seed=0)
    rows = []
    for config_id, params in enumerate(configs):
        ok = config_id >= failed
        rows.append(
            {
                "dataset": dataset,
                "fingerprint": f"fp-{dataset}",
                "task": "classification",
                "space": space,
                "config_id": config_id,
                "params": json.dumps(params),
                "score": 0.5 + 0.01 * config_id if ok else math.nan,
                "fold_scores": [0.5, 0.5],
                "metric": "balanced_accuracy",
                "secondary_score": -0.7,
                "fit_time": 0.1,
                "status": "ok" if ok else "failed",
                "error": None if ok else "ValueError: boom",
                "source": "builder",
                **params,
            }
        )
    return rows


@pytest.fixture
def kb() -> KnowledgeBase:
    rows = _rows("a", "knn", 4, failed=1) + _rows("a", "svm", 4) + _rows("b", "knn", 4)
    metafeatures = pd.DataFrame(
        {"n_rows": [100.0, 200.0], "n_features": [3.0, 5.0]},
        index=pd.Index(["a", "b"], name="dataset"),
    )
    provenance = {"schema_version": SCHEMA_VERSION, "command": "t"}
    return KnowledgeBase(pd.DataFrame(rows), metafeatures, provenance)


def test_selection_by_space_and_dataset(kb: KnowledgeBase) -> None:
    assert kb.spaces == ["knn", "svm"] and kb.datasets == ["a", "b"]
    knn = kb.for_space("knn")
    assert len(knn) == 7 and (knn["status"] == "ok").all()
    assert "C" not in knn.columns and {"n_neighbors", "weights", "p"} <= set(knn.columns)
    assert kb.param_names("svm") == list(spaces.get("svm").distributions)
    with pytest.raises(ValueError, match="no evaluations for space"):
        kb.for_space("mlp")
    without = kb.without(["a"])
    assert without.datasets == ["b"] and list(without.metafeatures.index) == ["b"]
    assert kb.datasets == ["a", "b"]  # the original is untouched
    assert kb.subset("a").datasets == ["a"]


def _at_full(rows: list[dict[str, object]], config_ids: set[int]) -> list[dict[str, object]]:
    return [
        {**r, "fidelity": "full", "n_rows": 5000.0, "score": float(r["score"]) + 0.1}
        for r in rows
        if r["config_id"] in config_ids
    ]


def test_own_size_rows_replace_the_base_only_where_every_configuration_is_at_full_size() -> None:
    base = _rows("a", "knn", 4) + _rows("b", "knn", 4) + _rows("a", "svm", 4)
    rows = (
        base
        + _at_full(_rows("a", "knn", 4), {0, 1, 2, 3})  # complete
        + _at_full(_rows("b", "knn", 4), {0, 3})  # a subset: the base stays
        + _at_full(_rows("a", "svm", 4), {0, 1, 2})
    )
    frame = pd.DataFrame(rows)
    frame["fidelity"] = frame["fidelity"].fillna("base")
    own = knowledge.own_size_rows(frame)
    fidelities = own.groupby(["dataset", "space"])["fidelity"].agg(lambda f: sorted(set(f)))
    assert fidelities.to_dict() == {
        ("a", "knn"): ["full"],
        ("a", "svm"): ["base"],
        ("b", "knn"): ["base"],
    }
    assert len(own) == 12 and not own.duplicated(["dataset", "space", "config_id"]).any()
    metafeatures = pd.DataFrame(
        {"n_rows": [100.0, 200.0]}, index=pd.Index(["a", "b"], name="dataset")
    )
    kb = KnowledgeBase(frame, metafeatures, {"schema_version": SCHEMA_VERSION})
    knn = kb.for_space("knn", fidelity="own_size")
    assert sorted(knn.groupby("dataset")["score"].max().round(2).tolist()) == [0.53, 0.63]
    assert len(kb.for_space("knn", fidelity=None)) == 14
    with pytest.raises(ValueError, match="fidelity must be one of"):
        kb.for_space("knn", fidelity="own")
    # A table without fidelities is all base.
    plain = pd.DataFrame(base)
    assert knowledge.own_size_rows(plain) is plain


def test_concat_combines_and_refuses_duplicates(kb: KnowledgeBase) -> None:
    other = KnowledgeBase(
        pd.DataFrame(_rows("c", "svm", 2)),
        pd.DataFrame({"n_rows": [50.0]}, index=pd.Index(["c"], name="dataset")),
        {"schema_version": SCHEMA_VERSION},
    )
    both = kb.concat(other)
    assert both.datasets == ["a", "b", "c"] and len(both) == len(kb) + 2
    assert set(both.metafeatures.index) == {"a", "b", "c"}
    both.validate()
    with pytest.raises(ValueError, match="in both"):
        kb.concat(kb)


def test_concat_keeps_groups_and_sources_of_both(kb: KnowledgeBase) -> None:
    kb.provenance.update(groups={"b": "a"}, datasets={"a": {"source": "x.arff"}})
    other = KnowledgeBase(
        pd.DataFrame(_rows("c", "svm", 2) + _rows("d", "svm", 2)),
        pd.DataFrame({"n_rows": [50.0, 60.0]}, index=pd.Index(["c", "d"], name="dataset")),
        {"schema_version": SCHEMA_VERSION, "groups": {"d": "c"}, "datasets": {"c": {}}},
    )
    both = kb.concat(other)
    assert both.groups == {"a": "a", "b": "a", "c": "c", "d": "c"}
    assert both.without_group_of(["d"]).datasets == ["a", "b"]
    assert set(both.provenance["datasets"]) == {"a", "c"}
    assert both.provenance["parts"] == [kb.provenance, other.provenance]


def test_a_base_shipped_again_keeps_one_record_per_build(kb: KnowledgeBase) -> None:
    def one_build(dataset: str, command: str) -> KnowledgeBase:
        return KnowledgeBase(
            pd.DataFrame(_rows(dataset, "svm", 2)),
            pd.DataFrame({"n_rows": [50.0]}, index=pd.Index([dataset], name="dataset")),
            {"schema_version": SCHEMA_VERSION, "command": command, "datasets": {dataset: {}}},
        )

    old, regression = one_build("old", "first"), one_build("r", "regression")
    shipped = old.concat(regression)
    # Shipping a new build of one task replaces that task's datasets, keeps the others.
    reshipped = one_build("new", "second").concat(shipped.subset(["r"]))
    commands = [part["command"] for part in knowledge.build_parts(reshipped.provenance)]
    assert commands == ["second", "regression"]
    assert all("parts" not in part for part in reshipped.provenance["parts"])
    assert knowledge.build_parts(old.provenance) == [old.provenance]
    # Two pieces of one build merged again are still one build.
    both = KnowledgeBase(
        pd.DataFrame(_rows("x", "svm", 2) + _rows("y", "svm", 2)),
        pd.DataFrame({"n_rows": [50.0, 60.0]}, index=pd.Index(["x", "y"], name="dataset")),
        {"schema_version": SCHEMA_VERSION, "command": "both", "datasets": {"x": {}, "y": {}}},
    )
    again = both.subset(["x"]).concat(both.subset(["y"]))
    assert [p["command"] for p in knowledge.build_parts(again.provenance)] == ["both"]


def test_a_dataset_evaluated_again_keeps_its_new_facts_when_merged() -> None:
    def base(datasets: dict[str, int]) -> KnowledgeBase:
        rows = [row for d in datasets for row in _rows(d, "svm", 2)]
        facts = {d: {"n_features": n} for d, n in datasets.items()}
        metafeatures = pd.DataFrame(
            {"n_rows": [50.0] * len(datasets)}, index=pd.Index(list(datasets), name="dataset")
        )
        return KnowledgeBase(pd.DataFrame(rows), metafeatures, {"datasets": facts})

    shipped = base({"r": 3, "leaky": 11})
    # A dataset evaluated again (one column left out) and shipped after the other task's part:
    # its new facts are the ones kept, whichever side of the merge it is on.
    rebuilt = base({"leaky": 10})
    for merged in (shipped.subset(["r"]).concat(rebuilt), rebuilt.concat(shipped.subset(["r"]))):
        assert merged.provenance["datasets"]["leaky"] == {"n_features": 10}


def test_validate_reports_every_problem(kb: KnowledgeBase) -> None:
    kb.validate()
    broken = kb.evaluations.copy()
    broken.loc[0, "score"] = 0.9  # a failed row with a score
    broken.loc[1, "status"] = "crashed"
    broken.loc[2, "params"] = "{not json"
    bad = KnowledgeBase(broken, kb.metafeatures.iloc[:1], kb.provenance)
    with pytest.raises(ValueError) as error:
        bad.validate()
    message = str(error.value)
    for fragment in ("score NaN", "status must be", "JSON", "lack metafeatures"):
        assert fragment in message


def test_save_and_read_round_trip(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.save(tmp_path)
    back = knowledge.load(tmp_path)
    pd.testing.assert_frame_equal(back.evaluations, kb.evaluations)
    pd.testing.assert_frame_equal(back.metafeatures, kb.metafeatures)
    assert back.provenance["command"] == "t"
    assert back.evaluations["p"].dropna().isin([1.0, 2.0]).all()
    params = json.loads(back.evaluations.loc[0, "params"])
    assert isinstance(params["p"], int) and isinstance(params["weights"], str)


def test_read_rejects_corrupted_files_and_other_schema_versions(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    kb.save(tmp_path)
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    (tmp_path / "provenance.json").write_text(json.dumps({**provenance, "schema_version": 99}))
    with pytest.raises(ValueError, match="schema_version 99"):
        knowledge.load(tmp_path)
    (tmp_path / "provenance.json").write_text(json.dumps(provenance))
    data = (tmp_path / "evaluations.parquet").read_bytes()
    (tmp_path / "evaluations.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupted"):
        knowledge.load(tmp_path)
    (tmp_path / "provenance.json").write_text("{broken")
    with pytest.raises(ValueError, match="corrupted"):
        knowledge.load(tmp_path)
    with pytest.raises(ValueError, match="lacks"):
        knowledge.load(tmp_path / "nowhere")


def test_parameter_columns_have_one_dtype(kb: KnowledgeBase) -> None:
    ev = kb.evaluations
    assert ev["n_neighbors"].dtype == np.float64
    assert ev["weights"].dtype == object
    assert ev.loc[ev["space"] == "svm", "n_neighbors"].isna().all()


def test_groups_leave_out_together_and_unrecorded_datasets_are_their_own(kb) -> None:
    assert kb.groups == {"a": "a", "b": "b"}
    kb.provenance["groups"] = {"a": "a", "b": "a"}  # b is a copy of a under another name
    assert kb.group_members("b") == ["a", "b"]
    assert kb.without_group_of(["b"]).datasets == []
    assert kb.without(["b"]).datasets == ["a"]


def test_the_same_rows_under_two_ids_are_one_group(kb) -> None:
    # A copy added later (concat, a study of the same data) has the same fingerprint.
    copy = kb.subset(["a"])
    copy.evaluations["dataset"] = "a_again"
    copy.metafeatures.index = pd.Index(["a_again"], name="dataset")
    merged = kb.concat(copy)
    assert merged.group_members("a_again") == ["a", "a_again"]
    assert merged.without_group_of(["a"]).datasets == ["b"]


def test_a_space_whose_every_evaluation_failed_is_refused() -> None:
    rows = _rows("a", "knn", 3, failed=3) + _rows("a", "svm", 3)
    metafeatures = pd.DataFrame({"n_rows": [1.0]}, index=pd.Index(["a"], name="dataset"))
    kb = KnowledgeBase(pd.DataFrame(rows), metafeatures, {"schema_version": SCHEMA_VERSION})
    assert kb.spaces == ["svm"]
    with pytest.raises(ValueError, match="no evaluations for space 'knn'"):
        kb.for_space("knn")


def test_read_names_the_file_and_every_problem(kb, tmp_path: Path) -> None:
    kb.save(tmp_path)
    frame = pd.read_parquet(tmp_path / "evaluations.parquet")
    frame.drop(columns=["n_rows"]).to_parquet(tmp_path / "evaluations.parquet")
    with pytest.raises(ValueError, match=r"evaluations.parquet lacks the columns \['n_rows'\]"):
        KnowledgeBase.read(tmp_path)
    frame.assign(fidelity="half", params="{not json").to_parquet(tmp_path / "evaluations.parquet")
    with pytest.raises(ValueError, match="fidelity must be one of") as error:
        KnowledgeBase.read(tmp_path)
    assert "params must be JSON objects" in str(error.value)
    assert str(tmp_path) in str(error.value)


def test_a_space_of_two_tasks_keeps_the_parameters_of_both(kb: KnowledgeBase) -> None:
    config = dict(spaces.get("random_forest", "regression").default)
    rows = [
        {
            **_rows("a", "random_forest", 1)[0],
            "dataset": "r",
            "fingerprint": "fp-r",
            "task": "regression",
            "metric": "r2",
            "params": json.dumps(config),
            **config,
        }
    ]
    for key in ("criterion",):
        rows[0].pop(key, None)
    regression = KnowledgeBase(
        pd.DataFrame(rows),
        pd.DataFrame({"n_rows": [80.0]}, index=pd.Index(["r"], name="dataset")),
        {"schema_version": SCHEMA_VERSION},
    )
    classification = KnowledgeBase(
        pd.DataFrame(_rows("c", "random_forest", 2)),
        pd.DataFrame({"n_rows": [50.0]}, index=pd.Index(["c"], name="dataset")),
        {"schema_version": SCHEMA_VERSION},
    )
    both = regression.concat(classification)  # the regression rows come first
    assert "criterion" in both.param_names("random_forest")
    assert "criterion" not in both.param_names("random_forest", task="regression")
    assert "criterion" in both.for_space("random_forest").columns
    with pytest.raises(ValueError, match="for task 'ranking'"):
        both.param_names("random_forest", task="ranking")


def test_null_fold_scores_read_as_nan(tmp_path: Path) -> None:
    # Parquet writes a part whose every fold score is NaN as a list of nulls.
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows("a", "knn", 3, failed=1)
    rows[0]["fold_scores"] = [math.nan, math.nan]
    frame = pd.DataFrame(rows)
    frame["fold_scores"] = [[None, None]] * len(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    assert table.schema.field("fold_scores").type == pa.list_(pa.null())
    pq.write_table(table, tmp_path / "part.parquet")
    back = pd.read_parquet(tmp_path / "part.parquet")
    base = KnowledgeBase(back, pd.DataFrame(), {"schema_version": SCHEMA_VERSION})
    assert all(np.isnan(v).all() and len(v) == 2 for v in base.evaluations["fold_scores"])


def _exactly(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[list[tuple[type, bytes]]]]:
    """``frame`` without fold scores, and each fold score's type and bits."""
    cells = [[(type(x), np.float64(x).tobytes()) for x in v] for v in frame["fold_scores"]]
    return frame.drop(columns="fold_scores"), cells


@pytest.mark.parametrize("layout", ["list", "float32", "large_list", "null_list", "last", "index"])
def test_read_converts_as_read_parquet_did(kb: KnowledgeBase, tmp_path: Path, layout) -> None:
    # read() converts strings and fold scores a column at a time from Arrow; the result must be
    # exactly the canonical form of what pd.read_parquet returns (converted cell by cell).
    import pyarrow as pa
    import pyarrow.parquet as pq

    from metaopt.knowledge._base import canonical_evaluations

    kb.save(tmp_path)
    frame = kb.evaluations.copy()
    frame["fold_scores"] = [[0.25, None], None, [], [math.nan, 1.0], *frame["fold_scores"][4:]]
    frame.loc[1, "weights"] = None  # a missing string parameter
    if layout == "null_list":
        frame["fold_scores"] = [[None, None]] * len(frame)
    elif layout == "last":
        frame = frame[[c for c in frame.columns if c != "fold_scores"] + ["fold_scores"]]
    elif layout == "index":  # saved index columns come after the fold scores
        frame.index = pd.Index([f"row{i}" for i in range(len(frame))], name="row")
    table = pa.Table.from_pandas(frame, preserve_index=layout == "index")
    if layout in ("float32", "large_list"):
        kind = pa.list_(pa.float32()) if layout == "float32" else pa.large_list(pa.float64())
        folds = table.schema.get_field_index("fold_scores")
        table = table.set_column(folds, "fold_scores", table.column(folds).cast(kind))
    pq.write_table(table, tmp_path / "evaluations.parquet")
    read, read_cells = _exactly(KnowledgeBase.read(tmp_path).evaluations)
    old = canonical_evaluations(pd.read_parquet(tmp_path / "evaluations.parquet"))
    expected, expected_cells = _exactly(old)
    assert read_cells == expected_cells
    pd.testing.assert_frame_equal(read, expected, check_exact=True)
    for column in read.columns:  # the same Python types in object columns (str, not np.str_)
        if read[column].dtype == object:
            assert list(map(type, read[column])) == list(map(type, expected[column])), column
