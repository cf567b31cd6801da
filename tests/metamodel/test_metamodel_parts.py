"""Normalisation, encoding, scaling and greedy selection used by the meta-models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from metaopt.metamodel import (
    ConfigEncoder,
    MetafeatureScaler,
    greedy_diverse_top_n,
    greedy_portfolio,
    normalize_scores,
)


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dataset": ["a", "a", "a", "a", "b", "b", "b"],
            "space": ["s"] * 7,
            "task": ["classification"] * 7,
            "score": [0.5, 0.9, 0.7, np.nan, 10.0, 30.0, 20.0],
            "status": ["ok", "ok", "ok", "failed", "ok", "ok", "timeout"],
        }
    )


def test_rank_normalisation_is_per_dataset_and_failures_are_worst() -> None:
    normalized = normalize_scores(_rows())
    assert normalized.tolist() == [0.0, 1.0, 0.5, 0.0, 0.0, 1.0, 0.0]


def test_minmax_normalisation_is_linear_within_dataset() -> None:
    rows = _rows()
    rows.loc[6, "status"] = "ok"
    normalized = normalize_scores(rows, method="minmax")
    np.testing.assert_allclose(normalized, [0.0, 1.0, 0.5, 0.0, 0.0, 1.0, 0.5])


def test_single_configuration_dataset_scores_one() -> None:
    rows = pd.DataFrame({"dataset": ["a"], "space": ["s"], "task": ["t"], "score": [0.3]})
    assert normalize_scores(rows).tolist() == [1.0]


def test_normalisation_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalize_scores(_rows(), method="zscore")
    with pytest.raises(ValueError, match="columns"):
        normalize_scores(_rows().drop(columns="dataset"))


def test_encoder_log_scales_wide_positive_ranges_and_one_hots_categories() -> None:
    configs = [
        {"lr": 1e-4, "n": 1, "kind": "a"},
        {"lr": 1e-1, "n": 3, "kind": "b"},
        {"lr": 1e-2, "n": 2, "kind": "b", "extra": True},
    ]
    encoder = ConfigEncoder().fit(configs)
    encoded = encoder.transform(configs)
    assert encoder.columns_ == ["lr", "n", 'kind="a"', 'kind="b"', "extra=true"]
    np.testing.assert_allclose(encoded[:, 0], [0.0, 1.0, 2 / 3])  # log scale
    np.testing.assert_allclose(encoded[:, 1], [0.0, 1.0, 0.5])  # linear: spans < 2 decades
    np.testing.assert_allclose(encoded[:, 2:4], [[0.5, 0], [0, 0.5], [0, 0.5]])
    assert np.isnan(encoded[0, 4]) and encoded[2, 4] == 0.5  # inactive -> NaN


def test_scaler_compresses_heavy_tails_and_imputes_missing() -> None:
    frame = pd.DataFrame(
        {"rows": [10.0, 100.0, 1e6], "constant": [1.0, 1.0, 1.0], "x": [0.0, np.nan, 1.0]},
        index=["a", "b", "c"],
    )
    scaler = MetafeatureScaler().fit(frame)
    assert scaler.columns_ == ["rows", "x"]  # the constant column carries no information
    scaled = scaler.transform(frame)
    assert 0.0 < scaled[1, 0] < 0.5  # 100 is far below the middle of [10, 1e6] on a log scale
    assert scaled[1, 1] == 0.5  # the median of the known values
    far = scaler.transform(pd.Series({"rows": 1e30, "x": 0.5}))
    assert far[0, 0] == 1.5  # clipped


def test_plain_top_n_without_penalty() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7])
    assert greedy_diverse_top_n(scores, np.zeros((4, 1)), 3, penalty=0.0) == [1, 3, 2]


def test_diverse_top_n_skips_near_copies() -> None:
    scores = np.array([1.0, 0.99, 0.98, 0.7])
    points = np.array([[0.0, 0.0], [0.01, 0.0], [0.0, 0.02], [1.0, 1.0]])
    picks = greedy_diverse_top_n(scores, points, 2, penalty=0.5)
    assert picks == [0, 3]


def test_diverse_top_n_handles_small_pools_and_bad_shapes() -> None:
    assert greedy_diverse_top_n(np.array([0.3]), np.zeros((1, 2)), 5) == [0]
    with pytest.raises(ValueError, match="shape"):
        greedy_diverse_top_n(np.zeros(3), np.zeros((2, 2)), 1)


def test_greedy_portfolio_complements_rather_than_repeats() -> None:
    # Config 0 is best on average, but 1 and 2 together cover both kinds of dataset.
    performance = np.array([[0.8, 1.0, 0.0], [0.8, 0.0, 1.0], [0.8, 1.0, 0.0], [0.8, 0.0, 1.0]])
    chosen, values = greedy_portfolio(performance, 3)
    assert chosen[0] == 0
    assert set(chosen[1:]) == {1, 2}
    assert values == sorted(values)


def test_greedy_portfolio_stops_once_nothing_improves() -> None:
    # After 1 and 2 every dataset is at its best: the later columns would all tie.
    performance = np.array([[0.1, 1.0, 0.0, 0.5], [0.2, 0.0, 1.0, 0.5]])
    chosen, values = greedy_portfolio(performance, 4)
    assert set(chosen) == {1, 2}
    assert values[-1] == 1.0


def test_portfolio_orders_ties_after_saturation_by_mean_score() -> None:
    from metaopt.metamodel import Portfolio
    from metaopt.testing import toy_knowledge

    # Configurations 3, 1 and 2 bring both datasets to their best; after them the rest must
    # follow by mean score (4 before 0), not by the order of their keys.
    evaluations, metafeatures = toy_knowledge(n_datasets=2, n_configs=5)
    per_config = {0: (0.0, 0.0), 1: (1.0, 0.0), 2: (0.0, 1.0), 3: (0.5, 0.5), 4: (0.4, 0.4)}
    first = evaluations["dataset"] == evaluations["dataset"].iloc[0]
    evaluations["score"] = [
        per_config[c][0 if f else 1] for c, f in zip(evaluations["config_id"], first, strict=True)
    ]
    model = Portfolio().fit(evaluations, "toy", metafeatures=metafeatures)
    ids = {
        json.loads(text)["x"]: c
        for c, text in zip(evaluations["config_id"], evaluations["params"], strict=True)
    }
    explained = model.explain(None, n=5, space="toy")
    ranked = [ids[p["x"]] for p in explained["params"]]
    assert ranked[0] == 3 and sorted(ranked[1:3]) == [1, 2]
    assert ranked[3:] == [4, 0]
    assert list(explained["source"])[3:] == ["mean rank", "mean rank"]


def test_kernel_regression_of_stacked_sources_matches_each_source_alone() -> None:
    from metaopt.metamodel._kernel_regression import kernel_regression

    rng = np.random.default_rng(0)
    sizes, widths = [5, 1, 12], np.array([0.1, 0.3, 0.05])
    points = [rng.uniform(size=(n, 3)) for n in sizes]
    values = [rng.uniform(size=n) for n in sizes]
    queries = rng.uniform(size=(7, 3)) * 3.0  # some far from every point: no 0/0
    stacked = kernel_regression(
        np.concatenate(points), np.concatenate(values), np.array([0, 5, 6]), widths, queries
    )
    for i, (x, y, h) in enumerate(zip(points, values, widths, strict=True)):
        d2 = ((queries[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
        w = np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / (2 * h * h))
        np.testing.assert_allclose(stacked[i], (w @ y) / w.sum(axis=1), rtol=1e-9)
    assert np.isfinite(stacked).all()
    np.testing.assert_allclose(stacked[1], values[1][0])  # one point: its value everywhere
