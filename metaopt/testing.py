"""Helpers for tests and examples of code built on metaopt: small knowledge tables.

They stand in for the shipped knowledge base where a test must be fast and must not depend on
it: :func:`toy_knowledge` is a synthetic table with a known, learnable structure;
:func:`toy_knowledge_base` is a :class:`~metaopt.knowledge.KnowledgeBase` of real datasets'
metafeatures and simulated scores.

Example:
    >>> from metaopt.metamodel import NearestDatasets
    >>> from metaopt.testing import toy_knowledge
    >>> evaluations, metafeatures = toy_knowledge(n_datasets=6, n_configs=8)
    >>> model = NearestDatasets().fit(evaluations, "toy", metafeatures=metafeatures)
    >>> len(model.rank(metafeatures.iloc[0], n=3))
    3
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd


def _evaluation_row(
    dataset: str,
    fingerprint: str,
    task: str,
    space: str,
    config_id: int,
    config: dict[str, Any],
    score: float,
    metric: str,
) -> dict[str, Any]:
    """One successful evaluation in the knowledge-base schema."""
    return {
        "dataset": dataset,
        "fingerprint": fingerprint,
        "task": task,
        "space": space,
        "config_id": config_id,
        "params": json.dumps(config),
        **config,
        "score": float(score),
        "fold_scores": [float(score)],
        "metric": metric,
        "secondary_score": np.nan,
        "fit_time": 0.0,
        "status": "ok",
        "error": None,
        "source": "toy",
    }


def toy_knowledge(
    n_datasets: int = 12,
    n_configs: int = 24,
    *,
    space: str = "toy",
    task: str = "classification",
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(evaluations, metafeatures)`` in the knowledge-base schema, with a learnable pattern.

    Every dataset evaluates the same configurations of ``x`` in ``[0, 1]`` (float),
    ``depth`` in ``1..10`` (int) and ``kind`` in ``{"a", "b"}``. The best ``x`` equals the
    dataset's metafeature ``mf_x``; ``kind="a"`` is better exactly when ``mf_kind > 0``;
    ``depth`` barely matters. Scores differ in level between datasets (easy and hard ones).

    Example:
        >>> evaluations, metafeatures = toy_knowledge(n_datasets=3, n_configs=4)
        >>> evaluations.shape[0], list(metafeatures.columns)
        (12, ['mf_x', 'mf_kind', 'mf_rows', 'mf_noise'])
    """
    rng = np.random.default_rng(seed)
    datasets = [f"toy:{i}" for i in range(n_datasets)]
    metafeatures = pd.DataFrame(
        {
            "mf_x": rng.uniform(0, 1, n_datasets),
            "mf_kind": rng.normal(0, 1, n_datasets),
            "mf_rows": rng.integers(100, 100_000, n_datasets).astype(float),
            "mf_noise": rng.normal(0, 1, n_datasets),
        },
        index=pd.Index(datasets, name="dataset"),
    )
    configs = [
        {
            "x": float(rng.uniform(0, 1)),
            "depth": int(rng.integers(1, 11)),
            "kind": str(rng.choice(["a", "b"])),
        }
        for _ in range(n_configs)
    ]
    rows = []
    for dataset in datasets:
        mf = metafeatures.loc[dataset]
        level = rng.uniform(0.3, 0.9)
        for config_id, config in enumerate(configs):
            good_kind = "a" if mf["mf_kind"] > 0 else "b"
            score = (
                level
                - (config["x"] - mf["mf_x"]) ** 2
                - 0.2 * (config["kind"] != good_kind)
                - 0.001 * config["depth"]
                + rng.normal(0, 0.005)
            )
            rows.append(
                _evaluation_row(dataset, dataset, task, space, config_id, config, score, "toy")
            )
    return pd.DataFrame(rows), metafeatures


def toy_knowledge_base(
    datasets: dict[str, Any],
    *,
    space: str = "knn",
    n_configs: int = 16,
    seed: int = 0,
) -> Any:
    """A :class:`~metaopt.knowledge.KnowledgeBase` with real metafeatures and simulated scores.

    The metafeatures of each dataset are extracted for real; the configurations are a Sobol
    sample of the registered ``space``; each dataset's score of a configuration is a smooth
    random function of its encoded parameters, different per dataset. Meant for tests and
    examples that must run without the shipped knowledge base.

    Args:
        datasets: ``{dataset id: metaopt.datasets.Dataset}``; all of one task.
        space: A registered space name.
        n_configs: Configurations per dataset (the same ones for every dataset).
        seed: Seed of the configurations and of the simulated scores.
    """
    from metaopt import spaces
    from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase
    from metaopt.metafeatures import extract_metafeatures
    from metaopt.metamodel import ConfigEncoder

    tasks = {d.task for d in datasets.values()}
    if len(tasks) != 1:
        raise ValueError(f"all datasets must share one task, got {sorted(tasks)}")
    task = tasks.pop()
    configs = spaces.get(space, task).sample(n_configs, seed=seed)
    encoded = np.nan_to_num(ConfigEncoder().fit(configs).transform(configs), nan=0.5)
    rng = np.random.default_rng(seed)
    rows, metafeatures = [], {}
    for dataset_id, dataset in datasets.items():
        metafeatures[dataset_id] = extract_metafeatures(dataset, random_state=0)
        weights = rng.normal(0, 1, encoded.shape[1])
        scores = 0.5 + 0.1 * np.tanh(encoded @ weights)
        for config_id, (config, score) in enumerate(zip(configs, scores, strict=True)):
            rows.append(
                _evaluation_row(
                    dataset_id,
                    dataset.fingerprint,
                    task,
                    space,
                    config_id,
                    config,
                    score,
                    "simulated",
                )
            )
    frame = pd.DataFrame(metafeatures).T
    frame.index.name = "dataset"
    return KnowledgeBase(
        pd.DataFrame(rows), frame, {"schema_version": SCHEMA_VERSION, "sources": ["toy"]}
    )


__all__ = ["toy_knowledge", "toy_knowledge_base"]
