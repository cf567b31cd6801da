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


def test_the_rule_averages_regret_over_trials_and_compares_only_shared_runs(tmp_path) -> None:
    module = load_script()
    old, new = tmp_path / "old", tmp_path / "new"
    # Regret 1 - incumbent: old reaches 0.5 then 1.0; new reaches 1.0 at once.
    write_runs(old, "metasampler", {("a", 0): [0.5, 1.0], ("a", 1): [0.5, 1.0]})
    write_runs(new, "metasampler:n_warm=5", {("a", 0): [1.0, 0.2], ("b", 0): [0.0, 0.0]})

    curves = module.load_curves([f"{old}=before", str(new)], budget=2)
    assert set(curves["method"]) == {"before", "metasampler:n_warm=5"}
    assert set(zip(curves["dataset"], curves["seed"], strict=True)) == {("a", 0)}

    result = module.tables(curves)
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


def test_a_folder_without_runs_is_an_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="no stored runs"):
        load_script().load_curves([str(tmp_path)], budget=2)


def test_methods_can_be_chosen_and_unknown_ones_are_refused(tmp_path, capsys) -> None:
    module = load_script()
    write_runs(tmp_path / "a", "metasampler", {("a", 0): [0.5, 1.0]})
    write_runs(tmp_path / "b", "metasampler:fade=25", {("a", 0): [1.0, 1.0]})
    folders = [str(tmp_path / "a"), str(tmp_path / "b")]
    assert module.main([*folders, "--budget", "2", "--methods", "metasampler"]) == 0
    assert "fade=25" not in capsys.readouterr().out
    with pytest.raises(ValueError, match="--methods names \\['tpe'\\]"):
        module.main([*folders, "--budget", "2", "--methods", "tpe"])
