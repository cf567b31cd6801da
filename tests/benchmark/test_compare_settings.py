"""experiments/compare_settings.py: the rule that chooses MetaSampler's defaults."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

from metaopt.benchmark import TraceStore
from metaopt.benchmark._report import write_benchmark_info

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "compare_settings.py"


def load_script():
    spec = importlib.util.spec_from_file_location("compare_settings", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def write_runs(root: Path, method: str, scores: dict[tuple[str, int], list[float]]) -> None:
    """Traces of ``method`` on pool ``kb-x`` (best 1, worst 0) with the given scores."""
    store = TraceStore(root)
    for (dataset, seed), values in scores.items():
        store.write(
            pd.DataFrame(
                {
                    "benchmark": "kb-x",
                    "dataset": dataset,
                    "method": method,
                    "seed": seed,
                    "trial": range(1, len(values) + 1),
                    "score": values,
                    "config_id": range(len(values)),
                    "status": "ok",
                    "overhead_s": 0.0,
                    "setup_s": 0.0,
                    "prepare_s": 0.0,
                    "eval_s": 0.0,
                    "params": "{}",
                }
            )
        )
    bounds = {dataset: [1.0, 0.0] for dataset, _ in scores}
    write_benchmark_info(root, {"name": "kb-x", "mode": "pool", "bounds": bounds})


def fail(module, argv: list[str], capsys) -> str:
    """The command's error message; it must exit non-zero without a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        module.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_the_rule_averages_regret_over_trials_and_compares_only_shared_runs(tmp_path) -> None:
    module = load_script()
    old, new = tmp_path / "old", tmp_path / "new"
    # Regret 1 - incumbent: old reaches 0.5 then 1.0; new reaches 1.0 at once.
    write_runs(old, "metasampler", {("a", 0): [0.5, 1.0], ("a", 1): [0.5, 1.0]})
    write_runs(new, "metasampler:n_warm=5", {("a", 0): [1.0, 0.2], ("b", 0): [0.0, 0.0]})

    comparison = module.load_curves([f"{old}=before", str(new)], budget=2)
    curves = comparison.curves
    assert set(curves["method"]) == {"before", "metasampler:n_warm=5"}
    assert set(zip(curves["dataset"], curves["seed"], strict=True)) == {("a", 0)}
    assert "1 datasets x 1 seeds; dropped 2 runs" in comparison.notes[-1]

    result = module.tables(curves, comparison.budget)
    assert result["rule"].loc["before", "kb-x"] == pytest.approx(0.25)
    assert result["rule"].loc["metasampler:n_warm=5", "mean"] == pytest.approx(0.0)
    assert result["budgets"].loc["before", 1] == pytest.approx(0.5)


def test_the_command_writes_the_tables(tmp_path, capsys) -> None:
    module = load_script()
    write_runs(tmp_path / "runs", "metasampler", {("a", 0): [0.25, 0.75]})
    assert module.main([str(tmp_path / "runs"), "--budget", "2", "--out", str(tmp_path)]) == 0
    assert "the rule" in capsys.readouterr().out
    rule = pd.read_csv(tmp_path / "rule.csv", index_col=0)
    assert rule.loc["metasampler", "mean"] == pytest.approx((0.75 + 0.25) / 2)


def test_a_budget_beyond_the_runs_is_refused_and_the_default_is_their_length(
    tmp_path, capsys
) -> None:
    module = load_script()
    runs = str(tmp_path / "runs")
    write_runs(tmp_path / "runs", "metasampler", {("a", 0): [0.2] * 4 + [1.0]})
    assert "the shortest has 5 trials" in fail(module, [runs, "--budget", "100"], capsys)
    assert "at least 1" in fail(module, [runs, "--budget", "0"], capsys)

    assert module.main([runs]) == 0
    out = capsys.readouterr().out
    assert "Budget: 5 trials, the shortest compared run's length (--budget not given)" in out
    assert "trials 1-5 per pool" in out and "1-50" not in out


def test_the_budget_is_checked_against_the_compared_runs_only(tmp_path) -> None:
    module = load_script()
    # b's 2-trial run of "metasampler" is dropped (no "tpe" run there), so it does not limit.
    write_runs(tmp_path / "a", "metasampler", {("a", 0): [0.5] * 5, ("b", 0): [0.5] * 2})
    write_runs(tmp_path / "t", "tpe", {("a", 0): [0.5] * 5})
    comparison = module.load_curves([str(tmp_path / "a"), str(tmp_path / "t")])
    assert comparison.budget == 5
    assert comparison.curves["trial"].max() == 5


def test_the_regret_table_ends_at_the_budget(tmp_path) -> None:
    module = load_script()
    write_runs(tmp_path / "runs", "metasampler", {("a", 0): [0.0] * 19 + [1.0]})
    comparison = module.load_curves([str(tmp_path / "runs")], budget=20)
    budgets = module.tables(comparison.curves, comparison.budget)["budgets"]
    assert list(budgets.columns) == [1, 2, 5, 10, 20]
    assert budgets.loc["metasampler", 20] == pytest.approx(0.0)
    assert budgets.loc["metasampler", 10] == pytest.approx(1.0)
    short = module.load_curves([str(tmp_path / "runs")], budget=4)
    assert list(module.tables(short.curves, short.budget)["budgets"].columns) == [1, 2, 4]


def test_methods_are_chosen_before_the_common_runs(tmp_path, capsys) -> None:
    module = load_script()
    write_runs(tmp_path / "a", "metasampler", {("a", 0): [0.5, 1.0], ("a", 1): [0.5, 1.0]})
    write_runs(tmp_path / "b", "metasampler:fade=25", {("a", 0): [1.0] * 2, ("a", 1): [1.0] * 2})
    write_runs(tmp_path / "c", "tpe", {("a", 0): [1.0, 1.0]})
    folders = [str(tmp_path / name) for name in "abc"]

    chosen = module.load_curves(folders, methods=["metasampler", "metasampler:fade=25"])
    assert set(chosen.curves["seed"]) == {0, 1}
    assert "2 methods on 1 datasets x 2 seeds; dropped 0 runs" in chosen.notes[-1]

    every = module.load_curves(folders)
    assert set(every.curves["seed"]) == {0}
    assert every.notes[-1].endswith(
        "dropped 2 runs as not common to every method (metasampler 1, metasampler:fade=25 1)"
    )
    assert module.main([*folders, "--methods", "metasampler"]) == 0
    out = capsys.readouterr().out
    assert "fade=25" not in out and "Compared: 1 methods" in out


def test_one_label_from_two_folders_is_refused(tmp_path, capsys) -> None:
    module = load_script()
    write_runs(tmp_path / "a", "metasampler", {("a", 0): [0.5, 1.0]})
    write_runs(tmp_path / "a", "tpe", {("a", 0): [0.5, 1.0]})
    write_runs(tmp_path / "b", "metasampler", {("a", 0): [1.0, 1.0, 1.0]})
    write_runs(tmp_path / "b", "tpe", {("a", 0): [0.5, 1.0, 1.0]})
    a, b = str(tmp_path / "a"), str(tmp_path / "b")

    assert "own label with FOLDER=NAME" in fail(module, [a, b, "--methods", "metasampler"], capsys)
    assert "own label" in fail(module, [f"{a}=x", f"{b}=x", "--methods", "x"], capsys)
    assert "leave it out with --methods" in fail(module, [f"{a}=old", b], capsys)
    assert module.main([f"{a}=old", b, "--methods", "old", "metasampler"]) == 0
    assert "already holds a method named 'tpe'" in fail(module, [f"{a}=tpe"], capsys)
    write_runs(tmp_path / "t", "tpe", {("a", 0): [0.5, 1.0]})
    assert "does not hold" in fail(module, [f"{tmp_path / 't'}=new"], capsys)


def test_folders_with_no_common_run_are_an_error(tmp_path, capsys) -> None:
    module = load_script()
    write_runs(tmp_path / "a", "metasampler", {("a", 0): [0.5, 1.0]})
    write_runs(tmp_path / "b", "tpe", {("a", 1): [0.5, 1.0], ("b", 0): [0.5, 1.0]})
    err = fail(module, [str(tmp_path / "a"), str(tmp_path / "b")], capsys)
    assert "no (benchmark, dataset, seed) run is common to all 2 methods" in err
    assert "metasampler 1, tpe 2" in err


def test_missing_or_empty_folders_are_clean_errors(tmp_path, capsys) -> None:
    module = load_script()
    assert "is not a folder" in fail(module, [str(tmp_path / "missing")], capsys)
    err = fail(module, [str(tmp_path)], capsys)
    assert "no stored runs under" in err and "Traceback" not in err


def test_unknown_methods_are_refused_naming_the_known_ones(tmp_path, capsys) -> None:
    module = load_script()
    write_runs(tmp_path / "a", "metasampler", {("a", 0): [0.5, 1.0]})
    write_runs(tmp_path / "b", "metasampler:fade=25", {("a", 0): [1.0, 1.0]})
    folders = [str(tmp_path / "a"), str(tmp_path / "b")]
    err = fail(module, [*folders, "--methods", "tpe"], capsys)
    assert "--methods names ['tpe']" in err
    assert "they hold ['metasampler', 'metasampler:fade=25']" in err
