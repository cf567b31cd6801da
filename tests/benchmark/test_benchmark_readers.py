"""Readers of external meta-datasets: OpenML run exports (ARFF) and long-format tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from metaopt.benchmark import read_long_format, read_openml_runs

HEADER = {
    "flow_id": 123,
    "col_parameters": ["clf__C", "clf__kernel", "clf__degree", "clf__cache"],
    "col_measures": ["mean_absolute_error", "predictive_accuracy"],
}


def write_export(path, rows: list[str]) -> None:
    text = [
        "% " + json.dumps(HEADER),
        "@RELATION runs",
        "@ATTRIBUTE clf__C NUMERIC",
        "@ATTRIBUTE clf__kernel {rbf, poly}",
        "@ATTRIBUTE clf__degree {3, 2, 5}",
        "@ATTRIBUTE clf__cache {None}",
        "@ATTRIBUTE mean_absolute_error NUMERIC",
        "@ATTRIBUTE predictive_accuracy NUMERIC",
        "@ATTRIBUTE task_id NUMERIC",
        "@DATA",
        *rows,
    ]
    path.write_text("\n".join(text) + "\n")


def test_openml_export_header_names_parameters_and_measures(tmp_path) -> None:
    path = tmp_path / "runs.arff"
    write_export(
        path,
        [
            "0.01,rbf,3,None,0.40,0.60,7",
            "100.0,poly,2,None,0.10,0.90,7",
            "1.0,rbf,5,None,0.30,0.70,9",
        ],
    )
    meta = read_openml_runs(path)
    assert meta.name == "openml-flow-123"
    assert meta.dataset_names == ["openml-task:7", "openml-task:9"]
    # The constant 'None' parameter is dropped; numeric nominal labels become integers.
    assert set(meta.distributions) == {"clf__C", "clf__kernel", "clf__degree"}
    assert meta.distributions["clf__C"] == FloatDistribution(0.01, 100.0, log=True)
    assert meta.distributions["clf__degree"] == IntDistribution(2, 5)
    assert meta.distributions["clf__kernel"] == CategoricalDistribution(["poly", "rbf"])
    # The first measure is an error: it is negated so that higher is better.
    assert meta.pool("openml-task:7")["score"].tolist() == [-0.40, -0.10]
    accuracy = read_openml_runs(path, measure="predictive_accuracy")
    assert accuracy.pool("openml-task:9")["score"].tolist() == [0.70]


def test_openml_export_without_json_header_is_rejected(tmp_path) -> None:
    path = tmp_path / "bad.arff"
    path.write_text("@RELATION r\n@ATTRIBUTE a NUMERIC\n@DATA\n1\n")
    with pytest.raises(ValueError, match="JSON"):
        read_openml_runs(path)
    with pytest.raises(ValueError, match="does not exist"):
        read_openml_runs(tmp_path / "missing.arff")
    with pytest.raises(ValueError, match="measure"):
        write_export(path, ["1.0,rbf,3,None,0.3,0.7,9"])
        read_openml_runs(path, measure="auc")


@pytest.mark.shared
def test_real_openml_pimp_random_forest_runs(shared_dir) -> None:
    meta = read_openml_runs(shared_dir / "metadata" / "openml-pimp-random-forest.arff")
    assert len(meta.dataset_names) == 85
    assert set(meta.evaluations.groupby("dataset").size()) == {500}
    assert "randomforestclassifier__max_features" in meta.distributions
    assert "randomforestclassifier__n_estimators" not in meta.distributions  # constant 100
    assert meta.evaluations["score"].between(0, 1).all()


def test_long_format_with_metafeature_file(tmp_path) -> None:
    table = pd.DataFrame(
        {
            "dataset": ["a", "a", "b", "b", "c"],
            "lr": [0.001, 0.1, 0.01, 1.0, 0.5],
            "booster": ["gb", "rf", "gb", "rf", "gb"],
            "score": [0.8, 0.9, 0.5, 0.4, 0.7],
            "status": ["ok", "ok", "ok", "ok", "failed"],
            "fingerprint": ["f1", "f1", "f2", "f2", "f3"],
        }
    )
    table.to_csv(tmp_path / "meta.csv", index=False)
    pd.DataFrame({"dataset": ["a", "b"], "n_rows": [10.0, 20.0]}).to_csv(
        tmp_path / "mf.csv", index=False
    )
    meta = read_long_format(tmp_path / "meta.csv", metafeatures=tmp_path / "mf.csv")
    assert meta.name == "meta"
    # 'c' has only a failed row; the other rows keep their parameters.
    assert meta.dataset_names == ["a", "b"]
    assert set(meta.distributions) == {"lr", "booster"}
    assert meta.datasets.loc["b", "fingerprint"] == "f2"
    assert meta.metafeatures.loc["b", "n_rows"] == 20.0
    with pytest.raises(ValueError, match="'score'"):
        table.drop(columns="score").to_csv(tmp_path / "bad.csv", index=False)
        read_long_format(tmp_path / "bad.csv")


def test_log_scale_is_read_from_how_the_values_were_sampled(tmp_path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "dataset": [f"d{i % 4}" for i in range(n)],
            # Both span 200x: one sampled log-uniformly, one uniformly.
            "learning_rate": np.exp(rng.uniform(np.log(0.01), np.log(2.0), n)),
            "subsample": rng.uniform(0.01, 2.0, n),
            "score": rng.uniform(size=n),
        }
    )
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    meta = read_long_format(path)
    assert meta.distributions["learning_rate"].log
    assert not meta.distributions["subsample"].log
    told = read_long_format(path, log={"learning_rate": False, "subsample": True})
    assert not told.distributions["learning_rate"].log
    assert told.distributions["subsample"].log
