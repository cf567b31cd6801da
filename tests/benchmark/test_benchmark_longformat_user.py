"""A researcher's own long-format meta-dataset: messy rows, odd columns, partial metafeatures."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from test_benchmark_user import toy_meta  # shared test helper

from metaopt.benchmark import (
    MetaDataset,
    TraceStore,
    brief,
    read_long_format,
    run_pool_benchmark,
    summarise,
)
from metaopt.benchmark._report import read_benchmark_infos, write_benchmark_info
from metaopt.exceptions import FallbackWarning


def runs_table(n_datasets: int = 3, n_configs: int = 20, seed: int = 0) -> pd.DataFrame:
    """Random-forest-like runs: a log-uniform learning rate, an integer depth, a categorical."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(n_datasets):
        for _ in range(n_configs):
            lr = float(10 ** rng.uniform(-3, 0))
            depth = int(rng.integers(2, 10))
            criterion = str(rng.choice(["gini", "entropy"]))
            score = 0.9 - (np.log10(lr) + 1.5 + d / 4) ** 2 / 10 - 0.01 * abs(depth - 5)
            rows.append(
                {"dataset": f"d{d}", "lr": lr, "depth": float(depth), "criterion": criterion,
                 "score": score}
            )  # fmt: skip
    return pd.DataFrame(rows)


def metafeatures(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"m": np.arange(len(names), dtype=float)}, index=names)


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


def test_rows_without_a_score_are_counted_warned_and_reported(tmp_path: Path) -> None:
    table = runs_table()
    table.loc[[0, 1], "score"] = np.nan
    table.loc[25, "score"] = np.inf
    path = write(table, tmp_path / "runs.csv")
    with pytest.warns(FallbackWarning, match="3 of 60 evaluations have a missing or infinite"):
        meta = read_long_format(path)
    assert len(meta.evaluations) == 57
    assert meta.dropped_rows == {"missing or infinite score": 3}
    run_pool_benchmark(meta, tmp_path / "out", methods=["random"], seeds=1, budget=3,
                       progress=False)  # fmt: skip
    tables = summarise(tmp_path / "out", budgets=(1, 3), plots=False)
    assert "missing or infinite score (3)" in (tmp_path / "out" / "summary.md").read_text()
    assert "missing or infinite score (3)" in brief(tmp_path / "out", tables)


def test_a_dataset_whose_every_score_is_missing_is_skipped_with_the_reason() -> None:
    table = runs_table()
    table.loc[table["dataset"] == "d2", "score"] = np.nan
    with pytest.warns(FallbackWarning, match="1 datasets have no other evaluation"):
        meta = MetaDataset("toy", table, {"lr": FloatDistribution(0.001, 1.0, log=True)})
    assert meta.dataset_names == ["d0", "d1"]
    assert meta.skipped == {"d2": "no evaluation with a finite score"}


def test_pools_that_cannot_rank_methods_are_skipped_and_reported(tmp_path: Path) -> None:
    table = runs_table()
    table.loc[table["dataset"] == "d1", "score"] = 0.5
    single = table.iloc[[0]].assign(dataset="single")
    meta = MetaDataset(
        "flat",
        pd.concat([table, single], ignore_index=True),
        {"lr": FloatDistribution(0.001, 1.0, log=True)},
    )
    with pytest.warns(FallbackWarning, match="2 of 4 datasets are skipped"):
        run_pool_benchmark(meta, tmp_path, methods=["random"], seeds=1, budget=3,
                           progress=False)  # fmt: skip
    assert set(TraceStore(tmp_path).read()["dataset"]) == {"d0", "d2"}
    tables = summarise(tmp_path, budgets=(1, 3), plots=False)
    assert set(tables["summary"]["n_datasets"]) == {2}
    text = (tmp_path / "summary.md").read_text()
    assert "Datasets skipped: 2" in text
    assert "a single configuration (1)" in text
    assert "every configuration has the same score (1)" in text
    assert "skipped 2 datasets" in brief(tmp_path, tables)


def test_a_meta_dataset_of_flat_pools_only_is_refused(tmp_path: Path) -> None:
    table = runs_table().assign(score=0.5)
    meta = MetaDataset("flat", table, {"lr": FloatDistribution(0.001, 1.0, log=True)})
    with pytest.warns(FallbackWarning), pytest.raises(ValueError, match="two or more different"):
        run_pool_benchmark(meta, tmp_path, methods=["random"], seeds=1, budget=2, progress=False)


def test_runs_stored_for_a_dataset_now_skipped_are_not_summarised(tmp_path: Path) -> None:
    run_pool_benchmark(toy_meta(), tmp_path, methods=["random"], seeds=1, budget=2,
                       progress=False)  # fmt: skip
    # Runs of d1 stored before d1 was skipped (e.g. by older code) stay in the folder.
    info = read_benchmark_infos(tmp_path)["toy"]
    write_benchmark_info(tmp_path, {**info, "skipped": {"d1": "a single configuration"}})
    assert set(TraceStore(tmp_path).read()["dataset"]) == {"d0", "d1"}
    tables = summarise(tmp_path, budgets=(1, 2), plots=False)
    assert set(tables["summary"]["n_datasets"]) == {1}
    assert "Datasets evaluated: 1" in (tmp_path / "summary.md").read_text()


def test_repeated_configurations_count_once_with_their_mean_score(tmp_path: Path) -> None:
    table = runs_table()
    repeat = table.iloc[[0, 1]].assign(score=table["score"].iloc[[0, 1]].to_numpy() - 0.2)
    path = write(pd.concat([table, repeat], ignore_index=True), tmp_path / "runs.csv")
    with pytest.warns(FallbackWarning, match="2 rows repeat a configuration"):
        meta = read_long_format(path)
    assert len(meta.evaluations) == 60
    assert meta.evaluations["score"].iloc[0] == pytest.approx(table["score"].iloc[0] - 0.1)
    assert meta.dropped_rows == {"repeated configuration (mean score used)": 2}


def test_status_is_read_whatever_its_case_and_other_values_are_told(tmp_path: Path) -> None:
    table = runs_table().assign(status=" OK ")
    assert len(read_long_format(write(table, tmp_path / "a.csv")).evaluations) == 60
    table.loc[[3, 4], "status"] = "COMPLETE"
    table.loc[5, "status"] = "failed"
    with pytest.warns(FallbackWarning, match="3 rows whose status is not 'ok'.*'complete': 2"):
        meta = read_long_format(write(table, tmp_path / "b.csv"))
    assert meta.dropped_rows == {"status not ok": 3}
    with pytest.raises(ValueError, match=r"no row has status 'ok'; got statuses \['COMPLETE'\]"):
        read_long_format(write(table.assign(status="COMPLETE"), tmp_path / "c.csv"))


def test_documented_failed_rows_are_left_out_without_a_warning(tmp_path: Path) -> None:
    table = runs_table().assign(status="ok")
    table.loc[[3, 4], "status"] = "failed"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        meta = read_long_format(write(table, tmp_path / "runs.csv"))
    assert len(meta.evaluations) == 58


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is empty; expected a table with a header line"),
        ("dataset,lr,score\n", "has a header but no rows"),
        ("dataset,score\na,0.5\nb,0.7\n", "no parameter column.*every column is a reserved one"),
        ("dataset,k,score\na,1,0.5\nb,1,0.7\n", r"the parameter columns \['k'\] have one value"),
        ("Dataset,x,score\na,1,0.5\n", "case-sensitive: found 'Dataset'"),
        ("dataset,x,error\na,1,0.5\n", "higher_is_better=False"),
    ],
)
def test_unusable_files_say_what_is_wrong(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=expected):
        read_long_format(path)


def test_an_error_metric_is_negated_on_request(tmp_path: Path) -> None:
    table = runs_table()
    errors = table.assign(error=1 - table["score"]).drop(columns="score")
    path = write(errors, tmp_path / "runs.tsv")
    meta = read_long_format(path, score="error", higher_is_better=False)
    assert np.allclose(meta.evaluations["score"], table["score"] - 1)
    assert set(meta.distributions) == {"lr", "depth", "criterion"}


def test_spaces_whole_number_ids_and_text_numbers_are_understood(tmp_path: Path) -> None:
    table = runs_table()
    table["dataset"] = table["dataset"].str[1:].astype(float)  # 0.0, 1.0, 2.0
    table["lr"] = table["lr"].map(lambda v: f"{v:.6f}")  # numbers stored as text
    table = table.rename(columns={"score": " score ", "dataset": "dataset "})
    path = write(table, tmp_path / "runs.parquet")
    meta = read_long_format(path, metafeatures=metafeatures([0, 1, 2]))
    assert meta.dataset_names == ["0", "1", "2"]
    assert isinstance(meta.distributions["lr"], FloatDistribution)
    assert meta.distributions["lr"].log
    assert meta.evaluations["lr"].dtype == float
    assert meta.distributions["depth"] == IntDistribution(2, 9)


def test_csv_values_after_a_comma_and_space_are_read(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("dataset, x, score\nd0, 0.1, 0.5\nd0, 0.9, 0.7\nd1, 0.5, 0.2\nd1, 0.2, 0.1\n")
    meta = read_long_format(path)
    assert meta.dataset_names == ["d0", "d1"]
    assert isinstance(meta.distributions["x"], FloatDistribution)


def test_rows_without_a_dataset_name_are_left_out(tmp_path: Path) -> None:
    table = runs_table()
    table.loc[[0, 1], "dataset"] = np.nan
    with pytest.warns(FallbackWarning, match="2 rows have no dataset name"):
        meta = read_long_format(write(table, tmp_path / "runs.csv"))
    assert meta.dataset_names == ["d0", "d1", "d2"]
    assert len(meta.evaluations) == 58
    with pytest.raises(ValueError, match="have no dataset name"):
        MetaDataset("toy", table, {"lr": FloatDistribution(0.001, 1.0, log=True)})


def test_conditional_booleans_and_numeric_labels_are_categorical(tmp_path: Path) -> None:
    table = runs_table()
    table["bootstrap"] = [None if i % 3 == 0 else bool(i % 2) for i in range(len(table))]
    path = write(table, tmp_path / "runs.csv")
    meta = read_long_format(path)
    assert meta.distributions["bootstrap"] == CategoricalDistribution([False, True])
    told = read_long_format(path, categorical=["depth"])
    assert isinstance(told.distributions["depth"], CategoricalDistribution)
    run_pool_benchmark(told, tmp_path / "out", methods=["tpe"], seeds=1, budget=4,
                       progress=False)  # fmt: skip
    assert (TraceStore(tmp_path / "out").read()["status"] == "ok").all()


def test_a_partly_matching_metafeature_table_skips_and_warns(tmp_path: Path) -> None:
    path = write(runs_table(), tmp_path / "runs.csv")
    with pytest.warns(FallbackWarning, match="1 of 3 datasets have no row in the metafeature"):
        meta = read_long_format(path, metafeatures=metafeatures(["d0", "d1", "other"]))
    assert meta.dataset_names == ["d0", "d1"]
    assert meta.skipped == {"d2": "no metafeatures (not in the metafeature table)"}
    with pytest.raises(ValueError, match=r"no dataset of 'runs' is in the metafeature table"):
        read_long_format(path, metafeatures=metafeatures(["x", "y"]))


def test_metafeature_files_are_checked(tmp_path: Path) -> None:
    path = write(runs_table(), tmp_path / "runs.csv")
    (tmp_path / "text.csv").write_text("dataset,m,kind\nd0,1,small\nd1,2,big\nd2,3,big\n")
    with pytest.raises(ValueError, match=r"columns \['kind'\] hold text, e.g. 'small'"):
        read_long_format(path, metafeatures=tmp_path / "text.csv")
    (tmp_path / "twice.csv").write_text("dataset,m\nd0,1\nd0,2\nd1,3\n")
    with pytest.raises(ValueError, match=r"several rows for datasets \['d0'\]"):
        read_long_format(path, metafeatures=tmp_path / "twice.csv")
    # A DataFrame with a 'dataset' column is indexed by it, as a file is.
    frame = metafeatures(["d0", "d1", "d2"]).rename_axis("dataset").reset_index()
    assert read_long_format(path, metafeatures=frame).dataset_names == ["d0", "d1", "d2"]


def test_command_line_reads_an_error_column_and_tells_the_skips(
    tmp_path: Path, capsys, caplog
) -> None:
    from test_openml_suite_cli import load_script  # shared test helper

    table = runs_table()
    table = table.assign(error=1 - table["score"]).drop(columns="score")
    table = pd.concat([table, table.iloc[[0]].assign(dataset="single")], ignore_index=True)
    write(table, tmp_path / "runs.csv")
    (tmp_path / "mf.csv").write_text("dataset,m\nd0,0\nd1,1\nd2,2\nsingle,3\n")
    argv = [
        "--no-knowledge-base", "--no-live", "--offline",
        "--meta-dataset", str(tmp_path / "runs.csv"), "--metafeatures", str(tmp_path / "mf.csv"),
        "--score-column", "error", "--lower-is-better",
        "--methods", "random", "--seeds", "1", "--budget", "3", "--n-jobs", "1",
        "--out", str(tmp_path / "out"), "--no-progress",
    ]  # fmt: skip
    assert load_script().main(argv) == 0
    assert "skipped 1 datasets: a single configuration (1)" in capsys.readouterr().out
    assert "single configuration or only equal scores" in caplog.text
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert set(summary["n_datasets"]) == {3}


def test_missing_data_files_are_one_reason_in_the_report(tmp_path: Path, monkeypatch) -> None:
    from metaopt.benchmark import folder_loader, resolve_datasets

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the folder's own sketches

    rng = np.random.default_rng(0)
    folder = tmp_path / "data7"
    folder.mkdir()
    for name in ("d0", "d1"):  # no file for d2 and d3
        x = rng.normal(size=(30, 2))
        pd.DataFrame(x, columns=["a", "b"]).assign(target=(x[:, 0] > 0).astype(int)).to_csv(
            folder / f"{name}.csv", index=False
        )
    meta = read_long_format(write(runs_table(n_datasets=4), tmp_path / "runs.csv"))
    resolved = resolve_datasets(
        meta,
        folder_loader(folder),
        metafeature_fn=lambda data: pd.Series({"rows": float(len(data.y))}),
        progress=False,
    )
    assert resolved.dataset_names == ["d0", "d1"]
    run_pool_benchmark(resolved, tmp_path / "out", methods=["random"], seeds=1, budget=2,
                       progress=False)  # fmt: skip
    summarise(tmp_path / "out", budgets=(1, 2), plots=False)
    text = (tmp_path / "out" / "summary.md").read_text()
    assert f"no data file named after the dataset in {folder} (2)" in text
