"""Source trials of warm-started CMA-ES from the most similar datasets.

The datasets are found by the library's own nearest-dataset search
(:meth:`metaopt.metamodel.NearestDatasets.neighbors`); the nearest-dataset and portfolio
baselines are MetaSampler itself (``metaopt.benchmark._metasampler``). Only the meta-dataset the
protocol gives is seen, already stripped of the held-out dataset's group.
"""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd

from metaopt.benchmark._metadataset import MetaDataset, params_records


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
    from metaopt.metamodel import NearestDatasets

    space = meta.space or meta.name
    nearest = NearestDatasets().fit(meta.to_knowledge_base(), space)
    order = list(nearest.neighbors(target, n_datasets, space=space)["dataset"])
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
