"""The auto-sklearn 1.0 baseline: best configurations of the most similar known datasets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metaopt.metamodel._base import MetaModel, check_int
from metaopt.metamodel._data import parse_params


@dataclass
class _SpaceState:
    datasets: list[str]
    # Per dataset: (config_key, normalised score), best first.
    ranked: dict[str, list[tuple[str, float]]]
    params: dict[str, dict[str, Any]]


class NearestDatasets(MetaModel):
    """Rank configurations by the known datasets nearest in metafeature space.

    Datasets are compared by the L1 distance of their metafeatures after signed-log and min-max
    scaling (:class:`~metaopt.metamodel.MetafeatureScaler`). The ranking takes the best
    configuration of the nearest dataset, then the best of the second nearest, and so on; with
    more requested configurations than datasets it continues with each dataset's second best.
    Configurations already taken are skipped.

    Args:
        normalization: Per-dataset score normalisation used to order each dataset's
            configurations: ``"rank"`` or ``"minmax"``.
        per_dataset: How many of each neighbour's best configurations to take per round.

    Example:
        >>> from metaopt.metamodel import NearestDatasets
        >>> from metaopt.testing import toy_knowledge
        >>> evaluations, metafeatures = toy_knowledge()
        >>> model = NearestDatasets().fit(evaluations, "toy", metafeatures=metafeatures)
        >>> len(model.rank(metafeatures.iloc[0], n=3))
        3
    """

    def __init__(self, normalization: str = "rank", per_dataset: int = 1) -> None:
        self.normalization = normalization
        self.per_dataset = per_dataset

    def _check_params(self) -> None:
        super()._check_params()
        check_int(self.per_dataset, "per_dataset", 1)

    def _fit_space(
        self, rows: pd.DataFrame, metafeatures: pd.DataFrame, space: str, task: str
    ) -> _SpaceState:
        ordered = rows.sort_values(
            ["dataset", "normalized_score", "config_key"], ascending=[True, False, True]
        )
        ranked: dict[str, list[tuple[str, float]]] = {}
        unique = ordered.drop_duplicates(["dataset", "config_key"])  # one pass, not per group
        for dataset, best in unique.groupby("dataset", sort=True):
            ranked[str(dataset)] = list(
                zip(best["config_key"], best["normalized_score"].astype(float), strict=True)
            )
        first = rows.drop_duplicates("config_key")
        params = {
            k: parse_params(p) for k, p in zip(first["config_key"], first["params"], strict=True)
        }
        return _SpaceState(sorted(ranked), ranked, params)

    def _explain_space(
        self, state: _SpaceState, target: np.ndarray | None, n: int
    ) -> pd.DataFrame:
        assert target is not None  # internal: uses_metafeatures is True
        distances = self._distances(target, state.datasets)
        order = np.argsort(distances, kind="stable")
        chosen: dict[str, tuple[float, str]] = {}
        depth = 0
        longest = max(len(v) for v in state.ranked.values())
        while len(chosen) < n and depth < longest:
            for index in order:
                dataset = state.datasets[index]
                block = state.ranked[dataset][depth : depth + self.per_dataset]
                for offset, (key, score) in enumerate(block):
                    if key not in chosen and len(chosen) < n:
                        rank = depth + offset + 1
                        source = f"rank {rank} on {dataset} (distance {distances[index]:.3f})"
                        chosen[key] = (score, source)
            depth += self.per_dataset
        return pd.DataFrame(
            {
                "params": [dict(state.params[k]) for k in chosen],
                "score": [s for s, _ in chosen.values()],
                "source": [src for _, src in chosen.values()],
            },
            columns=["params", "score", "source"],
        )
