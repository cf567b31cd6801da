"""Pool mode end to end on a small synthetic meta-dataset: protocol, resume, LODO, Dask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from metaopt.benchmark import (
    MetaDataset,
    PoolProblem,
    TraceStore,
    run_pool_benchmark,
    summarise,
)


def synthetic_meta(n_datasets: int = 6, n_configs: int = 40, seed: int = 0) -> MetaDataset:
    """Datasets whose best ``x`` moves with their metafeature ``m``; one exact duplicate."""
    rng = np.random.default_rng(seed)
    rows, facts, features = [], [], {}
    for d in range(n_datasets):
        optimum = d / max(1, n_datasets - 1)
        name = f"d{d}"
        for c in range(n_configs):
            x = float(rng.uniform())
            k = int(rng.integers(1, 6))
            kind = str(rng.choice(["a", "b"]))
            score = 1.0 - (x - optimum) ** 2 - 0.01 * k - (0.05 if kind == "b" else 0.0)
            rows.append(
                {"dataset": name, "config_id": c, "x": x, "k": k, "kind": kind, "score": score}
            )
        facts.append({"dataset": name, "fingerprint": f"fp{d}", "openml_did": 100 + d})
        features[name] = {"m": optimum, "noise": float(rng.normal())}
    evaluations = pd.DataFrame(rows)
    # "copy" duplicates d0 under another name: same fingerprint, its own best configuration.
    copy = evaluations[evaluations["dataset"] == "d0"].assign(dataset="copy")
    evaluations = pd.concat([evaluations, copy], ignore_index=True)
    facts.append({"dataset": "copy", "fingerprint": "fp0", "openml_did": np.nan})
    features["copy"] = features["d0"]
    return MetaDataset(
        name="synthetic",
        evaluations=evaluations,
        distributions={
            "x": FloatDistribution(0.0, 1.0),
            "k": IntDistribution(1, 5),
            "kind": CategoricalDistribution(["a", "b"]),
        },
        datasets=pd.DataFrame(facts).set_index("dataset"),
        metafeatures=pd.DataFrame(features).T,
    )


def test_duplicates_are_found_by_fingerprint_and_openml_id() -> None:
    meta = synthetic_meta()
    assert meta.duplicates_of("d0") == {"d0", "copy"}
    assert meta.duplicates_of("d3") == {"d3"}
    assert "copy" not in meta.without(meta.duplicates_of("d0")).dataset_names


def test_pool_problem_reveals_untried_recorded_configurations() -> None:
    meta = synthetic_meta()
    problem = PoolProblem.from_meta(meta, "d2")
    pool = meta.pool("d2")
    recorded = set(pool["score"].round(12))
    rng = np.random.default_rng(1)
    problem.reset()
    seen = []
    for _ in range(len(pool)):
        params = {"x": float(rng.uniform()), "k": int(rng.integers(1, 6)), "kind": "a"}
        score, config_id = problem.evaluate(params)
        assert round(score, 12) in recorded
        assert pool.loc[pool["config_id"] == config_id, "score"].iloc[0] == score
        seen.append(config_id)
    # Within a run no configuration repeats until the pool is used up.
    assert sorted(seen) == sorted(pool["config_id"])
    assert problem.evaluate({"x": 0.5, "k": 1, "kind": "a"})[1] in set(seen)
    problem.reset()
    exact = pool.iloc[7]
    params = {"x": exact["x"], "k": exact["k"], "kind": exact["kind"]}
    assert problem.evaluate(params) == (exact["score"], exact["config_id"])
    # Asking for the same point again reveals the next-nearest configuration, not a repeat.
    assert problem.evaluate(params)[1] != exact["config_id"]


def test_learned_methods_never_see_the_held_out_dataset_or_its_duplicates(
    tmp_path, monkeypatch
) -> None:
    import metaopt.benchmark._metasampler as module

    meta = synthetic_meta()
    seen: list[set[str]] = []
    original = module.make_model

    def spy(name: object) -> object:
        model = original(name)
        fit = model.fit

        def recording_fit(knowledge: object, *args: object, **kwargs: object) -> object:
            seen.append(set(knowledge.datasets))  # type: ignore[attr-defined]
            return fit(knowledge, *args, **kwargs)

        model.fit = recording_fit  # type: ignore[method-assign]
        return model

    monkeypatch.setattr(module, "make_model", spy)
    run_pool_benchmark(
        meta, tmp_path, methods=["nearest+tpe"], seeds=1, budget=3, n_warm=2, progress=False
    )
    assert len(seen) == len(meta.dataset_names)
    for held_out, visible in zip(meta.dataset_names, seen, strict=True):
        assert held_out not in visible
        if held_out in ("d0", "copy"):
            assert not visible & {"d0", "copy"}
        else:
            assert len(visible) == len(meta.dataset_names) - 1


def test_warm_start_configurations_are_the_first_trials(tmp_path) -> None:
    from metaopt.metamodel import NearestDatasets

    meta = synthetic_meta()
    run_pool_benchmark(
        meta,
        tmp_path,
        methods=["nearest+tpe"],
        seeds=1,
        budget=4,
        n_warm=2,
        datasets=["d3"],
        progress=False,
    )
    trace = TraceStore(tmp_path).read()
    train = meta.without(meta.duplicates_of("d3"))
    model = NearestDatasets().fit(train.to_knowledge_base(), meta.name)
    warm = model.rank(meta.metafeatures.loc["d3"], 2, space=meta.name)
    problem = PoolProblem.from_meta(meta, "d3")
    expected = [problem.evaluate(c)[1] for c in warm]
    assert trace.sort_values("trial")["config_id"].tolist()[:2] == expected


@pytest.mark.slow
def test_runs_are_stored_resumed_and_summarised(tmp_path) -> None:
    meta = synthetic_meta(n_datasets=3, n_configs=25)
    methods = ["random", "tpe", "cmaes", "ws-cmaes", "nearest+tpe", "portfolio+tpe"]
    first = run_pool_benchmark(
        meta, tmp_path, methods=methods, seeds=1, budget=10, n_warm=3, progress=False
    )
    assert first == len(meta.dataset_names) * len(methods)
    store = TraceStore(tmp_path)
    victim = store.path("synthetic", "tpe", "d1", 0)
    victim.unlink()
    again = run_pool_benchmark(
        meta, tmp_path, methods=methods, seeds=1, budget=10, n_warm=3, progress=False
    )
    assert again == 1 and victim.is_file()
    traces = store.read("synthetic")
    assert len(traces) == first * 10
    assert set(traces.groupby(["dataset", "method", "seed"]).size()) == {10}
    tables = summarise(tmp_path, budgets=(1, 5, 10))
    summary = tables["summary"]
    assert set(summary["method"]) == set(methods)
    assert summary["mean_regret"].between(0, 1).all()
    # Regret never increases with more trials.
    for _, part in summary.groupby("method"):
        assert part.sort_values("budget")["mean_regret"].is_monotonic_decreasing
    # Ranks of all methods at one budget average to (n + 1) / 2.
    at5 = summary[summary["budget"] == 5]["mean_rank"]
    assert at5.mean() == pytest.approx((len(methods) + 1) / 2)
    assert (tmp_path / "summary.md").is_file() and (tmp_path / "synthetic.png").is_file()
    text = (tmp_path / "summary.md").read_text()
    assert "Trials to reach TPE's regret" in text and "| nearest+tpe |" in text


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_traces(tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    meta = synthetic_meta(n_datasets=3)
    methods = ["random", "tpe", "cmaes"]
    run_pool_benchmark(
        meta, tmp_path / "local", methods=methods, seeds=1, budget=6, progress=False
    )
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        stored = run_pool_benchmark(
            meta,
            tmp_path / "dask",
            methods=methods,
            seeds=1,
            budget=6,
            dask_scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert stored == len(meta.dataset_names) * len(methods)
    local = TraceStore(tmp_path / "local").read().sort_values(["dataset", "method", "trial"])
    remote = TraceStore(tmp_path / "dask").read().sort_values(["dataset", "method", "trial"])
    columns = ["dataset", "method", "trial", "score", "config_id"]
    pd.testing.assert_frame_equal(
        local[columns].reset_index(drop=True), remote[columns].reset_index(drop=True)
    )


def test_learning_methods_need_metafeatures(tmp_path) -> None:
    meta = synthetic_meta()
    bare = MetaDataset(meta.name, meta.evaluations, meta.distributions)
    with pytest.raises(ValueError, match="metafeatures"):
        run_pool_benchmark(bare, tmp_path, methods=["nearest+tpe"], seeds=1, budget=2)
    with pytest.raises(ValueError, match="unknown methods"):
        run_pool_benchmark(meta, tmp_path, methods=["bogus"], seeds=1, budget=2)


def test_changed_data_or_settings_never_mix_with_stored_runs(tmp_path) -> None:
    meta = synthetic_meta(n_datasets=2, n_configs=10)
    run_pool_benchmark(meta, tmp_path, methods=["random"], seeds=1, budget=3, progress=False)
    with pytest.raises(ValueError, match="other data or settings"):
        run_pool_benchmark(meta, tmp_path, methods=["random"], seeds=1, budget=5, progress=False)
    changed = MetaDataset(
        meta.name,
        meta.evaluations.assign(score=meta.evaluations["score"] * 2),
        meta.distributions,
        datasets=meta.datasets,
        metafeatures=meta.metafeatures,
    )
    with pytest.raises(ValueError, match="--fresh"):
        run_pool_benchmark(
            changed, tmp_path, methods=["random"], seeds=1, budget=3, progress=False
        )
    stored = run_pool_benchmark(
        changed, tmp_path, methods=["random"], seeds=1, budget=3, progress=False, fresh=True
    )
    assert stored == len(meta.dataset_names)
    traces = TraceStore(tmp_path).read()
    assert len(traces) == 3 * len(meta.dataset_names)
    assert traces["score"].max() > 1.0  # only runs on the changed scores remain


def test_a_crashing_method_is_recorded_and_reported_not_fatal(tmp_path, monkeypatch) -> None:
    from metaopt.benchmark import BUILTIN_METHODS, Method

    def broken(context, seed):
        raise ArithmeticError("boom")

    monkeypatch.setitem(BUILTIN_METHODS, "broken", Method("broken", broken, False, "fails"))
    meta = synthetic_meta(n_datasets=2, n_configs=10)
    stored = run_pool_benchmark(
        meta, tmp_path, methods=["random", "broken"], seeds=2, budget=3, progress=False
    )
    assert stored == 2 * len(meta.dataset_names)  # every random run, no broken run
    failures = TraceStore(tmp_path).failures("synthetic")
    assert set(failures["broken"]) == {"d0", "d1", "copy"}
    assert "ArithmeticError: boom" in failures["broken"]["d0"]
    tables = summarise(tmp_path)
    assert set(tables["summary"]["method"]) == {"random"}
    assert "**broken failed** on 3 datasets" in (tmp_path / "summary.md").read_text()
