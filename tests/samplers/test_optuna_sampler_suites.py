"""MetaSampler passes Optuna's own sampler test suites, warm-start trials included."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from optuna.samplers import BaseSampler, TPESampler
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)

from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase
from metaopt.samplers import MetaSampler


def _suite_knowledge() -> KnowledgeBase:
    """Configurations of the suites' parameter names, with values outside their ranges."""
    rng = np.random.default_rng(0)
    rows = []
    for d in range(4):
        for c in range(6):
            config = {
                "x": float(rng.uniform(-30, 30)),
                "y": float(rng.uniform(-3, 12)),
                "z": float(rng.uniform(-2, 2)),
                "category": str(rng.choice(["x", "y", "w"])),
            }
            rows.append(
                {
                    "dataset": f"d{d}",
                    "fingerprint": f"d{d}",
                    "task": "classification",
                    "space": "suite",
                    "config_id": c,
                    "params": json.dumps(config),
                    **config,
                    "score": float(rng.uniform()),
                    "fold_scores": [],
                    "metric": "m",
                    "secondary_score": np.nan,
                    "fit_time": 0.0,
                    "status": "ok",
                    "error": None,
                    "source": "test",
                }
            )
    metafeatures = pd.DataFrame(
        rng.normal(size=(4, 3)),
        index=pd.Index([f"d{d}" for d in range(4)], name="dataset"),
        columns=["a", "b", "c"],
    )
    return KnowledgeBase(pd.DataFrame(rows), metafeatures, {"schema_version": SCHEMA_VERSION})


_KB = _suite_knowledge()
_TARGET = pd.Series({"a": 0.1, "b": -0.3, "c": 1.0})


def _make(base_sampler: BaseSampler | None = None) -> MetaSampler:
    return MetaSampler(
        metafeatures=_TARGET,
        task="classification",
        space="suite",
        knowledge=_KB,
        n_warm=3,
        model="nearest",
        seed=0,
        base_sampler=base_sampler,
    )


def _make_relative() -> MetaSampler:
    # The relative suite is for samplers that sample jointly: wrap one that does.
    return _make(TPESampler(multivariate=True, n_startup_trials=0, seed=0))


class TestMetaSamplerBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return _make


class TestMetaSamplerRelative(RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return _make_relative


class TestMetaSamplerMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return _make
