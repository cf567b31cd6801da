"""A learned surrogate f(metafeatures, configuration) -> normalised score, used to rank."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.neighbors import KDTree
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from metaopt.metamodel._base import MetaModel, as_query, check_bool, check_int, check_number
from metaopt.metamodel._candidates import sample_space
from metaopt.metamodel._data import canonical_key, parse_params, plain
from metaopt.metamodel._diverse import greedy_diverse_top_n
from metaopt.metamodel._encoding import ConfigEncoder

_logger = logging.getLogger("metaopt.metamodel")


@dataclass
class _SpaceState:
    encoder: ConfigEncoder
    projection: PCA | None
    regressor: HistGradientBoostingRegressor
    candidates: list[dict[str, Any]]
    sources: list[str]
    encoded: np.ndarray
    # Mean normalised score of each table configuration over the training datasets, and the
    # encoded table configurations, to give any configuration the prior of its nearest one.
    prior_points: np.ndarray | None
    prior_values: np.ndarray | None
    prior_by_key: dict[str, float]
    candidate_prior: np.ndarray | None


class SurrogateRanker(MetaModel):
    """Rank configurations with a model of the normalised score across datasets.

    A gradient-boosted regressor learns ``f(metafeatures, configuration)`` from every row of the
    knowledge table (scores normalised per dataset, so easy and hard datasets weigh the same).
    To rank for a new dataset it scores candidates (the table's configurations plus
    space-filling samples of the registered space) and picks a diverse top-n with
    :func:`greedy_diverse_top_n`, so the list is not made of near-copies.

    Args:
        normalization: Per-dataset score normalisation, ``"minmax"`` (default: in the
            leave-one-dataset-out evaluation it gave lower regret than ranks, which exaggerate
            tiny differences between near-equal configurations) or ``"rank"``.
        n_candidates: Space-filling samples added to the table's configurations as candidates
            (only for spaces registered in :mod:`metaopt.spaces`).
        diversity: Penalty weight for closeness to configurations already picked (0 = plain
            top-n by prediction).
        max_iter: Boosting iterations.
        learning_rate: Boosting learning rate.
        max_leaf_nodes: Leaves per tree.
        n_components: The metafeatures enter the model as this many principal components of
            the known datasets' scaled metafeatures (fewer inputs: faster and less prone to
            overfit a few hundred datasets); ``None`` uses every metafeature.
        config_prior: Also give the model each configuration's mean normalised score over the
            training datasets (leave-one-dataset-out for the training rows; a configuration
            outside the table, or that no other dataset evaluated as in random search, takes
            that of its nearest table configuration), so what works everywhere is learned
            directly and the metafeatures explain the deviations.
        random_state: Seed for the candidate samples and the regressor.

    Example:
        >>> from metaopt.metamodel import SurrogateRanker
        >>> from metaopt.testing import toy_knowledge
        >>> evaluations, metafeatures = toy_knowledge()
        >>> model = SurrogateRanker(max_iter=50).fit(evaluations, metafeatures=metafeatures)
        >>> best = model.rank(metafeatures.iloc[0], n=1)[0]
        >>> sorted(best)
        ['depth', 'kind', 'x']
    """

    def __init__(
        self,
        normalization: str = "minmax",
        n_candidates: int = 256,
        diversity: float = 0.3,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        n_components: int | None = 16,
        config_prior: bool = True,
        random_state: int = 0,
    ) -> None:
        self.normalization = normalization
        self.n_candidates = n_candidates
        self.diversity = diversity
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.n_components = n_components
        self.config_prior = config_prior
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        check_int(self.n_candidates, "n_candidates", 0)
        check_number(self.diversity, "diversity")
        check_int(self.max_iter, "max_iter", 1)
        check_number(self.learning_rate, "learning_rate", positive=True)
        if self.max_leaf_nodes is not None:  # None: unlimited, as in scikit-learn
            check_int(self.max_leaf_nodes, "max_leaf_nodes", 2)
        if self.n_components is not None:
            check_int(self.n_components, "n_components", 1)
        check_bool(self.config_prior, "config_prior")

    def _fit_space(
        self, rows: pd.DataFrame, metafeatures: pd.DataFrame, space: str, task: str
    ) -> _SpaceState:
        configs = [parse_params(p) for p in rows["params"]]
        first = rows.drop_duplicates("config_key")
        candidates = [parse_params(p) for p in first["params"]]
        sources = ["knowledge"] * len(candidates)
        seen = set(first["config_key"])
        known_names = {name for config in candidates for name in config}
        samples = sample_space(space, task, self.n_candidates, self.random_state)
        if any(not set(config) <= known_names for config in samples):
            # The table names parameters differently from the registered space (e.g. an
            # external meta-dataset): rank the table's own configurations only.
            samples = []
        for config in samples:
            key = canonical_key(config)
            if key not in seen:
                seen.add(key)
                candidates.append(config)
                sources.append("sampled")
        encoder = ConfigEncoder().fit(configs + candidates)
        projection = self._projection(metafeatures.index.intersection(rows["dataset"].unique()))
        described = self.scaled_metafeatures_.loc[rows["dataset"]].to_numpy()
        if projection is not None:
            described = projection.transform(described)
        encoded_rows = encoder.transform(configs)
        prior_points = prior_values = candidate_prior = None
        prior_by_key: dict[str, float] = {}
        columns = [described, encoded_rows]
        encoded_candidates = encoder.transform(candidates)
        if self.config_prior:
            prior_points, prior_values, leave_one_out = _config_prior(rows, first, encoder)
            if np.isnan(leave_one_out).all():
                # One training dataset: no configuration has a score elsewhere to learn from.
                _logger.info(
                    "SurrogateRanker: space %r has one training dataset; no configuration prior",
                    space,
                )
                prior_points = prior_values = None
            else:
                columns.append(leave_one_out[:, None])
                prior_by_key = dict(zip(first["config_key"], prior_values, strict=True))
                candidate_prior = self._prior_of(
                    [canonical_key(c) for c in candidates],
                    encoded_candidates,
                    prior_by_key,
                    prior_points,
                    prior_values,
                )
        features = np.hstack(columns)
        # Knowledge tables are small: one thread is as fast and does not oversubscribe the
        # cores when the benchmark refits per held-out dataset in parallel workers.
        with threadpool_limits(limits=1, user_api="openmp"):
            regressor = self._fit_regressor(features, rows["normalized_score"].to_numpy(float))
        return _SpaceState(
            encoder,
            projection,
            regressor,
            candidates,
            sources,
            encoded_candidates,
            prior_points,
            prior_values,
            prior_by_key,
            candidate_prior,
        )

    @staticmethod
    def _prior_of(
        keys: list[str],
        encoded: np.ndarray,
        by_key: dict[str, float],
        points: np.ndarray,
        values: np.ndarray,
    ) -> np.ndarray:
        prior = np.array([by_key.get(k, np.nan) for k in keys], dtype=float)
        missing = np.isnan(prior)
        if missing.any():
            prior[missing] = _nearest_prior(encoded[missing], points, values)
        return prior

    def _projection(self, datasets: pd.Index) -> PCA | None:
        """PCA of the scaled metafeatures of the training datasets (``None``: keep them all)."""
        if self.n_components is None:
            return None
        known = self.scaled_metafeatures_.loc[datasets].to_numpy()
        if known.shape[1] <= self.n_components:
            return None  # already few enough: a rotation would only hide them from the trees
        k = min(self.n_components, known.shape[0])
        return PCA(n_components=k, random_state=self.random_state).fit(known)

    def _fit_regressor(self, features: np.ndarray, target: np.ndarray) -> Any:
        return HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            early_stopping=False,
            random_state=self.random_state,
        ).fit(features, target)

    def predict(
        self,
        metafeatures: pd.Series,
        configs: list[dict[str, Any]],
        *,
        space: str | None = None,
        task: str | None = None,
    ) -> np.ndarray:
        """Predicted normalised score (1 = best of a dataset) of each configuration.

        Args:
            metafeatures: The dataset's metafeatures, or the Dataset (as for :meth:`rank`).
            configs: A list of parameter dicts.
            space: Which space; may be omitted when the model was fitted on one space.
            task: Which task; may be omitted as for :meth:`rank`.
        """
        check_is_fitted(self, "models_")
        if isinstance(configs, Mapping) or not all(isinstance(c, Mapping) for c in configs):
            raise TypeError(
                "configs must be a list of parameter dicts, got "
                f"{type(configs).__name__} (for one configuration pass [config])"
            )
        query, hint = as_query(metafeatures, describe=True)
        state: _SpaceState = self.models_[self._key(space, task, hint)]
        target = self._scaled(query, fill=False)
        configs = [plain(c) for c in configs]
        encoded = state.encoder.transform(configs)
        prior = None
        if state.prior_points is not None and state.prior_values is not None:
            prior = self._prior_of(
                [canonical_key(c) for c in configs],
                encoded,
                state.prior_by_key,
                state.prior_points,
                state.prior_values,
            )
        return self._predict(state, target, encoded, prior)

    def _predict(
        self,
        state: _SpaceState,
        target: np.ndarray,
        encoded: np.ndarray,
        prior: np.ndarray | None = None,
    ) -> np.ndarray:
        fill = self.scaler_.fill_
        described = np.where(np.isnan(target), fill, target)[None, :]
        if state.projection is not None:
            described = state.projection.transform(described)
        columns = [np.repeat(described, len(encoded), axis=0), encoded]
        if state.prior_points is not None and state.prior_values is not None:
            if prior is None:
                prior = _nearest_prior(encoded, state.prior_points, state.prior_values)
            columns.append(prior[:, None])
        features = np.hstack(columns)
        if not len(encoded):
            return np.zeros(0)
        with threadpool_limits(limits=1, user_api="openmp"):
            return state.regressor.predict(features)

    def _explain_space(
        self, state: _SpaceState, target: np.ndarray | None, n: int
    ) -> pd.DataFrame:
        assert target is not None  # internal: uses_metafeatures is True
        predicted = self._predict(state, target, state.encoded, state.candidate_prior)
        picks = greedy_diverse_top_n(predicted, state.encoded, n, penalty=self.diversity)
        return pd.DataFrame(
            {
                "params": [dict(state.candidates[i]) for i in picks],
                "score": predicted[picks].astype(float),
                "source": [f"surrogate ({state.sources[i]})" for i in picks],
            },
            columns=["params", "score", "source"],
        )


def _config_prior(
    rows: pd.DataFrame, first: pd.DataFrame, encoder: ConfigEncoder
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoded table configurations, their mean scores, and each row's leave-one-out prior.

    A row's prior is its configuration's mean over the *other* datasets. A configuration no
    other dataset evaluated (random search draws new ones per dataset) takes, as on a new
    dataset, the mean of its nearest configuration, here among those its dataset did not
    evaluate. NaN where there is none (e.g. a single training dataset).
    """
    grouped = rows.groupby("config_key")["normalized_score"]
    total, count = grouped.transform("sum"), grouped.transform("count")
    own = rows["normalized_score"]
    leave_one_out = np.array(((total - own) / (count - 1)).where(count > 1), dtype=float)
    means = grouped.mean()
    keys = list(first["config_key"])
    points = np.nan_to_num(encoder.transform([parse_params(p) for p in first["params"]]), nan=-1.0)
    values = means.loc[keys].to_numpy(float)
    unshared = np.isnan(leave_one_out)
    if unshared.any():
        position = {key: i for i, key in enumerate(keys)}
        row_point = rows["config_key"].map(position).to_numpy(int)
        for _, index in rows.groupby("dataset").indices.items():
            own_configs = np.zeros(len(keys), dtype=bool)
            own_configs[row_point[index]] = True
            missing = index[unshared[index]]
            if len(missing) and not own_configs.all():
                others = ~own_configs
                leave_one_out[missing] = _nearest_prior(
                    points[row_point[missing]], points[others], values[others]
                )
    return points, values, leave_one_out


def _nearest_prior(encoded: np.ndarray, points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The prior of each encoded configuration's nearest table configuration (L1)."""
    query = np.nan_to_num(encoded, nan=-1.0)
    if not len(query):
        return np.zeros(0)
    # A k-d tree: random-search tables hold tens of thousands of configurations, too many
    # for all pairwise distances when every training row needs its nearest one.
    nearest = KDTree(points, metric="manhattan").query(query, k=1, return_distance=False)
    return values[nearest[:, 0]]
