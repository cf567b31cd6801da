"""A dataset-independent greedy portfolio (auto-sklearn 2.0 style)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metaopt.metamodel._base import MetaModel, check_int, check_number
from metaopt.metamodel._data import parse_params
from metaopt.metamodel._encoding import ConfigEncoder


@dataclass
class _SpaceState:
    order: list[str]
    gains: list[float]
    params: dict[str, dict[str, Any]]
    # Datasets x candidate configurations (normalised scores), for locality weighting.
    datasets: list[str]
    keys: list[str]
    table: np.ndarray
    # How many of ``order`` the greedy portfolio chose (the rest is by mean score), and the
    # normalisation of the scores.
    steps: int = 0
    normalization: str = "rank"


def greedy_portfolio(
    performance: np.ndarray, size: int, weights: np.ndarray | None = None
) -> tuple[list[int], list[float]]:
    """Columns of ``performance`` (datasets x configurations) chosen greedily.

    Each step adds the configuration that most raises the (weighted) mean over datasets of the
    best score reached so far; NaN (not evaluated) never raises it. Ties go to the earlier
    column. It stops early once no configuration raises that mean any more: every remaining
    column would tie, and the order among ties says nothing.

    Returns:
        The chosen column indices and the mean best score after each addition.

    Example:
        >>> import numpy as np
        >>> perf = np.array([[1.0, 0.0, 0.6], [0.0, 1.0, 0.6]])
        >>> greedy_portfolio(perf, 2)
        ([2, 0], [0.6, 0.8])
    """
    n_datasets, n_configs = performance.shape
    w = np.full(n_datasets, 1.0 / n_datasets) if weights is None else weights / weights.sum()
    best = np.zeros(n_datasets)
    filled = np.where(np.isnan(performance), -np.inf, performance)
    chosen: list[int] = []
    values: list[float] = []
    available = np.ones(n_configs, dtype=bool)
    for _ in range(min(size, n_configs)):
        value = w @ np.maximum(filled, best[:, None])
        value[~available] = -np.inf
        pick = int(np.argmax(value))
        if chosen and value[pick] <= values[-1] + 1e-12:
            break
        chosen.append(pick)
        values.append(float(value[pick]))
        available[pick] = False
        best = np.maximum(best, filled[:, pick])
    return chosen, values


def _impute_by_nearest_config(
    table: pd.DataFrame, params: dict[str, dict[str, Any]], per_dataset: int
) -> pd.DataFrame:
    """Candidates x datasets, where a missing score is that of the nearest evaluated config."""
    candidates: set[str] = set()
    for _, scores in table.iterrows():
        candidates.update(scores.dropna().sort_values(ascending=False).index[:per_dataset])
    candidate_keys = sorted(candidates)
    encoder = ConfigEncoder().fit(list(params.values()))
    encoded = pd.DataFrame(
        np.nan_to_num(encoder.transform([params[k] for k in table.columns]), nan=-1.0),
        index=table.columns,
    )
    target = encoded.loc[candidate_keys].to_numpy()
    filled = table[candidate_keys].copy()
    for dataset, scores in table.iterrows():
        known = scores.dropna()
        if known.empty:
            continue
        points = encoded.loc[known.index].to_numpy()
        distance = np.abs(target[:, None, :] - points[None, :, :]).mean(axis=2)
        nearest = known.to_numpy()[distance.argmin(axis=1)]
        row = filled.loc[dataset]
        filled.loc[dataset] = np.where(row.isna(), nearest, row)
    return filled


class Portfolio(MetaModel):
    """The same ranking for every dataset: a greedy portfolio over the known datasets.

    Configurations are added one at a time, each time the one that most improves the average
    (over known datasets) of the best normalised score reached so far. The result covers
    different kinds of datasets rather than repeating the single best-on-average configuration,
    and needs no metafeatures: it is the fallback when a dataset's metafeatures cannot be
    computed or used.

    Args:
        normalization: Per-dataset score normalisation, ``"rank"`` or ``"minmax"``.
        max_size: Length of the greedy portfolio built at ``fit``; longer requests continue with
            the remaining configurations by mean normalised score.
        locality: ``None`` (default) for the dataset-independent portfolio. A positive number
            weights each known dataset by ``exp(-d / (locality * t))`` in the greedy mean, where
            ``d`` is its metafeature distance to the new dataset and ``t`` the typical
            nearest-neighbour distance: small values approach nearest datasets, large ones the
            plain portfolio.
        candidates_per_dataset: When datasets were evaluated on different configurations
            (e.g. random search), the candidates are each dataset's best few, and a candidate's
            score on a dataset that did not evaluate it is that of the dataset's nearest
            evaluated configuration.

    Example:
        >>> from metaopt.metamodel import Portfolio
        >>> from metaopt.testing import toy_knowledge
        >>> evaluations, metafeatures = toy_knowledge()
        >>> model = Portfolio().fit(evaluations, metafeatures=metafeatures)
        >>> len(model.rank(None, n=4))
        4
    """

    def __init__(
        self,
        normalization: str = "rank",
        max_size: int = 32,
        candidates_per_dataset: int = 5,
        locality: float | None = None,
    ) -> None:
        self.normalization = normalization
        self.max_size = max_size
        self.candidates_per_dataset = candidates_per_dataset
        self.locality = locality

    @property
    def uses_metafeatures(self) -> bool:  # type: ignore[override]
        """Only a locality-weighted portfolio looks at the dataset."""
        return self.locality is not None

    def _check_params(self) -> None:
        super()._check_params()
        check_int(self.max_size, "max_size", 1)
        check_int(self.candidates_per_dataset, "candidates_per_dataset", 1)
        if self.locality is not None:
            check_number(self.locality, "locality", positive=True)

    def _fit_space(
        self, rows: pd.DataFrame, metafeatures: pd.DataFrame, space: str, task: str
    ) -> _SpaceState:
        table = rows.pivot_table(
            index="dataset", columns="config_key", values="normalized_score", aggfunc="mean"
        )
        # A configuration that failed wherever it ran scores like the worst one, so once the
        # portfolio covers every dataset it would tie with real candidates: never offer it.
        ok = rows["score"].notna()
        if "status" in rows.columns:
            ok &= rows["status"].fillna("ok").eq("ok")
        succeeded = set(rows.loc[ok, "config_key"])
        if succeeded and len(succeeded) < table.shape[1]:
            table = table[[k for k in table.columns if k in succeeded]]
        first = rows.drop_duplicates("config_key")
        params = {
            k: parse_params(p) for k, p in zip(first["config_key"], first["params"], strict=True)
        }
        if table.notna().to_numpy().mean() < 1.0:
            table = _impute_by_nearest_config(table, params, self.candidates_per_dataset)
        keys = list(table.columns)
        chosen, gains = greedy_portfolio(table.to_numpy(dtype=float), self.max_size)
        mean = table.mean(axis=0).to_numpy()
        taken = set(chosen)
        rest = [i for i in np.argsort(-mean, kind="stable") if i not in taken]
        order = [keys[i] for i in chosen] + [keys[i] for i in rest]
        gains = gains + [float(mean[i]) for i in rest]
        table_keys = list(table.columns)
        return _SpaceState(
            order,
            gains,
            params,
            [str(d) for d in table.index],
            table_keys,
            table.to_numpy(float),
            steps=len(chosen),
            normalization=str(self.normalization),
        )

    def _explain_space(
        self, state: _SpaceState, target: np.ndarray | None, n: int
    ) -> pd.DataFrame:
        if target is not None:
            return self._local(state, target, n)
        keys = state.order[:n]
        rest = "mean rank" if state.normalization == "rank" else "mean normalised score"
        sources = [
            f"portfolio step {i + 1}" if i < state.steps else rest for i in range(len(keys))
        ]
        return pd.DataFrame(
            {
                "params": [dict(state.params[k]) for k in keys],
                "score": state.gains[: len(keys)],
                "source": sources,
            },
            columns=["params", "score", "source"],
        )

    def _local(self, state: _SpaceState, target: np.ndarray, n: int) -> pd.DataFrame:
        check_number(self.locality, "locality", positive=True)  # it may be set after fit
        distances = self._distances(target, state.datasets)
        typical = np.median(np.sort(distances)[: max(1, len(distances) // 10)])
        scale = float(self.locality) * max(float(typical), 1e-6)
        weights = np.exp(-(distances - distances.min()) / scale)
        chosen, gains = greedy_portfolio(state.table, min(n, len(state.keys)), weights)
        sources = [f"local portfolio step {i + 1}" for i in range(len(chosen))]
        # Once nothing improves any more, the rest by weighted mean score.
        mean = (weights / weights.sum()) @ np.nan_to_num(state.table, nan=0.0)
        taken = set(chosen)
        for i in np.argsort(-mean, kind="stable"):
            if len(chosen) >= n:
                break
            if int(i) not in taken:
                chosen.append(int(i))
                gains.append(float(mean[i]))
                sources.append("locally weighted mean score")
        return pd.DataFrame(
            {
                "params": [dict(state.params[state.keys[i]]) for i in chosen],
                "score": gains,
                "source": sources,
            },
            columns=["params", "score", "source"],
        )
