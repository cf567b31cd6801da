"""Fixtures shared by the sampler tests: a small synthetic knowledge base and a dataset near one
of its datasets."""

from __future__ import annotations

import pandas as pd
import pytest

from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase
from metaopt.testing import toy_knowledge


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    evaluations, metafeatures = toy_knowledge(n_datasets=10, n_configs=20, seed=3)
    return KnowledgeBase(evaluations, metafeatures, {"schema_version": SCHEMA_VERSION})


@pytest.fixture(scope="module")
def target(kb: KnowledgeBase) -> pd.Series:
    """Metafeatures 1% away from the third known dataset's."""
    return kb.metafeatures.iloc[2] * 1.01
