"""MetaSampler inside the benchmark: leave-one-out knowledge and its warm start."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from metaopt.benchmark import PoolProblem, TraceStore, from_knowledge, run_pool_benchmark

pytest.importorskip("metaopt.samplers")
from test_benchmark_pool import synthetic_meta  # noqa: E402  (shared test helper)

from metaopt.benchmark import _metasampler  # noqa: E402


@pytest.mark.slow
def test_every_meta_model_runs_leave_one_dataset_out(tmp_path, monkeypatch) -> None:
    meta = synthetic_meta(n_datasets=4, n_configs=20)
    fitted_on: list[set[str]] = []
    original = _metasampler.make_model

    def spy(name):
        model = original(name)
        fit = model.fit

        def recording_fit(knowledge, space=None, **kwargs):
            fitted_on.append(set(knowledge.evaluations["dataset"]))
            return fit(knowledge, space, **kwargs)

        model.fit = recording_fit
        return model

    monkeypatch.setattr(_metasampler, "make_model", spy)
    methods = sorted(m for m in _metasampler.metasampler_methods())
    run_pool_benchmark(
        meta, tmp_path, methods=methods, seeds=1, budget=4, n_warm=2, progress=False
    )
    # One fit per (held-out dataset, meta-model), never on the held-out dataset or its copy.
    assert len(fitted_on) == len(meta.dataset_names) * len(methods)
    all_names = set(meta.dataset_names)
    assert all(len(names) < len(all_names) for names in fitted_on)
    assert sum(names == all_names - {"d0", "copy"} for names in fitted_on) == 2 * len(methods)
    traces = TraceStore(tmp_path).read()
    assert set(traces["method"]) == set(methods)
    assert traces["score"].notna().all()


def test_nearest_tpe_starts_from_the_nearest_datasets_best(tmp_path) -> None:
    meta = synthetic_meta(n_datasets=5, n_configs=20)
    run_pool_benchmark(
        meta, tmp_path, methods=["nearest+tpe"], seeds=1, budget=3, n_warm=1,
        datasets=["d2"], progress=False,
    )  # fmt: skip
    first = TraceStore(tmp_path).read().sort_values("trial").iloc[0]
    # d2's metafeature m = 0.5 lies between d1 and d3; their best x is near 0.25 or 0.75.
    neighbours = {"d1", "d3"}
    best = {d: meta.pool(d).sort_values("score").iloc[-1] for d in neighbours}
    chosen = json.loads(first["params"])
    problem = PoolProblem.from_meta(meta, "d2")
    expected = set()
    for row in best.values():
        problem.reset()
        expected.add(problem.evaluate({"x": row["x"], "k": row["k"], "kind": row["kind"]})[1])
    assert first["config_id"] in expected
    assert 0.0 <= chosen["x"] <= 1.0


def test_knowledge_base_space_becomes_a_pool_benchmark() -> None:
    from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase
    from metaopt.spaces import get

    space = get("knn")
    rows = []
    for d, name in enumerate(["openml:31", "pmlb:x"]):
        for c, params in enumerate(space.sample(6, seed=d)):
            rows.append(
                {"dataset": name, "fingerprint": f"fp{d}", "task": "classification",
                 "space": "knn", "config_id": c, "params": json.dumps(params), **params,
                 "score": 0.5 + 0.01 * c, "status": "ok", "metric": "balanced_accuracy",
                 "source": "builder"}
            )  # fmt: skip
    kb = KnowledgeBase(
        pd.DataFrame(rows),
        pd.DataFrame({"m": [1.0, 2.0]}, index=pd.Index(["openml:31", "pmlb:x"], name="dataset")),
        {"schema_version": SCHEMA_VERSION},
    )
    meta = from_knowledge(kb, "knn")
    assert meta.name == "kb-knn" and meta.space == "knn"
    assert meta.distributions == dict(space.distributions)
    assert meta.datasets.loc["openml:31", "openml_did"] == 31
    assert meta.datasets.loc["pmlb:x", "fingerprint"] == "fp1"
    assert len(meta.pool("pmlb:x")) == 6
    with pytest.raises(ValueError, match="for task 'regression'; it has \\['classification'\\]"):
        from_knowledge(kb, "knn", task="regression")


def test_a_pool_scored_on_a_subsample_is_queried_at_that_size() -> None:
    from metaopt import spaces
    from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase

    space = spaces.get("knn")
    rows = []
    for d, (name, n_rows) in enumerate([("big", 2000.0), ("small", 300.0)]):
        for c, params in enumerate(space.sample(4, seed=d)):
            rows.append(
                {"dataset": name, "fingerprint": f"fp{d}", "task": "classification",
                 "space": "knn", "config_id": c, "params": json.dumps(params), **params,
                 "score": 0.5 + 0.01 * c, "status": "ok", "metric": "balanced_accuracy",
                 "source": "builder", "n_rows": n_rows}
            )  # fmt: skip
    described = pd.DataFrame(
        {
            "general.n_instances": [9000.0, 300.0],
            "general.n_features": [9.0, 3.0],
            "general.dimensionality": [0.001, 0.01],
        },
        index=pd.Index(["big", "small"], name="dataset"),
    )
    kb = KnowledgeBase(pd.DataFrame(rows), described, {"schema_version": SCHEMA_VERSION})
    meta = from_knowledge(kb, "knn").with_metafeatures(described)
    # The sources keep the rows each score was measured on, for the meta-models' size term.
    assert set(meta.to_evaluations_table()["n_rows"]) == {2000.0, 300.0}
    assert meta.query_metafeatures("big")["general.n_instances"] == 2000.0
    assert meta.query_metafeatures("big")["general.dimensionality"] == 9.0 / 2000.0
    assert meta.query_metafeatures("small").equals(described.loc["small"])
    with pytest.raises(ValueError, match="no metafeatures of dataset 'nope'"):
        meta.query_metafeatures("nope")


def test_configured_metasampler_sets_its_options(tmp_path) -> None:
    from metaopt.benchmark import resolve_methods

    meta = synthetic_meta(n_datasets=4, n_configs=20)
    methods = ["metasampler", "metasampler:transfer=false,n_warm=1"]
    run_pool_benchmark(
        meta, tmp_path, methods=methods, seeds=1, budget=5, n_warm=3, datasets=["d1"],
        progress=False,
    )  # fmt: skip
    traces = TraceStore(tmp_path).read()
    assert set(traces["method"]) == set(methods)
    # The same warm start's first configuration; then the configured one hands over to TPE
    # after one warm trial, while the shipped one keeps proposing from the transfer.
    runs = {m: part.sort_values("trial") for m, part in traces.groupby("method")}
    assert runs["metasampler"]["config_id"].iloc[0] == runs[methods[1]]["config_id"].iloc[0]
    assert not runs["metasampler"]["config_id"].equals(runs[methods[1]]["config_id"])
    with pytest.raises(ValueError, match="accepted options: .*'fade'"):
        resolve_methods(["metasampler:fades=25"])
    with pytest.raises(ValueError, match="sets no option"):
        resolve_methods(["metasampler:"])
    # A value its owner refuses fails here, not in every run of the method.
    with pytest.raises(ValueError, match="fade must be a positive number, got 'x'"):
        resolve_methods(["metasampler:fade=x"])
    with pytest.raises(ValueError, match="similarity must be"):
        resolve_methods(["metasampler:similarity=cosine"])
    (method,) = resolve_methods(["metasampler:fade=2.5,rerank=0"])
    assert method.learns and "fade=2.5" in method.description and "rerank=0" in method.description


def test_configured_metasampler_fits_its_meta_model_with_the_given_settings() -> None:
    from metaopt.benchmark import MethodContext, resolve_methods

    meta = synthetic_meta(n_datasets=4, n_configs=20)
    held_out = meta.metafeatures.iloc[0]
    rest = meta.subset([name for name in meta.dataset_names if name != held_out.name])
    (configured,) = resolve_methods(["metasampler:evidence=3,temperature=0.5,n_warm=1"])
    context = MethodContext(rest, held_out, None, meta.distributions)
    context.prepare(configured)
    model = context.cache["model"]
    assert (model.evidence, model.temperature) == (3, 0.5)
    assert configured.build(context, 0).sampler._n_warm == 1  # the sampler's own option
    (shipped,) = resolve_methods(["metasampler"])
    shipped_context = MethodContext(rest, held_out, None, meta.distributions)
    shipped_context.prepare(shipped)
    assert shipped_context.cache["model"].evidence == 1.0
