"""The experiment scripts as a researcher who reproduces and extends them meets them: a quick
trial run writes only where it was told and never over shipped or committed files, a bad option
or missing shared data is one ``error:`` line, cached results are only reused for the same
settings, and the iteration options mean what they say. Runs are tiny or stubbed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from test_experiment_scripts_cli import EXPERIMENTS, _help, _script, _usage_error

ROOT = EXPERIMENTS.parent
NO_SHARED = "/nonexistent/metaopt-shared"


def _error_exit(entry, argv: list[str], capsys) -> str:
    """Run ``entry(argv)``, expect a non-zero exit with one ``error:`` line and no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        entry(argv)
    code = exit_info.value.code
    assert code not in (0, None)
    err = capsys.readouterr().err + (code if isinstance(code, str) else "")
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


# --------------------------------------------------------------------- train_lstm_optimizer


def _stub_training(module, monkeypatch, tmp_path: Path) -> list[Path]:
    """Meta-training replaced by a no-op; returns the list the weights' paths are saved to."""
    saved: list[Path] = []
    (tmp_path / "shared" / "datasets" / "pmlb").mkdir(parents=True)
    monkeypatch.setenv("METAOPT_SHARED", str(tmp_path / "shared"))
    monkeypatch.setattr(module, "training_family", lambda: None)
    monkeypatch.setattr(module, "plot_histories", lambda workdir: workdir)
    monkeypatch.setattr(
        module,
        "meta_train",
        lambda family, **kw: SimpleNamespace(
            net=None,
            history=[{"iteration": 2}],
            best_iteration=2,
            best_validation=0.0,
            seconds=0.0,
            cpu_seconds=0.0,
        ),
    )
    monkeypatch.setattr(module, "save_weights", lambda net, path, provenance: saved.append(path))
    return saved


def test_train_lstm_trial_run_keeps_the_shipped_weights(monkeypatch, tmp_path) -> None:
    """A short run (not the shipped recipe) must not replace metaopt's shipped weights."""
    module = _script("train_lstm_optimizer")
    saved = _stub_training(module, monkeypatch, tmp_path)
    work = tmp_path / "work"
    assert module.main(["--iterations", "2", "--workdir", str(work)]) == 0
    assert saved == [work / "seed0.pt"]
    assert Path(saved[0]).resolve() != Path(module.DEFAULT_WEIGHTS).resolve()


def test_train_lstm_shipped_recipe_still_targets_the_shipped_file(monkeypatch, tmp_path) -> None:
    module = _script("train_lstm_optimizer")
    saved = _stub_training(module, monkeypatch, tmp_path)
    assert module.main(["--seed", "0", "--workdir", str(tmp_path / "work")]) == 0
    assert saved == [module.DEFAULT_WEIGHTS]


def test_train_lstm_default_workdir_is_the_repository_s(monkeypatch, tmp_path) -> None:
    """Run from another folder, a trial run writes under the repository's runs/ folder, and
    only the shipped recipe writes the committed history (both redirected here to tmp_path)."""
    module = _script("train_lstm_optimizer")
    monkeypatch.chdir(tmp_path)
    saved = _stub_training(module, monkeypatch, tmp_path)
    monkeypatch.setattr(module, "ROOT", tmp_path / "repo")
    monkeypatch.setattr(module, "RESULTS", tmp_path / "repo" / "results")
    assert module.main(["--iterations", "2"]) == 0
    trial = tmp_path / "repo" / "runs" / "train_lstm_optimizer"
    assert saved[0] == trial / "seed0.pt"
    assert (trial / "meta_train_seed0.json").is_file()
    assert not (tmp_path / "repo" / "results").exists()
    assert not (tmp_path / "experiments").exists() and not (tmp_path / "runs").exists()
    assert module.main([]) == 0  # the shipped recipe
    assert (tmp_path / "repo" / "results" / "meta_train_seed0.json").is_file()


def test_train_lstm_without_shared_data_says_what_is_missing(monkeypatch, capsys, tmp_path):
    module = _script("train_lstm_optimizer")
    monkeypatch.setenv("METAOPT_SHARED", NO_SHARED)
    argv = ["--iterations", "2", "--workdir", str(tmp_path), "--output", str(tmp_path / "w.pt")]
    line = _error_exit(module.main, argv, capsys)
    assert "datasets/pmlb" in line and "METAOPT_SHARED" in line
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- lstm_optimizer


def test_lstm_optimizer_quick_run_leaves_the_committed_results_alone(monkeypatch, tmp_path):
    module = _script("lstm_optimizer")
    monkeypatch.setattr(module, "RESULTS", tmp_path / "committed")
    monkeypatch.setattr(module, "QUICK_RESULTS", tmp_path / "quick")
    argv = ["--quick", "--cost-only", "--cost-params", "100", "--cost-repeats", "1"]
    assert module.main(argv) == 0
    assert (tmp_path / "quick" / "cost.md").is_file()
    assert not (tmp_path / "committed").exists()


def test_lstm_iterate_averaging_scores_the_debiased_average() -> None:
    from metaopt.optim import MLPSpec, TabularTaskFamily, load_tabular

    module = _script("lstm_iterate_averaging")
    family = TabularTaskFamily([load_tabular("sklearn:wine")], [MLPSpec((8,), "tanh")])
    task = family.tasks(1, seed=0)[0]
    # Parameters that never move: every debiased average is the parameters themselves.
    still = module.averaged_losses(task, lambda ps: torch.optim.SGD(ps, lr=0.0), [1, 3])
    assert set(still) == {f"{b:g}@{h}" for b in module.DECAYS for h in (1, 3)}
    for h in (1, 3):
        assert all(still[f"{b:g}@{h}"] == pytest.approx(still[f"0@{h}"]) for b in module.DECAYS)
    # Moving parameters: after one step every average is that step's parameters; later an
    # average lags behind the last iterate, and training goes on from the last iterate.
    moving = module.averaged_losses(task, lambda ps: torch.optim.Adam(ps, lr=0.05), [1, 30])
    assert moving["0.9@1"] == pytest.approx(moving["0@1"])
    assert moving["0.99@30"][0] > moving["0@30"][0] < moving["0@1"][0]


def test_lstm_iterate_averaging_tunes_by_mean_log_loss() -> None:
    tuned = _script("lstm_iterate_averaging").tuned
    table = {("a",): [1.0, 1.0], ("b",): [0.1, 3.0], ("c",): [0.5, 5.0]}
    # Mean log loss: a 0, b -0.60, c 0.46; the mean loss alone would pick a.
    assert tuned(lambda t, c: table[c][t], 2, list(table)) == ("b",)


def test_lstm_optimizer_reuses_curves_only_of_the_same_seed_and_rows(tmp_path, capsys) -> None:
    load_curves = _script("lstm_optimizer").load_curves
    cache = tmp_path / "raw_curves.json"
    curve = [["val", "fam", 0, 20, "adam@0.001"], {"train": [1.0]}]
    cache.write_text(json.dumps({"datasets": ["a"], "curves": [curve]}))  # defaults unrecorded
    assert len(load_curves(cache, ["a"], {"seed": 0, "max_rows": 2000})) == 1
    assert load_curves(cache, ["a"], {"seed": 1, "max_rows": 2000}) == {}
    assert load_curves(cache, ["a"], {"seed": 0, "max_rows": 500}) == {}
    assert "another --seed or --max-rows" in capsys.readouterr().out


def test_lstm_optimizer_without_shared_data_says_what_is_missing(monkeypatch, capsys, tmp_path):
    module = _script("lstm_optimizer")
    monkeypatch.setenv("METAOPT_SHARED", NO_SHARED)
    line = _error_exit(module.main, ["--quick", "--out", str(tmp_path)], capsys)
    assert "datasets/pmlb" in line and "--cost-only" in line


def test_lstm_optimizer_rejects_a_missing_weights_file(capsys, tmp_path) -> None:
    main = _script("lstm_optimizer").main
    argv = ["--weights", str(tmp_path / "none.pt"), "--out", str(tmp_path)]
    assert "--weights: no such file" in _usage_error(main, argv, capsys)


# -------------------------------------------------------------------------- build_knowledge


def test_build_knowledge_without_shared_data_is_a_usage_error(monkeypatch, capsys) -> None:
    monkeypatch.setenv("METAOPT_SHARED", NO_SHARED)
    parse_args = _script("build_knowledge").parse_args
    line = _usage_error(parse_args, ["--no-keel"], capsys)
    assert "--folders: no folder" in line and NO_SHARED in line


def test_build_knowledge_with_no_dataset_writes_no_empty_base(capsys, tmp_path) -> None:
    """Before, an empty knowledge base was saved (and, with --ship, shipped) with exit 0."""
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    argv = ["--no-keel", "--folders", str(tmp_path / "empty"), "--work-dir", str(out / "work")]
    argv += ["--output", str(out / "kb"), "--results", str(out / "results")]
    line = _error_exit(_script("build_knowledge").main, argv, capsys)
    assert "no dataset to build from" in line
    assert not out.exists()


def test_build_knowledge_default_paths_are_the_repository_s() -> None:
    module = _script("build_knowledge")
    for path in (module.RESULTS, module.WORK_DIR, module.SHIPPED, module.RUNS):
        assert path.is_absolute() and path.is_relative_to(ROOT)
    assert module.SHIPPED == ROOT / "metaopt" / "knowledge" / "data"


# ------------------------------------------------------------------------ fewshot_benchmark


class _CountingLearner:
    """Stands in for ProtoNet: counts meta-steps, validates at a fixed accuracy."""

    def __init__(self) -> None:
        self.steps = 0

    def meta_step(self, tasks) -> None:
        self.steps += 1

    def evaluate(self, tasks) -> torch.Tensor:
        return torch.tensor([0.5])

    def state_dict(self) -> dict:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        pass


def test_fewshot_trains_no_more_than_the_iterations_asked() -> None:
    """``--iterations 3 --val-every 5`` ran 5 iterations (the docstring's smoke run: 500)."""
    module = _script("fewshot_benchmark")
    learner = _CountingLearner()
    sampler = SimpleNamespace(sample=lambda n: [])
    args = argparse.Namespace(iterations=3, val_every=5, meta_batch=1)
    _, info = module.train_metric_learner(learner, sampler, [], args)
    assert learner.steps == 3 and info["history"][-1]["iteration"] == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--val-every", "0"], "--val-every must be >= 1"),  # looped forever
        (["--iterations", "0"], "--iterations must be >= 1"),
        (["--shots", "1,x"], "--shots: expected comma-separated positive integers"),
    ],
)
def test_fewshot_rejects_bad_numbers(argv, message, capsys, tmp_path) -> None:
    main = _script("fewshot_benchmark").main
    assert message in _usage_error(main, [*argv, "--out", str(tmp_path / "out")], capsys)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- maml_sinusoid


def test_maml_trains_no_more_than_max_iterations(tmp_path) -> None:
    module = _script("maml_sinusoid")
    args = argparse.Namespace(
        budget=1e6,
        max_iterations=3,
        val_every=5,
        shots=5,
        meta_batch=2,
        inner_lr=0.01,
        inner_steps=1,
        meta_lr=1e-3,
        seed=0,
        lr_schedule="constant",
        safeguard=False,
    )
    val_tasks = module.SinusoidTasks(support_size=5, query_size=5, seed=1).sample(2)
    _, info = module.train("pretrained", args, val_tasks)
    assert info["iterations"] == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--val-every", "0"], "--val-every must be >= 1"),  # looped forever
        (["--budget", "0"], "--budget must be > 0"),
        (["--step-scales", "1,x"], "--step-scales must be comma-separated positive numbers"),
    ],
)
def test_maml_rejects_bad_numbers(argv, message, capsys, tmp_path) -> None:
    main = _script("maml_sinusoid").main
    assert message in _usage_error(main, [*argv, "--out", str(tmp_path / "out")], capsys)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------- bench_metafeatures


def test_bench_metafeatures_remeasures_for_another_seed(monkeypatch, tmp_path) -> None:
    """The cache was keyed by data and tool only: ``--seed 5`` reported seed 0's numbers."""
    module = _script("bench_metafeatures")
    calls: list[tuple[str, int]] = []

    def measure(spec, tool, seed, cpu_limit, wall_limit) -> dict:
        calls.append((tool, seed))
        return {"shape": [20, 12], "seconds": 0.1, "cpu_seconds": 0.1, "peak_extra_mb": 1.0}

    monkeypatch.setattr(module, "measure", measure)
    monkeypatch.setattr(module, "plot", lambda *a: None)
    argv = ["--sizes", "20x12", "--real", "", "--no-pymfe", "--out", str(tmp_path)]
    module.main(argv)
    module.main(argv)  # cached
    assert len(calls) == 2
    module.main([*argv, "--seed", "5"])
    assert [seed for _, seed in calls[2:]] == [5, 5]


def test_bench_metafeatures_retries_a_failed_measurement(monkeypatch, tmp_path) -> None:
    module = _script("bench_metafeatures")
    results = {"20x12|ours (full)": {"error": "ValueError: cannot read"}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    calls: list[str] = []

    def measure(spec, tool, seed, cpu_limit, wall_limit) -> dict:
        calls.append(tool)
        return {"shape": [20, 12], "seconds": 0.1, "cpu_seconds": 0.1, "peak_extra_mb": 1.0}

    monkeypatch.setattr(module, "measure", measure)
    monkeypatch.setattr(module, "plot", lambda *a: None)
    module.main(["--sizes", "20x12", "--real", "", "--no-pymfe", "--out", str(tmp_path)])
    assert "ours (full)" in calls


def test_bench_metafeatures_remeasures_a_file_read_differently_now() -> None:
    """MagicTelescope's row-number column is now dropped: its cached 11-column timing is stale."""
    reusable = _script("bench_metafeatures").reusable
    old = {"shape": [19020, 11], "seconds": 0.1, "seed": 0}  # measured before files had a version
    assert reusable(old, "ours (full)", 0, 120.0)  # synthetic data has no reading version
    assert not reusable(old, "ours (full)", 0, 120.0, reading=2)
    assert reusable({**old, "file_reading": 2}, "ours (full)", 0, 120.0, reading=2)


def test_bench_metafeatures_names_a_missing_real_dataset(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setenv("METAOPT_SHARED", NO_SHARED)
    main = _script("bench_metafeatures").main
    line = _usage_error(main, ["--sizes", "", "--out", str(tmp_path / "out")], capsys)
    assert "--real: no" in line and "6-letter.arff" in line and "--real ''" in line
    assert not (tmp_path / "out").exists()


def test_bench_metafeatures_rejects_a_bad_size(capsys, tmp_path) -> None:
    main = _script("bench_metafeatures").main
    argv = ["--sizes", "10by5", "--real", "", "--out", str(tmp_path)]
    assert "--sizes takes ROWSxCOLS items" in _usage_error(main, argv, capsys)


# --------------------------------------------------------------------------- metamodel_lodo


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--spaces", "nope"], "unknown --spaces ['nope']"),
        (["--models", "nope"], "unknown --models ['nope']"),
        (["--variants", "{bad"], "--variants must be JSON"),
        (["--variants", '{"x": ["nope", {}]}'], "--variants names unknown models"),
        (["--budgets"], "--budgets must be one or more numbers >= 1"),
        (["--budgets", "0"], "--budgets must be one or more numbers >= 1"),
        (["--knowledge", NO_SHARED], "--knowledge: knowledge base at"),
        (["--build-dir", NO_SHARED], "--build-dir"),
        (["--nested-over", "bandwidth"], "invalid choice: 'bandwidth'"),
    ],
)
def test_metamodel_lodo_rejects_bad_arguments(argv, message, capsys, tmp_path) -> None:
    main = _script("metamodel_lodo").main
    line = _usage_error(main, [*argv, "--no-nested", "--out", str(tmp_path / "out")], capsys)
    assert message in line
    assert not (tmp_path / "out").exists()


def _lodo_row(i: int, method: str, regret: float, **extra) -> dict:
    """One held-out pair's regret@1 row of ``metamodel_lodo``'s per-dataset table."""
    return {"space": "s", "dataset": f"d{i}", "method": method, "k": 1, "regret": regret, **extra}


def test_metamodel_lodo_task_keeps_only_that_tasks_datasets() -> None:
    from metaopt import knowledge

    lodo = _script("metamodel_lodo")
    kb = knowledge.load()
    tasks = kb.evaluations.drop_duplicates("dataset").set_index("dataset")["task"]
    for task in ("regression", "classification"):
        frame, _ = lodo.evaluate(kb, [1], ["knn"], 2, nested=False, models=["nearest"], task=task)
        assert frame["dataset"].nunique() == 2
        assert set(tasks[frame["dataset"].unique()]) == {task}


def test_metamodel_lodo_queries_a_held_out_dataset_at_the_size_it_was_scored() -> None:
    import pandas as pd

    lodo = _script("metamodel_lodo")
    described = pd.Series(
        {
            "general.n_instances": 9000.0,
            "general.n_features": 9.0,
            "general.log_n_instances": 9.1,
            "general.dimensionality": 0.001,
            "general.log_dimensionality": -6.9,
            "info.entropy": 0.7,
        }
    )
    sized = lodo.at_scored_size(described, pd.DataFrame({"n_rows": [2000.0, 2000.0]}))
    assert sized["general.n_instances"] == 2000.0 and sized["general.dimensionality"] == 0.0045
    assert sized["general.log_n_instances"] == pytest.approx(7.6009, abs=1e-4)
    assert sized["info.entropy"] == 0.7 and described["general.n_instances"] == 9000.0
    # A table without row counts (from studies) leaves the description as it is.
    assert lodo.at_scored_size(described, pd.DataFrame({"score": [0.5]})) is described


def test_metamodel_lodo_reports_the_nested_settings_against_the_default() -> None:
    import pandas as pd

    lodo = _script("metamodel_lodo")
    rows = []
    for i, (setting, nested, shipped) in enumerate(
        [("a", 0.1, 0.2), ("a", 0.3, 0.3), ("b", 0.2, 0.1)]
    ):
        for method, regret, label in (("nested", nested, setting), ("transfer", shipped, "")):
            rows.append(_lodo_row(i, method, regret, setting=label))
    lines = lodo.nested_settings(pd.DataFrame(rows))
    assert lines[0].endswith("a 2, b 1")
    # Differences -0.1, 0, +0.1: mean 0, standard error 0.1 / sqrt(3).
    assert "| 1 | +0.0000 | 0.0577 | 3 |" in lines
    assert lodo.nested_settings(pd.DataFrame(rows).query("method == 'transfer'")) == []


def test_metamodel_lodo_chooses_the_novelty_fallback_on_other_groups() -> None:
    """Where the portfolio wins on the novel datasets only, the nested choice finds the
    threshold that separates them, and is scored on each group with the others' choice."""
    import numpy as np
    import pandas as pd

    lodo = _script("metamodel_lodo")
    novelty = np.linspace(0.6, 5.0, 23)  # none exactly at a threshold
    novel = novelty > 2.0
    rows = []
    for i, (nov, far) in enumerate(zip(novelty, novel, strict=True)):
        for method, regret in (
            ("transfer", 0.05 if far else 0.01),
            ("portfolio", 0.02 if far else 0.03),
        ):
            rows.append(_lodo_row(i, method, regret, novelty=nov))
    # The same data twice under two names: one group, left out together.
    rows += [dict(r, dataset="copy") for r in rows if r["dataset"] == "d0"]
    groups = {"copy": "d0"}
    lines = lodo.novelty_fallback(pd.DataFrame(rows), groups)
    text = "\n".join(lines)
    best = np.where(novel, 0.02, 0.01)
    expected = (best.sum() + best[0]) / (len(best) + 1)
    assert f"| nested choice | {expected:.4f} |" in text
    assert "(threshold: outer groups): 2: 23" in text  # 23 groups, the copy in d0's
    assert "| transfer everywhere | " in text and "| portfolio above novelty 3 |" in text
    assert lodo.novelty_fallback(pd.DataFrame(rows).assign(novelty=np.nan), groups) == []


# ------------------------------------------------------- search_cv, suggest_live, ceiling


def test_search_cv_rejects_an_unknown_space_up_front(capsys, tmp_path) -> None:
    main = _script("search_cv").main
    line = _usage_error(main, ["--space", "nope", "--results-dir", str(tmp_path)], capsys)
    assert "unknown --space 'nope'; accepted: hist_gradient_boosting" in line
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--space", "nope"], "unknown --space 'nope'"),
        (["--knowledge", NO_SHARED], "is not a folder"),
    ],
)
def test_suggest_live_rejects_bad_arguments(argv, message, capsys, tmp_path) -> None:
    parse_args = _script("suggest_live").parse_args
    assert message in _usage_error(parse_args, [*argv, "--out", str(tmp_path)], capsys)


def test_transfer_ceiling_rejects_a_missing_knowledge_base(capsys, tmp_path) -> None:
    main = _script("transfer_ceiling").main
    argv = ["--knowledge", NO_SHARED, "--out", str(tmp_path / "out")]
    assert "--knowledge: knowledge base at" in _usage_error(main, argv, capsys)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------ transfer_settings


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--pools", "nope"], "unknown --pools ['nope']; accepted: kb-"),
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--max-datasets", "0"], "--max-datasets must be >= 1"),
        (["--report-only"], "--report-only: no"),
    ],
)
def test_transfer_settings_rejects_bad_arguments(argv, message, capsys, tmp_path) -> None:
    main = _script("transfer_settings").main
    assert message in _usage_error(main, [*argv, "--out", str(tmp_path / "out")], capsys)
    assert not (tmp_path / "out").exists()


def test_transfer_settings_pimp_without_shared_data_is_a_usage_error(
    monkeypatch, capsys, tmp_path
) -> None:
    monkeypatch.setenv("METAOPT_SHARED", NO_SHARED)
    main = _script("transfer_settings").main
    line = _usage_error(main, ["--pools", "pimp", "--out", str(tmp_path)], capsys)
    assert "openml-pimp-random-forest.arff" in line


def test_transfer_settings_runs_small_and_the_same_twice(tmp_path) -> None:
    main = _script("transfer_settings").main
    tables = []
    for run in ("a", "b"):
        out = tmp_path / run
        argv = ["--pools", "kb-knn", "--variants", "evidence=1", "--max-datasets", "1"]
        assert main([*argv, "--out", str(out)]) == 0
        tables.append((out / "runs.csv").read_text())
    assert tables[0] == tables[1] and len(tables[0].splitlines()) == 2  # header, one dataset


# ------------------------------------------------------------------------------ import_time


def test_import_time_rejects_zero_repeats(capsys, tmp_path) -> None:
    main = _script("import_time").main
    line = _usage_error(main, ["--repeats", "0", "--out", str(tmp_path / "out")], capsys)
    assert "--repeats must be >= 1, got 0" in line


# ------------------------------------------------------------------------------ help texts


@pytest.mark.parametrize(
    "name",
    [
        "bench_metafeatures",
        "dataset_groups",
        "fewshot_benchmark",
        "import_time",
        "lstm_optimizer",
        "maml_sinusoid",
        "train_lstm_optimizer",
        "transfer_ceiling",
    ],
)
def test_help_of_every_script_states_no_empty_default(name, capsys) -> None:
    text = " ".join(_help(name, capsys).split())
    assert "(default: None)" not in text and "(default: False)" not in text, text


@pytest.mark.parametrize(
    ("name", "flag"),
    [
        ("maml_sinusoid", "--lstm"),
        ("maml_sinusoid", "--safeguard"),
        ("lstm_optimizer", "--ceiling"),
        ("train_lstm_optimizer", "--horizon-aware"),
    ],
)
def test_help_says_whether_a_switch_is_on(name, flag, capsys) -> None:
    text = " ".join(_help(name, capsys).split())
    after = text.split(f"{flag}, --no-{flag[2:]} ", 1)[1]
    assert after.split(" --", 1)[0].rstrip().endswith(("(default: on)", "(default: off)"))
