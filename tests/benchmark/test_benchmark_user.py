"""A user's own samplers and meta-datasets in pool mode: custom methods, reuse of stored runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import FloatDistribution

from metaopt.benchmark import (
    MetaDataset,
    Method,
    TraceStore,
    resolve_methods,
    run_pool_benchmark,
    summarise,
)


def toy_meta(log: bool = False) -> MetaDataset:
    """Two datasets of 12 recorded configurations of one positive float parameter."""
    rng = np.random.default_rng(1)
    rows = [
        {"dataset": f"d{d}", "x": float(x), "score": 1 - (x - d / 2) ** 2}
        for d in range(2)
        for x in rng.uniform(0.01, 1.0, size=12)
    ]
    return MetaDataset("toy", pd.DataFrame(rows), {"x": FloatDistribution(0.01, 1.0, log=log)})


def qmc(seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)


def test_own_sampler_factory_runs_as_a_method(tmp_path: Path) -> None:
    mine = Method.from_sampler("mine", qmc)
    stored = run_pool_benchmark(
        toy_meta(), tmp_path, methods=["random", mine], seeds=2, budget=3, progress=False
    )
    assert stored == 8
    traces = TraceStore(tmp_path).read()
    assert set(traces["method"]) == {"random", "mine"}
    assert set(summarise(tmp_path, budgets=(1, 3), plots=False)["summary"]["method"]) == {
        "random",
        "mine",
    }


def test_own_method_with_a_builtin_name_is_refused() -> None:
    with pytest.raises(ValueError, match="built-in name"):
        resolve_methods([Method.from_sampler("tpe", qmc)])


def test_sampler_factory_returning_something_else_fails_clearly() -> None:
    bad = Method.from_sampler("bad", lambda seed: seed)
    with pytest.raises(TypeError, match="expected an optuna.samplers.BaseSampler"):
        bad.build(None, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("methods", ["tpe", [optuna.samplers.RandomSampler()]])
def test_methods_of_the_wrong_type_are_refused(tmp_path: Path, methods: object) -> None:
    with pytest.raises(TypeError, match="methods must be"):
        run_pool_benchmark(
            toy_meta(), tmp_path, methods=methods, seeds=1, budget=2, progress=False
        )


def test_runs_of_another_search_space_are_not_reused(tmp_path: Path) -> None:
    run_pool_benchmark(toy_meta(), tmp_path, methods=["random"], seeds=1, budget=2, progress=False)
    with pytest.raises(ValueError, match="other data or settings"):
        run_pool_benchmark(
            toy_meta(log=True), tmp_path, methods=["random"], seeds=1, budget=2, progress=False
        )


def test_runs_stored_before_the_space_was_recorded_are_still_reused(tmp_path: Path) -> None:
    run_pool_benchmark(toy_meta(), tmp_path, methods=["random"], seeds=1, budget=2, progress=False)
    path = tmp_path / "benchmarks" / "toy.json"
    info = json.loads(path.read_text(encoding="utf-8"))
    del info["key"]["distributions"]
    path.write_text(json.dumps(info), encoding="utf-8")
    assert (
        run_pool_benchmark(
            toy_meta(), tmp_path, methods=["random"], seeds=1, budget=2, progress=False
        )
        == 0
    )
