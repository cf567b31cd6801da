"""A learned surrogate f(metafeatures, configuration) -> normalised score, used to rank."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted

from metaopt.metamodel._base import MetaModel
from metaopt.metamodel._candidates import sample_space
from metaopt.metamodel._data import canonical_key, parse_params, plain
from metaopt.metamodel._diverse import greedy_diverse_top_n
from metaopt.metamodel._encoding import ConfigEncoder


@dataclass
class _SpaceState:
    encoder: ConfigEncoder
    regressor: HistGradientBoostingRegressor
    candidates: list[dict[str, Any]]
    sources: list[str]
    encoded: np.ndarray


class SurrogateRanker(MetaModel):
    """Rank configurations with a model of the normalised score across datasets.

    A gradient-boosted regressor learns ``f(metafeatures, configuration)`` from every row of the
    knowledge table (scores normalised per dataset, so easy and hard datasets weigh the same).
    To rank for a new dataset it scores candidates (the table's configurations plus
    space-filling samples of the registered space) and picks a diverse top-n with
    :func:`greedy_diverse_top_n`, so the list is not made of near-copies.

    Args:
        normalization: Per-dataset score normalisation, ``"rank"`` or ``"minmax"``.
        n_candidates: Space-filling samples added to the table's configurations as candidates
            (only for spaces registered in :mod:`metaopt.spaces`).
        diversity: Penalty weight for closeness to configurations already picked (0 = plain
            top-n by prediction).
        max_iter: Boosting iterations.
        learning_rate: Boosting learning rate.
        max_leaf_nodes: Leaves per tree.
        random_state: Seed for the candidate samples and the regressor.

    Example:
        >>> from metaopt.metamodel import SurrogateRanker, toy_knowledge
        >>> evaluations, metafeatures = toy_knowledge()
        >>> model = SurrogateRanker(max_iter=50).fit(evaluations, metafeatures=metafeatures)
        >>> best = model.rank(metafeatures.iloc[0], n=1)[0]
        >>> sorted(best)
        ['depth', 'kind', 'x']
    """

    def __init__(
        self,
        normalization: str = "rank",
        n_candidates: int = 256,
        diversity: float = 0.3,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        random_state: int = 0,
    ) -> None:
        self.normalization = normalization
        self.n_candidates = n_candidates
        self.diversity = diversity
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state

    def _fit_space(
        self, rows: pd.DataFrame, metafeatures: pd.DataFrame, space: str, task: str
    ) -> _SpaceState:
        if not isinstance(self.n_candidates, int) or self.n_candidates < 0:
            raise ValueError(f"n_candidates must be an int >= 0, got {self.n_candidates!r}")
        if self.diversity < 0:
            raise ValueError(f"diversity must be >= 0, got {self.diversity!r}")
        configs = [parse_params(p) for p in rows["params"]]
        first = rows.drop_duplicates("config_key")
        candidates = [parse_params(p) for p in first["params"]]
        sources = ["knowledge"] * len(candidates)
        seen = set(first["config_key"])
        for config in sample_space(space, task, self.n_candidates, self.random_state):
            key = canonical_key(config)
            if key not in seen:
                seen.add(key)
                candidates.append(config)
                sources.append("sampled")
        encoder = ConfigEncoder().fit(configs + candidates)
        features = np.hstack(
            [
                self.scaled_metafeatures_.loc[rows["dataset"]].to_numpy(),
                encoder.transform(configs),
            ]
        )
        regressor = HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            early_stopping=False,
            random_state=self.random_state,
        ).fit(features, rows["normalized_score"].to_numpy(dtype=float))
        return _SpaceState(encoder, regressor, candidates, sources, encoder.transform(candidates))

    def predict(
        self,
        metafeatures: pd.Series,
        configs: list[dict[str, Any]],
        *,
        space: str | None = None,
        task: str | None = None,
    ) -> np.ndarray:
        """Predicted normalised score (1 = best of a dataset) of each configuration."""
        check_is_fitted(self, "models_")
        state: _SpaceState = self.models_[self._key(space, task)]
        target = self._scaled(metafeatures)
        encoded = state.encoder.transform([plain(c) for c in configs])
        return self._predict(state, target, encoded)

    @staticmethod
    def _predict(state: _SpaceState, target: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        features = np.hstack([np.repeat(target[None, :], len(encoded), axis=0), encoded])
        return state.regressor.predict(features) if len(encoded) else np.zeros(0)

    def _explain_space(
        self, state: _SpaceState, target: np.ndarray | None, n: int
    ) -> pd.DataFrame:
        assert target is not None  # internal: uses_metafeatures is True
        predicted = self._predict(state, target, state.encoded)
        picks = greedy_diverse_top_n(predicted, state.encoded, n, penalty=self.diversity)
        return pd.DataFrame(
            {
                "params": [dict(state.candidates[i]) for i in picks],
                "score": predicted[picks].astype(float),
                "source": [f"surrogate ({state.sources[i]})" for i in picks],
            },
            columns=["params", "score", "source"],
        )
