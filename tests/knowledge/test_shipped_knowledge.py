"""The knowledge base shipped in metaopt/knowledge/data/: schema and stated coverage."""

from __future__ import annotations

import json

import pytest

import metaopt.knowledge as knowledge
from metaopt import spaces


@pytest.fixture(scope="module")
def shipped() -> knowledge.KnowledgeBase:
    return knowledge.load()


def test_shipped_files_are_small_and_not_pickles() -> None:
    names = sorted(p.name for p in knowledge.SHIPPED_DIR.iterdir() if not p.name.startswith("."))
    assert names == ["evaluations.parquet", "metafeatures.parquet", "provenance.json"]
    total = sum(p.stat().st_size for p in knowledge.SHIPPED_DIR.iterdir())
    assert total < 8 * 2**20


def test_shipped_schema_is_valid(shipped: knowledge.KnowledgeBase) -> None:
    shipped.validate()
    assert shipped.provenance["schema_version"] == knowledge.SCHEMA_VERSION
    for key in ("command", "created", "libraries", "settings", "datasets", "sources"):
        assert shipped.provenance[key], key


def test_shipped_coverage(shipped: knowledge.KnowledgeBase) -> None:
    ev = shipped.evaluations
    assert len(shipped.datasets) >= 100
    assert len(shipped.spaces) >= 5
    per_unit = ev.groupby(["dataset", "space"])["config_id"].nunique()
    assert per_unit.min() >= 64
    assert len(per_unit) == len(shipped.datasets) * len(shipped.spaces)
    # Distinct content: no dataset appears twice under two names.
    assert ev.groupby("fingerprint")["dataset"].nunique().max() == 1
    assert set(shipped.metafeatures.index) == set(shipped.datasets)
    assert (ev["status"] == "ok").mean() > 0.9


def test_shipped_configs_match_the_spaces(shipped: knowledge.KnowledgeBase) -> None:
    for space_name in shipped.spaces:
        space = spaces.get(space_name)
        rows = shipped.evaluations[shipped.evaluations["space"] == space_name]
        defaults = rows.loc[rows["config_id"] == 0, "params"].map(json.loads)
        assert all(d == space.default for d in defaults), space_name
        sample = rows.loc[rows["config_id"] == 5, "params"].map(json.loads).iloc[0]
        assert space.complete(sample) == sample  # every stored config is valid for the space
        n_configs = shipped.provenance["settings"]["n_configs"]
        expected = knowledge.configurations(
            space, n_configs, shipped.provenance["settings"]["seed"]
        )
        assert sample == expected[5]  # the stored configs are reproducible from the seed
