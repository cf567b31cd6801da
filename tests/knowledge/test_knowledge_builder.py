"""The resumable builder: a small real build, resume after kill, failures, Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from optuna.distributions import FloatDistribution
from sklearn.base import BaseEstimator, ClassifierMixin

import metaopt.knowledge as knowledge
from metaopt import spaces
from metaopt.datasets import Dataset, load_dataset
from metaopt.spaces import SearchSpace


def _sklearn(name: str) -> Dataset:
    return load_dataset(f"sklearn:{name}")


@pytest.fixture(scope="module")
def real_datasets(pmlb_dir: Path, openml_arff_dir: Path) -> list[Dataset]:
    return [
        load_dataset(pmlb_dir / "analcatdata_aids.tsv.gz"),
        load_dataset(pmlb_dir / "lupus.tsv.gz"),
        load_dataset(openml_arff_dir / "10-lymph.arff"),
    ]


def test_small_real_build_end_to_end(real_datasets: list[Dataset], tmp_path: Path) -> None:
    ids = {"pmlb:analcatdata_aids", "pmlb:lupus", "openml:10"}
    mapping = {knowledge.dataset_id(d): d for d in real_datasets}
    assert set(mapping) == ids
    kb = knowledge.build(
        real_datasets,
        ["knn", "logistic_regression"],
        n_configs=4,
        work_dir=tmp_path / "work",
        output=tmp_path / "kb",
        cv=3,
        max_rows=60,
        n_jobs=1,
        progress=False,
    )
    everything = kb.evaluations
    ev = everything[everything["fidelity"] == "base"]
    assert len(ev) == 3 * 2 * 4
    assert ev["n_rows"].le(60).all()
    # Full fidelity: only datasets larger than the base cap, at their own size (cap 10,000),
    # on the default plus the best and the fixed random base configurations.
    full = everything[everything["fidelity"] == "full"]
    sizes = {d: f["n_rows_full"] for d, f in kb.provenance["datasets"].items()}
    assert set(full["dataset"]) == {d for d, n in sizes.items() if n > 60}
    assert (full["n_rows"] == full["dataset"].map(sizes)).all()
    for (dataset, space), rows in full.groupby(["dataset", "space"]):
        assert 0 in set(rows["config_id"])
        base = ev[(ev["dataset"] == dataset) & (ev["space"] == space)]
        best = base.sort_values("score", ascending=False)["config_id"].iloc[0]
        assert best in set(rows["config_id"])
    assert set(ev["dataset"]) == ids and kb.spaces == ["knn", "logistic_regression"]
    for (_, space), rows in ev.groupby(["dataset", "space"]):
        assert sorted(rows["config_id"]) == [0, 1, 2, 3]
        default = rows.loc[rows["config_id"] == 0, "params"].iloc[0]
        assert json.loads(default) == spaces.get(space).default
    # The same configurations on every dataset, so scores compare across datasets.
    assert ev.groupby(["space", "config_id"])["params"].nunique().max() == 1
    ok = ev[ev["status"] == "ok"]
    assert len(ok) > 0.8 * len(ev)
    assert ok["score"].between(0, 1).all()
    means = ok["fold_scores"].map(np.mean)
    np.testing.assert_allclose(ok["score"], means)
    assert ok["fold_scores"].map(len).eq(3).all()
    assert (ok["secondary_score"] <= 0).all()  # neg_log_loss
    facts = kb.provenance["datasets"]["openml:10"]
    assert facts["n_rows"] == 148 and facts["n_rows_used"] == 60
    assert ev.groupby("dataset")["fingerprint"].nunique().eq(1).all()
    assert set(kb.metafeatures.index) == ids and kb.metafeatures.index.name == "dataset"
    kb.validate()
    saved = knowledge.load(tmp_path / "kb")
    pd.testing.assert_frame_equal(saved.evaluations, everything)
    # A rerun finds every unit done: nothing is evaluated or written twice.
    again = knowledge.build(
        real_datasets,
        ["knn", "logistic_regression"],
        n_configs=4,
        work_dir=tmp_path / "work",
        cv=3,
        max_rows=60,
        n_jobs=1,
        progress=False,
    )
    pd.testing.assert_frame_equal(again.evaluations, everything)
    with pytest.raises(ValueError, match="other settings"):
        knowledge.build(real_datasets, ["knn"], n_configs=5, work_dir=tmp_path / "work")


def test_bad_settings_are_refused_before_any_work(tmp_path) -> None:
    data = ["sklearn:iris"]
    with pytest.raises(ValueError, match="cv must be an int >= 2"):
        knowledge.build(data, ["knn"], n_configs=2, cv=1, work_dir=tmp_path / "a")
    with pytest.raises(TypeError, match="n_configs must be an int"):
        knowledge.build(data, ["knn"], n_configs=2.5, work_dir=tmp_path / "b")


def test_a_base_built_without_metafeatures_is_saved_readable(tmp_path) -> None:
    kb = knowledge.build(
        ["sklearn:iris"],
        ["knn"],
        n_configs=2,
        work_dir=tmp_path / "w",
        metafeatures=False,
        output=tmp_path / "out",
        progress=False,
    )
    again = knowledge.load(tmp_path / "out")
    assert again.metafeatures.empty and len(again.evaluations) == len(kb.evaluations)
    # One that describes some datasets must describe them all.
    partial = again.concat(knowledge.load().subset(["openml:31"]))
    with pytest.raises(ValueError, match=r"(?s)could not be read back.*lack metafeat"):
        partial.save(tmp_path / "partial")
    assert not (tmp_path / "partial").exists()


def test_a_source_that_cannot_be_loaded_is_skipped_and_recorded(tmp_path) -> None:
    bad = tmp_path / "single.csv"
    bad.write_text("a,b,class\n1,2,0\n3,4,0\n5,6,0\n")
    kb = knowledge.build(
        [str(bad), "sklearn:iris"], ["knn"], n_configs=2, work_dir=tmp_path / "w", progress=False
    )
    assert kb.datasets == ["sklearn:iris"]
    records = [json.loads(f.read_text()) for f in (tmp_path / "w").rglob("datasets/*.json")]
    skipped = [r for r in records if r.get("skipped")]
    assert len(skipped) == 1 and "single value" in skipped[0]["skipped"]


_KILLED_BUILD = textwrap.dedent(
    """
    import sys
    import metaopt.knowledge as knowledge
    from metaopt.datasets import load_dataset
    datasets = [load_dataset(f"sklearn:{n}") for n in ("iris", "wine", "breast_cancer")]
    knowledge.build(datasets, ["svm", "knn", "logistic_regression"], n_configs=12,
                    work_dir=sys.argv[1], n_jobs=1, metafeatures=False, progress=False)
    """
)


@pytest.mark.slow
def test_resume_after_kill_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    parts = work / "parts" / "evaluations"
    process = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, str(work)])
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(parts.glob("*.parquet"))) < 2:
        assert process.poll() is None, "the build ended before it could be killed"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = {p.name: p.read_bytes() for p in parts.glob("*.parquet")}
    assert 2 <= len(before) < 9, "the kill should land midway through the 9 units"
    datasets = [_sklearn(n) for n in ("iris", "wine", "breast_cancer")]
    kb = knowledge.build(
        datasets,
        ["svm", "knn", "logistic_regression"],
        n_configs=12,
        work_dir=work,
        n_jobs=1,
        metafeatures=False,
        progress=False,
    )
    ev = kb.evaluations
    assert len(ev) == 9 * 12
    assert not ev.duplicated(["dataset", "space", "config_id"]).any()
    # Units finished before the kill were kept as they were, not recomputed.
    assert {p.name: p.read_bytes() for p in parts.glob("*.parquet") if p.name in before} == before
    assert not [p for p in parts.iterdir() if p.suffix != ".parquet"]


def _descendants(pid: int) -> set[int]:
    """Process ids below ``pid`` (Linux ``/proc``)."""
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            listed = task / "children"
            children = listed.read_text().split() if listed.exists() else []
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" not in status.read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_terminated_build_leaves_no_worker_processes(tmp_path: Path) -> None:
    work = tmp_path / "work"
    parts = work / "parts" / "evaluations"
    script = _KILLED_BUILD.replace("n_jobs=1", "n_jobs=2")
    process = subprocess.Popen([sys.executable, "-c", script, str(work)])
    deadline = time.monotonic() + 240
    workers: set[int] = set()
    while time.monotonic() < deadline and not (parts.is_dir() and any(parts.glob("*.parquet"))):
        assert process.poll() is None, "the build ended before it could be terminated"
        workers |= _descendants(process.pid)
        time.sleep(0.05)
    workers |= _descendants(process.pid)
    assert workers, "the build should run its units in worker processes"
    process.terminate()
    assert process.wait(timeout=60) != 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)], "worker processes outlived the build"


class _Probe(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; fails for x > 0.7 and stalls for x < 0.1."""

    def __init__(self, x: float = 0.3) -> None:
        self.x = x

    def fit(self, X: object, y: np.ndarray) -> _Probe:
        if self.x > 0.7:
            raise ValueError(f"probe failure at x={self.x:.2f}")
        if self.x < 0.1:
            time.sleep(3)
        values, counts = np.unique(y, return_counts=True)
        self.classes_ = values
        self.majority_ = values[np.argmax(counts)]
        return self

    def predict(self, X: object) -> np.ndarray:
        return np.full(len(X), self.majority_)  # type: ignore[arg-type]


@pytest.fixture
def probe_space() -> object:
    def factory(task: str) -> SearchSpace:
        return SearchSpace(
            "probe",
            task,
            {"x": FloatDistribution(0.0, 1.0)},
            {"x": 0.3},
            lambda params: _Probe(**params),
        )

    spaces.register("probe", factory)
    yield factory
    from metaopt.spaces import _registry

    _registry._FACTORIES.pop("probe")


def test_failures_and_timeouts_are_recorded_not_dropped(
    probe_space: object, tmp_path: Path
) -> None:
    seed = 2
    xs = [c["x"] for c in knowledge.configurations(spaces.get("probe"), 16, seed)]
    expected = ["failed" if x > 0.7 else "timeout" if x < 0.1 else "ok" for x in xs]
    assert {"failed", "timeout", "ok"} <= set(expected)  # the seed exercises every path
    single_class = Dataset(
        X=pd.DataFrame({"a": np.arange(20.0)}),
        y=pd.Series(pd.Categorical(["only"] * 20)),
        task="classification",
        name="constant",
        source="test:constant",
    )
    kb = knowledge.build(
        {"iris": _sklearn("iris"), "constant": single_class},
        ["probe"],
        n_configs=16,
        work_dir=tmp_path,
        seed=seed,
        timeout=0.5,
        metafeatures=False,
        n_jobs=1,
        progress=False,
    )
    ev = kb.evaluations.sort_values("config_id")
    assert ev["status"].tolist() == expected
    failed = ev[ev["status"] == "failed"]
    assert failed["error"].str.contains("probe failure").all()
    assert ev.loc[ev["status"] == "timeout", "error"].str.contains("ConfigTimeout").all()
    assert ev.loc[ev["status"] != "ok", "score"].isna().all()
    assert ev.loc[ev["status"] == "ok", "score"].notna().all()
    assert "skipped" in kb.provenance["datasets"]["constant"]
    kb.validate(require_metafeatures=False)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_knowledge(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    distributed = pytest.importorskip("distributed")
    datasets = [_sklearn("iris"), _sklearn("wine")]
    options = dict(n_configs=4, metafeatures=False, progress=False)
    local = knowledge.build(
        datasets, ["knn", "svm"], work_dir=tmp_path / "local", n_jobs=1, **options
    )
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        on_dask = knowledge.build(datasets, ["knn", "svm"], work_dir=tmp_path / "dask", **options)
    columns = ["dataset", "space", "config_id", "params", "score", "status"]
    pd.testing.assert_frame_equal(on_dask.evaluations[columns], local.evaluations[columns])


class _Broken:
    """A suite entry whose loading raises something other than ValueError/OSError."""

    name = "broken"
    source = "test:broken"

    def load(self) -> Dataset:
        raise RuntimeError("the mirror returned garbage")


def test_damaged_parts_are_redone_and_broken_datasets_skipped(tmp_path: Path) -> None:
    options = dict(n_configs=3, work_dir=tmp_path, n_jobs=1, metafeatures=False, progress=False)
    kb = knowledge.build({"iris": _sklearn("iris"), "broken": _Broken()}, ["knn"], **options)
    assert "RuntimeError" in kb.provenance["datasets"]["broken"]["skipped"]
    part = next((tmp_path / "parts" / "evaluations").glob("*knn.parquet"))
    good = kb.evaluations
    part.write_bytes(part.read_bytes()[:100])  # a build killed while writing, without rename
    again = knowledge.build({"iris": _sklearn("iris")}, ["knn"], **options)
    columns = [c for c in good.columns if c != "fit_time"]
    pd.testing.assert_frame_equal(again.evaluations[columns], good[columns])
    for facts in again.provenance["datasets"].values():
        assert not str(facts.get("source", "")).startswith("/")
    assert not any(str(s).startswith("/") for s in again.provenance["sources"])


def test_full_fidelity_ids_are_default_best_and_fixed_random() -> None:
    base = pd.DataFrame(
        {
            "config_id": range(10),
            "score": [0.5, 0.9, 0.1, 0.8, np.nan, 0.95, 0.2, 0.3, 0.4, 0.6],
            "status": ["ok"] * 4 + ["failed"] + ["ok"] * 5,
        }
    )
    ids = knowledge.full_fidelity_ids(base, 10, n_best=2, n_random=3, seed=0)
    assert ids[:3] == [0, 5, 1]
    assert len(ids) == len(set(ids)) and 4 not in ids[:3]
    # The random ones are the same on every dataset, whatever its scores.
    other = base.assign(score=base["score"][::-1].to_numpy())
    fixed = knowledge.full_fidelity_ids(base, 10, n_best=0, n_random=3, seed=0)
    assert fixed == knowledge.full_fidelity_ids(other, 10, n_best=0, n_random=3, seed=0)
    assert len(fixed) == 4 and set(fixed[1:]) <= set(ids)


def test_complete_full_evaluates_every_configuration_and_extends_finished_parts(
    tmp_path: Path,
) -> None:
    options = dict(n_configs=6, max_rows=60, n_jobs=1, metafeatures=False, progress=False)
    subset = dict(n_full_best=1, n_full_random=1)
    first = knowledge.build(
        [_sklearn("iris")], ["knn"], work_dir=tmp_path / "a", **options, **subset
    )
    full = first.evaluations[first.evaluations["fidelity"] == "full"]
    assert 2 <= len(full) <= 3  # the default, the best and one fixed random configuration
    # Made complete later: the finished part gains the configurations it lacked, and its
    # earlier rows stay; a rerun that no longer names the space keeps it complete.
    extended = knowledge.build(
        [_sklearn("iris")],
        ["knn"],
        work_dir=tmp_path / "a",
        complete_full=["knn"],
        **options,
        **subset,
    )
    again = knowledge.build(
        [_sklearn("iris")], ["knn"], work_dir=tmp_path / "a", **options, **subset
    )
    settings = json.loads((tmp_path / "a" / "build.json").read_text())
    assert settings["complete_full"] == ["knn"]
    ev = extended.evaluations
    at_full = ev[ev["fidelity"] == "full"].set_index("config_id")
    assert sorted(at_full.index) == list(range(6)) and at_full["n_rows"].eq(150).all()
    columns = ["score", "params", "n_rows"]
    pd.testing.assert_frame_equal(
        at_full.loc[full["config_id"], columns], full.set_index("config_id")[columns]
    )
    assert len(again.evaluations) == len(ev)
    # The same scores as a build complete from the start.
    fresh = knowledge.build(
        [_sklearn("iris")],
        ["knn"],
        work_dir=tmp_path / "b",
        complete_full=["knn"],
        **options,
        **subset,
    ).evaluations
    fresh_full = fresh[fresh["fidelity"] == "full"].set_index("config_id")
    pd.testing.assert_frame_equal(fresh_full[columns], at_full[columns])


def test_forests_record_their_trees_at_each_fidelity(tmp_path: Path) -> None:
    kb = knowledge.build(
        [_sklearn("iris")],
        ["random_forest"],
        n_configs=3,
        work_dir=tmp_path,
        n_jobs=1,
        metafeatures=False,
        progress=False,
    )
    ev = kb.evaluations
    assert set(ev.loc[ev["fidelity"] == "base", "n_trees"]) == {16.0}
    assert set(ev.loc[ev["fidelity"] == "full", "n_trees"]) == {100.0}
    assert ev["n_rows"].eq(150).all()


def test_dataset_ids_keep_the_source_scheme() -> None:
    from types import SimpleNamespace

    def fake(source: str, name: str = "x") -> object:
        return SimpleNamespace(source=source, name=name, metadata={})

    assert knowledge.dataset_id(fake("keel:glass1", "glass1")) == "keel:glass1"
    assert knowledge.dataset_id(fake("sklearn:iris")) == "sklearn:iris"
    assert knowledge.dataset_id(fake("/data/pmlb/wine.tsv.gz", "wine")) == "pmlb:wine"
    assert knowledge.dataset_id(fake("/data/openml/31-credit-g.arff", "credit-g")) == "openml:31"


def test_rerun_resketches_datasets_recorded_with_an_older_sketch(tmp_path: Path) -> None:
    from metaopt.datasets._groups import SKETCH_VERSION

    work = tmp_path / "work"
    datasets = [_sklearn("iris"), _sklearn("wine")]
    options = dict(n_configs=2, work_dir=work, n_jobs=1, metafeatures=False, progress=False)
    knowledge.build(datasets, ["knn"], **options)
    part = next((work / "parts" / "datasets").glob("sklearn_iris*.json"))
    facts = json.loads(part.read_text())
    facts["sketch"]["version"] = SKETCH_VERSION - 1  # as written by an older metaopt
    part.write_text(json.dumps(facts))
    evaluations = {p.name: p.read_bytes() for p in (work / "parts" / "evaluations").iterdir()}
    kb = knowledge.build(datasets, ["knn"], **options)
    assert json.loads(part.read_text())["sketch"]["version"] == SKETCH_VERSION
    assert set(kb.groups) == {"sklearn:iris", "sklearn:wine"}
    # Nothing was evaluated again.
    assert {p.name: p.read_bytes() for p in (work / "parts" / "evaluations").iterdir()} == (
        evaluations
    )
    # A finished dataset that a rerun no longer selects is resketched when consolidating.
    part = next((work / "parts" / "datasets").glob("sklearn_wine*.json"))
    facts = json.loads(part.read_text())
    facts["sketch"]["version"] = SKETCH_VERSION - 1
    part.write_text(json.dumps(facts))
    kb = knowledge.consolidate(work)
    assert json.loads(part.read_text())["sketch"]["version"] == SKETCH_VERSION
    assert kb.groups["sklearn:wine"] == "sklearn:wine"


def test_known_groups_join_built_datasets_whose_copies_are_not_built(tmp_path: Path) -> None:
    datasets = [_sklearn("iris"), _sklearn("wine"), _sklearn("breast_cancer")]
    options = dict(n_configs=2, work_dir=tmp_path, n_jobs=1, metafeatures=False, progress=False)
    # As if a copy that was not built (another name of iris, say) joined iris and wine.
    known = {"sklearn:iris": "copy", "sklearn:wine": "copy", "other:copy": "copy"}
    kb = knowledge.build(datasets, ["knn"], known_groups=known, **options)
    assert kb.groups["sklearn:iris"] == kb.groups["sklearn:wine"]
    assert kb.groups["sklearn:breast_cancer"] == "sklearn:breast_cancer"
    # Recorded in the work directory: a later consolidation keeps the group.
    assert knowledge.consolidate(tmp_path).groups["sklearn:wine"] == kb.groups["sklearn:iris"]
