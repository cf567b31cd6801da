"""Benchmark metrics: normalised regret, mean rank and trials to reach a reference regret."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

RUN_KEYS = ["benchmark", "dataset", "method", "seed"]


def pool_bounds(traces: pd.DataFrame, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """Best and worst score per (benchmark, dataset) that normalised regret divides by.

    Args:
        traces: Per-trial traces.
        known: Bounds known beforehand (pool mode: the best and worst recorded score of each
            pool), indexed by (benchmark, dataset) with columns ``best`` and ``worst``. Datasets
            not in it (live mode) use the best and worst score any run reached there.

    Returns:
        Frame indexed by (benchmark, dataset) with columns ``best`` and ``worst``.
    """
    observed = traces.groupby(["benchmark", "dataset"])["score"].agg(best="max", worst="min")
    if known is None or known.empty:
        return observed
    return pd.concat([known, observed[~observed.index.isin(known.index)]])


def regret_curves(
    traces: pd.DataFrame, bounds: pd.DataFrame, budget: int | None = None
) -> pd.DataFrame:
    """Normalised regret of the incumbent after each trial, one row per run and trial.

    ``regret = (best - incumbent) / (best - worst)`` within the dataset's pool, as HPO-B defines
    it, clipped to [0, 1]; before the first successful trial it is 1. A run shorter than
    ``budget`` keeps its last value.

    Returns:
        Columns benchmark, dataset, method, seed, trial, regret.
    """
    budget = int(budget or traces["trial"].max())
    frames = []
    for key, run in traces.sort_values("trial").groupby(RUN_KEYS, sort=False):
        best, worst = bounds.loc[(key[0], key[1])]
        span = best - worst
        scores = run["score"].to_numpy(dtype=float)[:budget]
        incumbent = np.fmax.accumulate(np.where(np.isnan(scores), -np.inf, scores))
        regret = (
            np.clip((best - incumbent) / span, 0.0, 1.0) if span > 0 else np.zeros(len(incumbent))
        )
        regret = np.where(np.isfinite(incumbent), regret, 1.0)
        if len(regret) < budget:
            regret = np.concatenate([regret, np.full(budget - len(regret), regret[-1])])
        frames.append(
            pd.DataFrame(
                {
                    "benchmark": key[0],
                    "dataset": key[1],
                    "method": key[2],
                    "seed": key[3],
                    "trial": np.arange(1, budget + 1),
                    "regret": regret,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def mean_regret(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean normalised regret per benchmark, method and trial with a 95% confidence half-width.

    Seeds are averaged within each dataset first; the interval is over datasets (normal
    approximation, ``1.96 * sd / sqrt(n_datasets)``).
    """
    per_dataset = (
        curves.groupby(["benchmark", "method", "dataset", "trial"])["regret"].mean().reset_index()
    )
    grouped = per_dataset.groupby(["benchmark", "method", "trial"])["regret"]
    table = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    table["ci95"] = 1.96 * table["sd"].fillna(0.0) / np.sqrt(table["n"])
    return table.drop(columns="sd")


def mean_ranks(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean rank of each method per benchmark and trial (1 = lowest regret; ties share).

    Methods are ranked on every (dataset, seed) at every trial; ranks are averaged over seeds
    within a dataset, then over datasets. Only (dataset, seed) pairs where every method ran are
    ranked.

    Returns:
        Columns benchmark, method, trial, rank, plus per-dataset ranks available through
        :func:`dataset_ranks`.
    """
    ranks = dataset_ranks(curves)
    table = ranks.groupby(["benchmark", "method", "trial"])["rank"].mean()
    return table.reset_index()


def dataset_ranks(curves: pd.DataFrame) -> pd.DataFrame:
    """Rank of each method per (benchmark, dataset, trial), averaged over seeds."""
    methods = curves.groupby("benchmark")["method"].nunique()
    frames = []
    for benchmark, part in curves.groupby("benchmark"):
        complete = part.groupby(["dataset", "seed"])["method"].transform("nunique")
        part = part[complete == methods[benchmark]]
        ranked = part.assign(
            rank=part.groupby(["dataset", "seed", "trial"])["regret"].rank(method="average")
        )
        frames.append(ranked)
    ranked = pd.concat(frames, ignore_index=True)
    return ranked.groupby(["benchmark", "dataset", "method", "trial"])["rank"].mean().reset_index()


def trials_to_reach(
    curves: pd.DataFrame, reference: str = "tpe", reference_budget: int = 50
) -> pd.DataFrame:
    """Trials each method needs to reach the reference method's regret at a reference budget.

    Per dataset the target is the reference method's regret after ``reference_budget`` trials,
    averaged over seeds. For each method the count is computed two ways:

    * ``aggregate``: the first trial at which the method's mean regret over datasets is at most
      the reference's mean regret at ``reference_budget`` (HPO-B's "reaches GP's 100-trial regret
      in 40 trials");
    * ``median_per_run``: the median over (dataset, seed) runs of the first trial reaching the
      dataset's target (runs that never reach it count as never), with ``reached`` the share of
      runs that did.

    Returns:
        Columns benchmark, method, aggregate, median_per_run, reached (NaN counts mean "not
        within the budget").
    """
    rows = []
    for benchmark, part in curves.groupby("benchmark"):
        ref = part[part["method"] == reference]
        if ref.empty:
            continue
        budget_used = min(reference_budget, int(part["trial"].max()))
        target = ref[ref["trial"] == budget_used].groupby("dataset")["regret"].mean()
        per_dataset_means = (
            part.groupby(["method", "dataset", "trial"])["regret"]
            .mean()
            .groupby(["method", "trial"])
            .mean()
        )
        aggregate_target = float(target.mean())
        for method, runs in part.groupby("method"):
            curve = per_dataset_means.loc[method]
            hit = curve[curve <= aggregate_target + 1e-12]
            firsts = []
            for (dataset, _seed), run in runs.groupby(["dataset", "seed"]):
                run_hit = run[run["regret"] <= target.get(dataset, np.nan) + 1e-12]
                firsts.append(float(run_hit["trial"].min()) if not run_hit.empty else np.inf)
            firsts_array = np.array(firsts)
            median = float(np.median(firsts_array)) if len(firsts_array) else np.nan
            rows.append(
                {
                    "benchmark": benchmark,
                    "method": method,
                    "aggregate": float(hit.index.min()) if not hit.empty else np.nan,
                    "median_per_run": median if np.isfinite(median) else np.nan,
                    "reached": float(np.isfinite(firsts_array).mean()) if firsts else np.nan,
                }
            )
    return pd.DataFrame(rows)


def worst_case(
    curves: pd.DataFrame, method: str, reference: str = "tpe", budget: int = 50
) -> pd.DataFrame:
    """Per dataset: ``method``'s regret minus ``reference``'s at ``budget`` and its noise level.

    ``noise`` is the standard error of the difference of the two seed means; ``z`` the
    difference in units of it (``z > 2``: worse by more than noise). Both are NaN where a
    method has a single seed there (no spread to measure). Sorted worst first.
    """
    budget = min(budget, int(curves["trial"].max()))
    at = curves[(curves["trial"] == budget) & curves["method"].isin([method, reference])]
    stats = at.groupby(["benchmark", "dataset", "method"])["regret"].agg(["mean", "std", "count"])
    rows = []
    for (benchmark, dataset), part in stats.groupby(level=[0, 1]):
        part = part.droplevel([0, 1])
        if method not in part.index or reference not in part.index:
            continue
        a, b = part.loc[method], part.loc[reference]
        diff = float(a["mean"] - b["mean"])
        noise = math.nan
        if min(a["count"], b["count"]) >= 2:
            noise = float(np.sqrt(a["std"] ** 2 / a["count"] + b["std"] ** 2 / b["count"]))
        rows.append(
            {
                "benchmark": benchmark,
                "dataset": dataset,
                "method": method,
                "method_regret": float(a["mean"]),
                "reference_regret": float(b["mean"]),
                "difference": diff,
                "noise": noise,
                "z": (
                    math.nan
                    if math.isnan(noise)
                    else diff / noise
                    if noise > 0
                    else (np.inf if diff > 0 else 0.0)
                ),
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values("difference", ascending=False) if not table.empty else table
