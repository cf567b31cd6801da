"""The experiments/openml_suite.py command line on small settings."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "openml_suite.py"


def load_script():
    spec = importlib.util.spec_from_file_location("openml_suite", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_help_documents_every_option() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    )
    for option in (
        "--knowledge-base",
        "--pimp",
        "--openml-runs",
        "--meta-dataset",
        "--metafeatures",
        "--datasets-dir",
        "--suite",
        "--methods",
        "--seeds",
        "--budget",
        "--n-jobs",
        "--dask-scheduler",
        "--summary-only",
        "--offline",
    ):
        assert option in result.stdout


@pytest.mark.slow
def test_long_format_meta_dataset_end_to_end(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    rows = [
        {
            "dataset": f"d{d}",
            "lr": float(lr),
            "depth": int(rng.integers(1, 9)),
            "score": 1.0 - (np.log10(lr) + 2 + d / 3) ** 2 / 10,
        }
        for d in range(4)
        for lr in 10 ** rng.uniform(-4, 0, size=20)
    ]
    pd.DataFrame(rows).to_parquet(tmp_path / "runs.parquet")
    pd.DataFrame({"dataset": [f"d{d}" for d in range(4)], "m": np.arange(4.0)}).to_csv(
        tmp_path / "mf.csv", index=False
    )
    out, results = tmp_path / "out", tmp_path / "results"
    argv = [
        "--no-knowledge-base", "--no-live",
        "--meta-dataset", str(tmp_path / "runs.parquet"),
        "--metafeatures", str(tmp_path / "mf.csv"),
        "--methods", "random", "tpe", "nearest+tpe",
        "--seeds", "2", "--budget", "6", "--n-warm", "2", "--n-jobs", "1",
        "--out", str(out), "--results-dir", str(results), "--no-progress",
    ]  # fmt: skip
    script = load_script()
    assert script.main(argv) == 0
    summary = pd.read_csv(results / "summary.csv")
    assert set(summary["method"]) == {"random", "tpe", "nearest+tpe"}
    assert (results / "runs.png").is_file()
    assert "## runs" in (results / "summary.md").read_text()
    # A rerun finds every run stored and only rebuilds the summary.
    traces = sorted((out / "traces").rglob("*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in traces]
    assert script.main(argv) == 0
    assert [p.stat().st_mtime_ns for p in traces] == stamps
    printed = capsys.readouterr().out
    assert "mean normalised regret after N trials" in printed and "nearest+tpe" in printed
    assert str(out / "summary.md") in printed and len(printed.splitlines()) < 40


def test_meta_dataset_needs_a_description(tmp_path, capsys) -> None:
    pd.DataFrame({"dataset": ["a"], "x": [1.0], "score": [0.5]}).to_csv(
        tmp_path / "m.csv", index=False
    )
    script = load_script()
    with pytest.raises(SystemExit):
        script.main(
            [
                "--no-knowledge-base",
                "--no-live",
                "--meta-dataset",
                str(tmp_path / "m.csv"),
                "--out",
                str(tmp_path / "o"),
                "--no-progress",
            ]
        )
    assert "--metafeatures" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # checked before anything was computed


@pytest.mark.parametrize("option", ["--metafeatures", "--datasets-dir"])
def test_descriptions_without_a_meta_dataset_are_refused(tmp_path, capsys, option) -> None:
    (tmp_path / "mf.csv").write_text("dataset,m\na,1.0\n")
    script = load_script()
    with pytest.raises(SystemExit):
        script.main(
            ["--no-knowledge-base", "--no-live", "--pimp", option, str(tmp_path / "mf.csv"),
             "--out", str(tmp_path / "o"), "--no-progress"]
        )  # fmt: skip
    err = capsys.readouterr().err
    assert option in err and "--meta-dataset" in err
    assert not (tmp_path / "o").exists()


def _toy_run(tmp_path: Path, *extra: str) -> list[str]:
    rows = [{"dataset": f"d{d}", "x": x / 10, "score": -((x / 10 - d / 3) ** 2)}
            for d in range(3) for x in range(10)]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    pd.DataFrame({"dataset": ["d0", "d1", "d2"], "m": [0.0, 1.0, 2.0]}).to_csv(
        tmp_path / "mf.csv", index=False
    )
    return [
        "--no-knowledge-base", "--no-live", "--meta-dataset", str(tmp_path / "runs.csv"),
        "--metafeatures", str(tmp_path / "mf.csv"), "--methods", "random",
        "--seeds", "1", "--budget", "3", "--n-jobs", "1", "--out", str(tmp_path / "out"),
        "--no-progress", *extra,
    ]  # fmt: skip


def test_committed_results_are_written_only_when_asked(tmp_path, monkeypatch) -> None:
    argv = _toy_run(tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    script = load_script()
    before = {p: p.stat().st_mtime_ns for p in script.COMMITTED_RESULTS.glob("*")}
    assert script.main(argv) == 0  # default: no copy anywhere
    assert script.main([*argv, "--results-dir", ""]) == 0  # '' skips the copy
    assert list(work.iterdir()) == []  # in particular not into the working directory
    assert {p: p.stat().st_mtime_ns for p in script.COMMITTED_RESULTS.glob("*")} == before
    assert script.main([*argv, "--results-dir", str(tmp_path / "res")]) == 0
    assert {p.name for p in (tmp_path / "res").iterdir()} >= {"summary.md", "summary.csv"}


def test_missing_shared_data_is_a_note_and_live_data_falls_back(tmp_path, monkeypatch) -> None:
    from metaopt.benchmark import live_datasets

    monkeypatch.setenv("METAOPT_SHARED", str(tmp_path / "absent"))
    datasets, skipped, note = live_datasets("auto", 2, online=False)
    assert [d.source for d in datasets] == ["sklearn:breast_cancer", "sklearn:digits"]
    assert skipped == {} and "bundled" in note and "absent" not in note
    script = load_script()
    parser = script._parser()
    args = parser.parse_args(["--pimp", "--no-knowledge-base", "--no-live", "--offline"])
    plan = script._plan(args, parser, online=False)
    assert plan.pool == [] and len(plan.notes) == 1 and "--pimp skipped" in plan.notes[0]


def test_live_datasets_with_many_classes_are_skipped_and_told(tmp_path, monkeypatch) -> None:
    from metaopt.benchmark import live_datasets

    monkeypatch.setenv("METAOPT_SHARED", str(tmp_path / "absent"))
    datasets, skipped, _ = live_datasets("bundled", 2, online=False, max_classes=2)
    # Only breast_cancer has 2 classes; the others are skipped and counted, with the reason.
    assert [d.source for d in datasets] == ["sklearn:breast_cancer"]
    assert skipped and all(reason.endswith("classes, more than 2") for reason in skipped.values())
    assert skipped["sklearn:digits"] == "10 classes, more than 2"
    with pytest.raises(ValueError, match="max_classes must be an int >= 2 or None, got 1"):
        live_datasets("bundled", 2, online=False, max_classes=1)
