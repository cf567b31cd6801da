"""Live mode: real cross-validation, trial-level resume, leave-one-dataset-out on knowledge."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import metaopt
from metaopt.benchmark import (
    LiveProblem,
    MetaDataset,
    MethodContext,
    TraceStore,
    run_live_benchmark,
    run_study,
)
from metaopt.spaces import get


def knn_knowledge(datasets: list[tuple[str, str, float]]) -> MetaDataset:
    """Recorded knn scores; dataset ``i``'s unique best configuration has 10 * (i + 1) neighbours.

    ``datasets`` holds ``(name, fingerprint, rows)``; ``rows`` is the only metafeature.
    """
    space = get("knn")
    rows = []
    for index, (name, _, _) in enumerate(datasets):
        for config_id, k in enumerate([1, 2, 4, 10 * (index + 1), 64]):
            params = {"n_neighbors": k, "weights": "uniform", "p": 2}
            score = 1.0 if k == 10 * (index + 1) else 0.5
            rows.append(
                {
                    "dataset": name,
                    "config_id": config_id,
                    "score": score,
                    "params": json.dumps(params),
                    **params,
                }
            )
    names = [name for name, _, _ in datasets]
    return MetaDataset(
        name="kb-knn",
        evaluations=pd.DataFrame(rows),
        distributions=dict(space.distributions),
        datasets=pd.DataFrame({"fingerprint": [fp for _, fp, _ in datasets]}, index=names),
        metafeatures=pd.DataFrame({"rows": [r for _, _, r in datasets]}, index=names),
        space="knn",
    )


def fake_metafeatures(dataset: object) -> pd.Series:
    return pd.Series({"rows": float(len(dataset.y))})


@pytest.mark.slow
def test_live_runs_cross_validate_and_resume_trial_by_trial(tmp_path) -> None:
    iris = metaopt.load_dataset("sklearn:iris")
    problem = LiveProblem("live-knn", iris.source, "knn", iris, cv=2, max_rows=None)
    context = MethodContext(None, None, "knn", problem.distributions)
    store = TraceStore(tmp_path)
    first = run_study(problem, "tpe", context, seed=0, budget=2, store=store)
    assert store.study_path("live-knn", "tpe", iris.source, 0).is_file()
    resumed = run_study(problem, "tpe", context, seed=0, budget=4, store=store)
    assert resumed["trial"].tolist() == [1, 2, 3, 4]
    # The first two trials were not redone: same configurations and scores.
    pd.testing.assert_frame_equal(
        first[["params", "score"]], resumed[["params", "score"]].iloc[:2]
    )
    assert resumed["score"].between(0, 1).all() and (resumed["status"] == "ok").all()
    # A configuration's score is its real CV score.
    params = json.loads(resumed["params"].iloc[3])
    again, config_id = problem.evaluate(params)
    assert again == pytest.approx(resumed["score"].iloc[3]) and config_id == -1


@pytest.mark.slow
def test_live_benchmark_excludes_the_evaluated_dataset_from_knowledge(tmp_path) -> None:
    iris = metaopt.load_dataset("sklearn:iris")
    wine = metaopt.load_dataset("sklearn:wine")
    # "iris-copy" is iris under another name (same fingerprint) and its nearest neighbour by
    # metafeatures; once it (and wine itself, for wine) is excluded, each dataset's warm start
    # must come from the other one.
    knowledge = knn_knowledge(
        [
            ("iris-copy", iris.fingerprint, 150.0),
            ("other", "f-other", 1000.0),
            ("wine", wine.fingerprint, 178.0),
        ]
    )
    stored = run_live_benchmark(
        [iris, wine],
        "knn",
        tmp_path,
        knowledge=knowledge,
        methods=["random", "nearest+tpe"],
        seeds=1,
        budget=2,
        n_warm=1,
        cv=2,
        max_rows=None,
        metafeature_fn=fake_metafeatures,
        progress=False,
    )
    assert stored == 4
    traces = TraceStore(tmp_path).read("live-knn")
    warm = traces[(traces["method"] == "nearest+tpe") & (traces["trial"] == 1)]
    first = {row.dataset: json.loads(row.params)["n_neighbors"] for row in warm.itertuples()}
    assert first == {iris.source: 30, wine.source: 10}
    assert (traces["status"] == "ok").all()
