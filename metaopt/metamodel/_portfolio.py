"""A dataset-independent greedy portfolio (auto-sklearn 2.0 style)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metaopt.metamodel._base import MetaModel
from metaopt.metamodel._data import parse_params


@dataclass
class _SpaceState:
    order: list[str]
    gains: list[float]
    params: dict[str, dict[str, Any]]


def greedy_portfolio(performance: np.ndarray, size: int) -> tuple[list[int], list[float]]:
    """Columns of ``performance`` (datasets x configurations) chosen greedily.

    Each step adds the configuration that most raises the mean over datasets of the best score
    reached so far; NaN (not evaluated) never raises it. Ties go to the earlier column.

    Returns:
        The chosen column indices and the mean best score after each addition.

    Example:
        >>> import numpy as np
        >>> perf = np.array([[1.0, 0.0, 0.6], [0.0, 1.0, 0.6]])
        >>> greedy_portfolio(perf, 2)
        ([2, 0], [0.6, 0.8])
    """
    n_datasets, n_configs = performance.shape
    best = np.zeros(n_datasets)
    filled = np.where(np.isnan(performance), -np.inf, performance)
    chosen: list[int] = []
    values: list[float] = []
    available = np.ones(n_configs, dtype=bool)
    for _ in range(min(size, n_configs)):
        value = np.maximum(filled, best[:, None]).mean(axis=0)
        value[~available] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        values.append(float(value[pick]))
        available[pick] = False
        best = np.maximum(best, filled[:, pick])
    return chosen, values


class Portfolio(MetaModel):
    """The same ranking for every dataset: a greedy portfolio over the known datasets.

    Configurations are added one at a time, each time the one that most improves the average
    (over known datasets) of the best normalised score reached so far. The result covers
    different kinds of datasets rather than repeating the single best-on-average configuration,
    and needs no metafeatures: it is the fallback when a dataset is unlike anything known or its
    metafeatures cannot be computed.

    Args:
        normalization: Per-dataset score normalisation, ``"rank"`` or ``"minmax"``.
        max_size: Length of the greedy portfolio built at ``fit``; longer requests continue with
            the remaining configurations by mean normalised score.

    Example:
        >>> from metaopt.metamodel import Portfolio, toy_knowledge
        >>> evaluations, metafeatures = toy_knowledge()
        >>> model = Portfolio().fit(evaluations, metafeatures=metafeatures)
        >>> len(model.rank(None, n=4))
        4
    """

    uses_metafeatures = False

    def __init__(self, normalization: str = "rank", max_size: int = 32) -> None:
        self.normalization = normalization
        self.max_size = max_size

    def _fit_space(
        self, rows: pd.DataFrame, metafeatures: pd.DataFrame, space: str, task: str
    ) -> _SpaceState:
        if not isinstance(self.max_size, int) or self.max_size < 1:
            raise ValueError(f"max_size must be a positive int, got {self.max_size!r}")
        table = rows.pivot_table(
            index="dataset", columns="config_key", values="normalized_score", aggfunc="mean"
        )
        keys = list(table.columns)
        chosen, gains = greedy_portfolio(table.to_numpy(dtype=float), self.max_size)
        mean = table.mean(axis=0).to_numpy()
        rest = [i for i in np.argsort(-mean, kind="stable") if i not in set(chosen)]
        first = rows.drop_duplicates("config_key")
        params = {k: parse_params(p) for k, p in zip(first["config_key"], first["params"],
                                                     strict=True)}
        order = [keys[i] for i in chosen] + [keys[i] for i in rest]
        gains = gains + [float(mean[i]) for i in rest]
        return _SpaceState(order, gains, params)

    def _explain_space(
        self, state: _SpaceState, target: np.ndarray | None, n: int
    ) -> pd.DataFrame:
        keys = state.order[:n]
        sources = [
            f"portfolio step {i + 1}" if i < self.max_size else "mean rank" for i in range(len(keys))
        ]
        return pd.DataFrame(
            {
                "params": [dict(state.params[k]) for k in keys],
                "score": state.gains[: len(keys)],
                "source": sources,
            },
            columns=["params", "score", "source"],
        )
