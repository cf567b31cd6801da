"""A small synthetic knowledge table with a known structure, for examples and tests."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


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
        {"x": float(rng.uniform(0, 1)), "depth": int(rng.integers(1, 11)),
         "kind": str(rng.choice(["a", "b"]))}
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
                {
                    "dataset": dataset,
                    "fingerprint": dataset,
                    "task": task,
                    "space": space,
                    "config_id": config_id,
                    "params": json.dumps(config),
                    **config,
                    "score": float(score),
                    "metric": "toy",
                    "status": "ok",
                    "source": "toy",
                }
            )
    return pd.DataFrame(rows), metafeatures
