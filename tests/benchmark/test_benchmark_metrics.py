"""Normalised regret, ranks, trials-to-reach and worst case on hand-computed traces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metaopt.benchmark import (
    mean_ranks,
    mean_regret,
    pool_bounds,
    regret_curves,
    trials_to_reach,
    worst_case,
)


def traces(runs: dict[tuple[str, str, int], list[float]]) -> pd.DataFrame:
    rows = []
    for (dataset, method, seed), scores in runs.items():
        for trial, score in enumerate(scores, start=1):
            rows.append(
                {
                    "benchmark": "b",
                    "dataset": dataset,
                    "method": method,
                    "seed": seed,
                    "trial": trial,
                    "score": score,
                }
            )
    return pd.DataFrame(rows)


BOUNDS = pd.DataFrame(
    {"best": [1.0, 10.0], "worst": [0.0, 0.0]},
    index=pd.MultiIndex.from_tuples([("b", "x"), ("b", "y")], names=["benchmark", "dataset"]),
)


def test_regret_is_hpo_b_normalised_incumbent_regret() -> None:
    frame = traces({("x", "m", 0): [0.2, np.nan, 0.6, 0.5], ("y", "m", 0): [np.nan, 5.0, 10.0]})
    curves = regret_curves(frame, BOUNDS, budget=4).set_index(["dataset", "trial"])["regret"]
    assert curves.loc["x"].tolist() == pytest.approx([0.8, 0.8, 0.4, 0.4])
    # Before any successful trial the regret is 1; a short run keeps its last value.
    assert curves.loc["y"].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])


def test_pool_bounds_fall_back_to_observed_scores() -> None:
    frame = traces({("x", "m", 0): [0.3, 0.4], ("z", "m", 0): [2.0, 5.0]})
    bounds = pool_bounds(frame, BOUNDS)
    assert bounds.loc[("b", "x")].tolist() == [1.0, 0.0]
    assert bounds.loc[("b", "z")].tolist() == [5.0, 2.0]


def test_mean_regret_averages_seeds_then_datasets() -> None:
    frame = traces(
        {
            ("x", "m", 0): [0.0],
            ("x", "m", 1): [1.0],  # dataset x: regrets 1 and 0 -> 0.5
            ("y", "m", 0): [8.0],  # dataset y: regret 0.2
        }
    )
    table = mean_regret(regret_curves(frame, BOUNDS))
    row = table.iloc[0]
    assert row["mean"] == pytest.approx(0.35)
    assert row["n"] == 2
    assert row["ci95"] == pytest.approx(1.96 * np.std([0.5, 0.2], ddof=1) / np.sqrt(2))


def test_mean_rank_shares_ties_and_averages() -> None:
    frame = traces(
        {
            ("x", "a", 0): [0.9],
            ("x", "b", 0): [0.5],
            ("x", "c", 0): [0.5],
            ("y", "a", 0): [1.0],
            ("y", "b", 0): [9.0],
            ("y", "c", 0): [10.0],
        }
    )
    ranks = mean_ranks(regret_curves(frame, BOUNDS)).set_index("method")["rank"]
    assert ranks.to_dict() == pytest.approx({"a": (1 + 3) / 2, "b": (2.5 + 2) / 2, "c": 1.75})


def test_trials_to_reach_reference_regret() -> None:
    frame = traces(
        {
            ("x", "tpe", 0): [0.1, 0.2, 0.5, 0.6],  # regret at trial 4: 0.4
            ("x", "fast", 0): [0.7, 0.7, 0.7, 0.7],  # reaches 0.4 at trial 1
            ("x", "slow", 0): [0.1, 0.1, 0.1, 0.55],  # never reaches 0.4
        }
    )
    table = trials_to_reach(regret_curves(frame, BOUNDS), "tpe", 4).set_index("method")
    assert table.loc["fast", "aggregate"] == 1
    assert table.loc["tpe", "aggregate"] == 4
    assert np.isnan(table.loc["slow", "aggregate"])
    assert table.loc["slow", "reached"] == 0.0


def test_worst_case_compares_seed_means_with_their_noise() -> None:
    frame = traces(
        {
            ("x", "meta", 0): [0.5],
            ("x", "meta", 1): [0.7],
            ("x", "tpe", 0): [0.9],
            ("x", "tpe", 1): [0.9],
            ("y", "meta", 0): [10.0],
            ("y", "meta", 1): [10.0],
            ("y", "tpe", 0): [9.0],
            ("y", "tpe", 1): [9.0],
        }
    )
    table = worst_case(regret_curves(frame, BOUNDS), "meta", "tpe", budget=1)
    worst = table.iloc[0]
    assert worst["dataset"] == "x"
    assert worst["difference"] == pytest.approx(0.4 - 0.1)
    assert worst["noise"] == pytest.approx(np.std([0.5, 0.3], ddof=1) / np.sqrt(2))
    assert table.iloc[1]["difference"] == pytest.approx(-0.1)
    # One seed: no spread to measure, so no dataset is called worse than noise.
    single = traces({("x", "meta", 0): [0.5], ("x", "tpe", 0): [0.9]})
    row = worst_case(regret_curves(single, BOUNDS), "meta", "tpe", budget=1).iloc[0]
    assert row["difference"] == pytest.approx(0.4) and np.isnan(row["noise"])
    assert np.isnan(row["z"])


def test_datasets_with_unfinished_runs_are_left_out_of_the_summary() -> None:
    from metaopt.benchmark._report import complete_datasets

    frame = traces(
        {
            ("x", "a", 0): [0.1],
            ("x", "b", 0): [0.2],
            ("y", "a", 0): [1.0],  # method b never finished on y
        }
    )
    kept, left_out = complete_datasets(frame)
    assert set(kept["dataset"]) == {"x"}
    assert left_out == {"b": ["y"]}


def test_goal_lines_compare_the_metasampler_with_every_warm_started_baseline() -> None:
    from metaopt.benchmark._report import _goal_lines

    regret = {
        "metasampler": [0.10, 0.05],
        "tpe": [0.20, 0.01],
        "nearest+tpe": [0.15, 0.06],
        "portfolio+tpe": [0.10, 0.04],
    }
    summary = pd.DataFrame(
        [
            {"method": m, "budget": b, "mean_regret": r, "mean_rank": 1.0 + r}
            for m, values in regret.items()
            for b, r in zip((5, 50), values, strict=True)
        ]
    )
    text = "\n".join(_goal_lines(summary, list(regret), pd.DataFrame(), final=50))
    assert "metasampler beats nearest+tpe (lower mean regret) at every budget: yes." in text
    assert (
        "metasampler beats portfolio+tpe (lower mean regret) at every budget: no: worse at "
        "budgets [50], tied at [5]." in text
    )
    assert "ws-cmaes" not in text  # not run, not compared
    assert "after 5 trials as good as TPE after 50: no (regret 0.1000 vs 0.0100)" in text
