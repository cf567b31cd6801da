"""Warm-start lists learned from other datasets: nearest datasets, portfolios, CMA-ES sources.

These are the benchmark's own minimal baselines (auto-sklearn 1.0 nearest-dataset warm start,
a greedy auto-sklearn 2.0-style portfolio, WS-CMA-ES source trials); they only ever see the
meta-dataset they are given, which the protocol has already stripped of the held-out dataset.
"""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd

from metaopt.benchmark._metadataset import MetaDataset, params_records
from metaopt.benchmark._problems import ConfigEncoder


def dataset_distances(metafeatures: pd.DataFrame, target: pd.Series) -> pd.Series:
    """L1 distance between ``target`` and each row, on metafeatures standardised by the rows.

    Metafeatures that are constant or missing everywhere are ignored; other missing values count
    as the column mean (distance 0 in that coordinate).
    """
    table = metafeatures.astype(float)
    mean, std = table.mean(), table.std(ddof=0)
    usable = std.notna() & (std > 0)
    scaled = ((table.loc[:, usable] - mean[usable]) / std[usable]).fillna(0.0)
    query = (target.reindex(table.columns)[usable].astype(float) - mean[usable]) / std[usable]
    query = query.fillna(0.0)
    return (scaled - query).abs().sum(axis=1).sort_values(kind="stable")


def nearest_dataset_configs(
    meta: MetaDataset, target: pd.Series, n: int
) -> list[dict[str, object]]:
    """Best recorded configuration of each of the ``n`` datasets nearest to ``target``."""
    if meta.metafeatures is None or meta.metafeatures.empty:
        raise ValueError(f"meta-dataset {meta.name!r} has no metafeatures to find neighbours.")
    order = dataset_distances(meta.metafeatures, target).index
    configs: list[dict[str, object]] = []
    best = meta.evaluations.loc[meta.evaluations.groupby("dataset")["score"].idxmax()]
    best = best.set_index("dataset")
    for dataset in order:
        if len(configs) == n:
            break
        if dataset in best.index:
            row = best.loc[[dataset]]
            config = params_records(row, meta.param_names)[0]
            if config not in configs:
                configs.append(config)
    return configs


def greedy_portfolio(
    meta: MetaDataset, n: int, *, candidates_per_dataset: int = 3
) -> list[dict[str, object]]:
    """A portfolio of ``n`` configurations minimising the mean best-so-far normalised regret.

    Candidates are each dataset's best few configurations; each candidate's regret on another
    dataset is that of the nearest configuration recorded there. Greedy forward selection, as in
    auto-sklearn 2.0.
    """
    evaluations = meta.evaluations
    top = (
        evaluations.sort_values("score", ascending=False, kind="stable")
        .groupby("dataset", sort=False)
        .head(candidates_per_dataset)
    )
    candidates = params_records(top, meta.param_names)
    datasets = meta.dataset_names
    regret = np.empty((len(candidates), len(datasets)))
    for j, dataset in enumerate(datasets):
        pool = meta.pool(dataset)
        scores = pool["score"].to_numpy(dtype=float)
        span = scores.max() - scores.min()
        encoder = ConfigEncoder(meta.distributions, params_records(pool, meta.param_names))
        for i, config in enumerate(candidates):
            found = scores[encoder.nearest(config)]
            regret[i, j] = (scores.max() - found) / span if span > 0 else 0.0
    chosen: list[int] = []
    current = np.ones(len(datasets))
    for _ in range(min(n, len(candidates))):
        totals = np.minimum(regret, current).mean(axis=1)
        totals[chosen] = np.inf
        pick = int(np.argmin(totals))
        chosen.append(pick)
        current = np.minimum(current, regret[pick])
    return [candidates[i] for i in chosen]


def cmaes_source_trials(
    meta: MetaDataset, target: pd.Series, n_datasets: int
) -> list[optuna.trial.FrozenTrial]:
    """Source trials for ``CmaEsSampler(source_trials=...)`` from the most similar datasets.

    Each source dataset's scores are normalised to [0, 1] within its pool so that datasets of
    different difficulty are comparable. Only the numeric parameters (the ones CMA-ES models) are
    set; inactive ones take the middle of their range.
    """
    if meta.metafeatures is None or meta.metafeatures.empty:
        raise ValueError(f"meta-dataset {meta.name!r} has no metafeatures to find neighbours.")
    numeric = {
        name: dist
        for name, dist in meta.distributions.items()
        if isinstance(
            dist, (optuna.distributions.FloatDistribution, optuna.distributions.IntDistribution)
        )
    }
    if not numeric:
        return []
    order = list(dataset_distances(meta.metafeatures, target).index[:n_datasets])
    trials = []
    for dataset in order:
        pool = meta.pool(dataset)
        scores = pool["score"].to_numpy(dtype=float)
        span = scores.max() - scores.min()
        normalised = (scores - scores.min()) / span if span > 0 else np.zeros_like(scores)
        for record, value in zip(params_records(pool, list(numeric)), normalised, strict=True):
            params = {name: record.get(name, _middle(dist)) for name, dist in numeric.items()}
            params = {name: _clip(value_, numeric[name]) for name, value_ in params.items()}
            trials.append(
                optuna.trial.create_trial(params=params, distributions=numeric, value=float(value))
            )
    return trials


def _middle(dist: optuna.distributions.BaseDistribution) -> float | int:
    low, high = float(dist.low), float(dist.high)  # type: ignore[attr-defined]
    middle = float(np.sqrt(low * high)) if dist.log else (low + high) / 2  # type: ignore[attr-defined]
    if isinstance(dist, optuna.distributions.IntDistribution):
        return int(round(middle))
    return middle


def _clip(value: object, dist: optuna.distributions.BaseDistribution) -> float | int:
    low, high = dist.low, dist.high  # type: ignore[attr-defined]
    clipped = min(max(float(value), float(low)), float(high))  # type: ignore[arg-type]
    if isinstance(dist, optuna.distributions.IntDistribution):
        step = dist.step
        return int(low + round((clipped - low) / step) * step)
    return clipped
