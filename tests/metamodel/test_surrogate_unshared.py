"""SurrogateRanker on random-search tables: no configuration is evaluated on two datasets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from metaopt.metamodel import SurrogateRanker, normalize_scores
from metaopt.metamodel._data import canonical_key
from metaopt.metamodel._encoding import ConfigEncoder
from metaopt.metamodel._surrogate import _config_prior
from metaopt.testing import toy_knowledge


def _random_search_table(
    n_datasets: int = 12, n_configs: int = 25, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Toy structure (best x = mf_x, best kind from mf_kind), fresh configurations per dataset."""
    _, metafeatures = toy_knowledge(n_datasets=n_datasets, n_configs=1, seed=seed)
    rng = np.random.default_rng(seed)
    rows = []
    for dataset, mf in metafeatures.iterrows():
        good_kind = "a" if mf["mf_kind"] > 0 else "b"
        for config_id in range(n_configs):
            config = {"x": float(rng.uniform(0, 1)), "kind": str(rng.choice(["a", "b"]))}
            score = 0.6 - (config["x"] - mf["mf_x"]) ** 2 - 0.2 * (config["kind"] != good_kind)
            rows.append(
                {
                    "dataset": dataset,
                    "task": "classification",
                    "space": "toy",
                    "config_id": config_id,
                    "params": json.dumps(config),
                    "score": float(score),
                }
            )
    return pd.DataFrame(rows), metafeatures


def test_surrogate_ranks_unseen_datasets_when_no_configuration_is_shared() -> None:
    evaluations, metafeatures = _random_search_table()
    keys = [canonical_key(json.loads(p)) for p in evaluations["params"]]
    assert len(set(keys)) == len(keys)  # the situation of the bug: all unshared
    evaluations["normalized"] = normalize_scores(evaluations).to_numpy()
    quality = []
    for dataset in metafeatures.index[:4]:
        train = evaluations[evaluations["dataset"] != dataset]
        model = SurrogateRanker(max_iter=60).fit(train, metafeatures=metafeatures)
        best = model.rank(metafeatures.loc[dataset], n=1)[0]
        assert canonical_key(best) in set(keys)  # a configuration of the table
        # Score the pick on the held-out dataset with the same (known) pattern, normalised.
        pool = evaluations[evaluations["dataset"] == dataset]
        mf = metafeatures.loc[dataset]
        good_kind = "a" if mf["mf_kind"] > 0 else "b"
        score = 0.6 - (best["x"] - mf["mf_x"]) ** 2 - 0.2 * (best["kind"] != good_kind)
        low, high = pool["score"].min(), pool["score"].max()
        quality.append((score - low) / (high - low))
    # A random pick scores the pool's mean normalised score, about 0.5 here.
    assert np.mean(quality) > 0.8


def test_leave_one_out_prior_of_an_unshared_row_is_its_nearest_other_configuration() -> None:
    configs = [{"x": 0.1}, {"x": 0.9}, {"x": 0.15}, {"x": 0.85}]
    rows = pd.DataFrame(
        {
            "dataset": ["a", "a", "b", "b"],
            "params": [json.dumps(c) for c in configs],
            "config_key": [canonical_key(c) for c in configs],
            "normalized_score": [1.0, 0.0, 0.2, 0.7],
        }
    )
    encoder = ConfigEncoder().fit(configs)
    _, values, prior = _config_prior(rows, rows, encoder)
    np.testing.assert_allclose(values, [1.0, 0.0, 0.2, 0.7])
    # Never the row's own score: the nearest configuration of the other dataset.
    np.testing.assert_allclose(prior, [0.2, 0.7, 1.0, 0.0])


def test_surrogate_fits_a_single_unshared_dataset_without_a_prior() -> None:
    evaluations, metafeatures = _random_search_table(n_datasets=1)
    model = SurrogateRanker(max_iter=30).fit(evaluations, metafeatures=metafeatures)
    ranked = model.rank(metafeatures.iloc[0], n=3)
    predicted = model.predict(metafeatures.iloc[0], ranked)
    assert len(ranked) == 3 and np.isfinite(predicted).all()
    state = next(iter(model.models_.values()))
    assert state.prior_points is None  # no other dataset to take a prior from
