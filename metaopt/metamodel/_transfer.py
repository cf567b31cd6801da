"""``TransferEnsemble``: the meta-model that transfers across datasets inside a search.

Its models and the search-time state are :mod:`metaopt.metamodel._session`'s; this module fits
them per search space, weighs the known datasets by metafeature similarity before any trial, and
ranks configurations for :func:`metaopt.suggest` with the greedy portfolio under that prior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from optuna.distributions import BaseDistribution

from metaopt.metamodel._base import MetaModel, as_query, check_bool, check_int, check_number
from metaopt.metamodel._kernel_regression import BANDWIDTHS
from metaopt.metamodel._session import (
    Source,
    TransferSession,
    build_session,
    normalise_source_scores,
)
from metaopt.metamodel._similarity import (
    learn_metafeature_weights,
    performance_dissimilarity,
    weighted_distances,
)

#: Each source's best configurations on which ``similarity="learned"`` compares the sources.
LEARNED_SIMILARITY_CANDIDATES = 3
#: The metafeature that gives a dataset's size (its rows) to ``size_width``.
ROWS_METAFEATURE = "general.n_instances"


@dataclass(frozen=True)
class _Query:
    """The dataset a prior is for: its scaled metafeatures and its rows (NaN: not given)."""

    scaled: np.ndarray
    rows: float


@dataclass
class _SpaceState:
    sources: list[Source]
    distributions: dict[str, BaseDistribution] | None
    # Each source's kernel bandwidth, chosen once at fit time in the space's own encoding.
    bandwidths: list[float] | None = None
    # The dataset-independent part of ``rank``'s session, built on first use.
    template: TransferSession | None = None
    # Per scaled metafeature, its weight in the prior's distance (``similarity="learned"``).
    metafeature_weights: np.ndarray | None = None
    # Per source, the rows its scores were measured on (NaN: unknown).
    rows: np.ndarray | None = None


class TransferEnsemble(MetaModel):
    """Rank configurations by a similarity-weighted mixture of per-dataset models.

    Every known dataset gets a kernel-regression model of its normalised scores over the
    search space. :meth:`rank` returns the greedy expected-improvement portfolio under the
    prior weights of the datasets (diverse by construction: each next configuration is the one
    that most improves, on average over the datasets, on what was already chosen);
    :meth:`session` returns the state :class:`metaopt.MetaSampler` updates after every trial,
    re-weighting the datasets by how well each ranks the study's own results.

    Args:
        similarity: ``"metafeatures"`` (prior weight ``exp(-d / (temperature * median d))`` by
            the metafeature distance ``d``; the default, chosen by nested leave-one-group-out,
            see ``docs/metamodel.md``), ``"learned"`` (the same with each metafeature weighted
            by how well its differences predict how differently two known datasets rank
            configurations: :func:`~metaopt.metamodel.learn_metafeature_weights`) or
            ``"uniform"`` (every known dataset equally likely a priori; needs no metafeatures).
        temperature: Width of the metafeature prior.
        evidence: How fast observed rank agreement overrides the prior: a source's log-weight
            grows by ``evidence * n * tau`` after ``n`` trials with Kendall's ``tau``.
            The defaults of ``temperature``, ``evidence``, ``target_model`` and
            ``target_mean`` were chosen by replaying searches leave-one-group-out on the
            knowledge base's ``random_forest``, ``svm``, ``logistic_regression`` and ``knn`` pools
            (``experiments/transfer_settings.py``), none of the pools the benchmark reports.
        bandwidth: Kernel bandwidth of the per-dataset models, in the unit cube of the space;
            ``None`` (default): each dataset's model chooses its own by leave-one-out error.
        candidates_per_dataset: Each dataset's best configurations offered as candidates.
        n_random: Space-filling candidates added in the search space (in a session).
        target_model: Also model the study's own results (a Gaussian process that competes
            with the known datasets for weight by its leave-one-out rank agreement), so the
            search can improve beyond the known datasets' optima.
        target_mean: Prior mean of the study's own model: ``"transfer"`` (default) is the known
            datasets' mixture under their current weights, so the model predicts by them where
            the study has not looked and learns only their error; ``"constant"`` is the mean of
            the study's results (the model then knows nothing away from its observations).
        agreement: How a model's agreement with the study's results is measured:
            ``"rank"`` (default), Kendall's tau over all pairs of results; ``"weighted"``,
            each pair weighted by how far apart its two results are, so that near-ties
            (evaluation noise) do not decide which known datasets the search follows.
        size_width: When set, a known dataset's prior weight also falls with how far the
            rows its scores were measured on are from the dataset's own (``general.n_instances``):
            its log-weight loses ``|log(rows ratio)| / size_width``. The knowledge base measures
            most datasets on at most 2,000 rows and some at their own size, and which
            configuration wins moves with the size; ``None`` compares by metafeatures only.
        local_candidates: In a search, this many random neighbours of the study's best
            configurations are added to the candidates at every proposal, so the search can
            refine them instead of choosing only among the known datasets' optima and the
            space-filling set. Off (0) by default: 64 add 4-5 ms to a proposal, and they
            help in live searches but not on every dataset (``docs/sampler.md``).

    Example:
        >>> from metaopt.metamodel import TransferEnsemble
        >>> from metaopt.testing import toy_knowledge
        >>> evaluations, metafeatures = toy_knowledge()
        >>> model = TransferEnsemble().fit(evaluations, "toy", metafeatures=metafeatures)
        >>> len(model.rank(metafeatures.iloc[0], n=3))
        3
    """

    def __init__(
        self,
        similarity: str = "metafeatures",
        temperature: float = 0.25,
        evidence: float = 1.0,
        bandwidth: float | None = None,
        candidates_per_dataset: int = 20,
        n_random: int = 128,
        target_model: bool = True,
        target_mean: str = "transfer",
        agreement: str = "rank",
        local_candidates: int = 0,
        size_width: float | None = None,
    ) -> None:
        self.similarity = similarity
        self.temperature = temperature
        self.evidence = evidence
        self.bandwidth = bandwidth
        self.candidates_per_dataset = candidates_per_dataset
        self.n_random = n_random
        self.target_model = target_model
        self.target_mean = target_mean
        self.agreement = agreement
        self.local_candidates = local_candidates
        self.size_width = size_width

    @property
    def uses_metafeatures(self) -> bool:  # type: ignore[override]
        """Only the metafeature prior looks at the dataset before the first trial."""
        return self.similarity != "uniform"

    def _check_params(self) -> None:
        super()._check_params()
        self._check()

    def _check(self) -> None:
        """Validate the options (:meth:`fit` does, before anything else)."""
        if not isinstance(self.similarity, str) or self.similarity not in (
            "uniform",
            "metafeatures",
            "learned",
        ):
            raise ValueError(
                "similarity must be 'uniform', 'metafeatures' or 'learned', got "
                f"{self.similarity!r}"
            )
        check_number(self.temperature, "temperature", positive=True)
        if self.bandwidth is not None:
            check_number(self.bandwidth, "bandwidth", positive=True)
        if self.size_width is not None:
            check_number(self.size_width, "size_width", positive=True)
        check_bool(self.target_model, "target_model")
        if not isinstance(self.target_mean, str) or self.target_mean not in (
            "constant",
            "transfer",
        ):
            raise ValueError(
                f"target_mean must be 'constant' or 'transfer', got {self.target_mean!r}"
            )
        if not isinstance(self.agreement, str) or self.agreement not in ("rank", "weighted"):
            raise ValueError(f"agreement must be 'rank' or 'weighted', got {self.agreement!r}")
        check_number(self.evidence, "evidence")
        for name in ("candidates_per_dataset", "n_random", "local_candidates"):
            check_int(getattr(self, name), name, 0)

    def _fit_space(self, rows: Any, metafeatures: Any, space: str, task: str) -> _SpaceState:
        from metaopt.metamodel._data import parse_params

        sources = []
        parsed = {text: parse_params(text) for text in rows["params"].unique()}
        # One pass for every dataset: a per-group drop_duplicates costs ~1.5 ms x datasets.
        unique = rows.drop_duplicates(["dataset", "config_key"])
        for dataset, group in unique.groupby("dataset", sort=True):
            configs = [dict(parsed[p]) for p in group["params"]]
            scores = normalise_source_scores(group["score"].to_numpy(dtype=float))
            sources.append(Source(str(dataset), configs, scores))
        distributions = _registered_distributions(space, task)
        bandwidths = None
        learned = self.similarity == "learned"
        reference = None
        if (self.bandwidth is None or learned) and sources:
            reference = build_session(
                sources,
                np.zeros(len(sources)),
                distributions=distributions,
                # The learned similarity compares the sources' models on each other's optima.
                candidates_per_source=LEARNED_SIMILARITY_CANDIDATES if learned else 1,
                n_random=0,
                bandwidth=self.bandwidth,
                evidence=self.evidence,
                seed=0,
            )
        if self.bandwidth is None and reference is not None:
            chosen = dict(zip(reference.sources, reference._widths, strict=True))
            bandwidths = [chosen.get(s.name, max(BANDWIDTHS)) for s in sources]
        weights = None
        if learned and reference is not None:
            scaled = self.scaled_metafeatures_.loc[reference.sources].to_numpy(dtype=float)
            dissimilarity = performance_dissimilarity(reference._candidate_values)
            weights = learn_metafeature_weights(scaled, dissimilarity)
        return _SpaceState(
            sources,
            distributions,
            bandwidths,
            metafeature_weights=weights,
            rows=_measured_rows(rows, metafeatures, [s.name for s in sources]),
        )

    def _prior(self, state: _SpaceState, query: _Query | None) -> np.ndarray:
        if self.similarity == "uniform" or query is None:
            return np.zeros(len(state.sources))
        target = query.scaled
        names = [s.name for s in state.sources]
        if state.metafeature_weights is not None:
            known = self.scaled_metafeatures_.loc[names].to_numpy(dtype=float)
            distances = weighted_distances(known, target, state.metafeature_weights)
        else:
            distances = self._distances(target, names)
        scale = float(self.temperature) * max(float(np.median(distances)), 1e-12)
        prior = -(distances - distances.min()) / scale
        if self.size_width is not None and state.rows is not None and np.isfinite(query.rows):
            gap = np.abs(np.log(query.rows) - np.log(state.rows)) / float(self.size_width)
            prior = prior - np.where(np.isfinite(gap), gap, 0.0)
        return prior

    def _target(self, metafeatures: Any) -> _Query | None:  # type: ignore[override]
        scaled = super()._target(metafeatures)
        if scaled is None:
            return None
        rows = float(pd.to_numeric(metafeatures.get(ROWS_METAFEATURE), errors="coerce"))
        return _Query(scaled, rows if rows > 0 else math.nan)

    def session(
        self,
        metafeatures: Any,
        *,
        space: str | None = None,
        task: str | None = None,
        distributions: Mapping[str, BaseDistribution] | None = None,
        seed: int = 0,
    ) -> TransferSession:
        """The transfer state for one search in ``distributions`` (default: the space's own).

        Source configurations are mapped into ``distributions`` parameter by parameter
        (numbers clipped and rounded, categories matched); parameters the distributions lack are
        dropped, ones the sources lack are left to the sampler's base sampler.
        """
        from metaopt.samplers._mapping import fit_configs

        query, hint = as_query(metafeatures, describe=self.uses_metafeatures)
        key = self._key(space, task, hint)
        state: _SpaceState = self.models_[key]
        target = self._target(query) if query is not None else None
        space_dists = dict(distributions) if distributions is not None else state.distributions

        def map_configs(configs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any] | None]:
            # One pass per parameter over a source's configurations (thousands per session).
            fitted = fit_configs([dict(c) for c in configs], space_dists)
            return [config or None for config in fitted]

        session = build_session(
            state.sources,
            self._prior(state, target),
            distributions=space_dists,
            map_configs=map_configs if space_dists is not None else None,
            candidates_per_source=self.candidates_per_dataset,
            n_random=self.n_random if distributions is not None else 0,
            bandwidth=self.bandwidth,
            evidence=self.evidence,
            seed=seed,
            bandwidths=state.bandwidths,
        )
        session.target_model = bool(self.target_model)
        session.target_mean = self.target_mean
        session.weighted_agreement = self.agreement == "weighted"
        session.n_local = self.local_candidates if distributions is not None else 0
        session.local_seed = seed
        return session

    def _explain_space(self, state: _SpaceState, target: _Query | None, n: int) -> Any:
        import dataclasses

        if state.template is None:  # the models do not depend on the dataset: build them once
            state.template = build_session(
                state.sources,
                np.zeros(len(state.sources)),
                distributions=state.distributions,
                candidates_per_source=self.candidates_per_dataset,
                n_random=0,
                bandwidth=self.bandwidth,
                evidence=self.evidence,
                seed=0,
                bandwidths=state.bandwidths,
            )
        prior = self._prior(state, target)
        keep = [s.name for s in state.sources]
        prior = prior[[keep.index(name) for name in state.template.sources]]
        session = dataclasses.replace(
            state.template, prior=prior, _cache={}, _last_weights=None, _pair_sums=None
        )
        picks, steps = session.portfolio_steps(n)
        configs = [p for p, _ in picks]
        # The score is comparable across picks: the expected normalised score under the prior
        # mixture. The order is the portfolio's: each pick adds the most expected gain.
        weights = session.weights([], [])
        values = session.source_values(configs)
        expected = weights @ values if configs else np.zeros(0)
        return pd.DataFrame(
            {
                "params": configs,
                "score": [float(s) for s in expected],
                "source": _sources(session.sources, weights, values, picks, steps),
            },
            columns=["params", "score", "source"],
        )


def _measured_rows(rows: Any, metafeatures: Any, names: list[str]) -> np.ndarray:
    """Per source, the rows its scores were measured on: the ``n_rows`` of its evaluations,
    else (a table without it, e.g. from studies) its dataset's own rows; NaN when neither."""
    measured = np.full(len(names), np.nan)
    if "n_rows" in rows.columns:
        measured = rows.groupby("dataset")["n_rows"].median().reindex(names).to_numpy(float)
    if ROWS_METAFEATURE in metafeatures.columns:
        own = metafeatures[ROWS_METAFEATURE].reindex(names).to_numpy(dtype=float)
        measured = np.where(np.isfinite(measured), measured, own)
    return np.where(measured > 0, measured, np.nan)


def _sources(
    names: list[str],
    weights: np.ndarray,
    values: np.ndarray,
    picks: list[tuple[dict[str, Any], float]],
    steps: int,
) -> list[str]:
    """Each pick's source, in words, with the known dataset that contributed most to it.

    A greedy pick's expected gain is the sum over the known datasets of their prior weight
    times what the pick adds, in their model, to the best of the picks before; a later pick's
    expected score is the sum of their weight times their model's value. The dataset with the
    largest term, and its share of the sum, say which dataset the pick rests on.
    """
    out = []
    best = np.full(len(names), -np.inf)
    for i, (_, value) in enumerate(picks):
        column = values[:, i]
        if i < steps:
            terms = weights * (column if i == 0 else np.maximum(column - best, 0.0))
            what = f"transfer portfolio step {i + 1}"
            amount = f"expected gain {value:.3f}"
        else:
            terms = weights * column
            what = f"transfer by expected score after {steps} portfolio steps"
            amount = f"expected score {value:.3f}"
        best = np.maximum(best, column)
        total = float(terms.sum())
        if total > 0 and len(names):
            top = int(np.argmax(terms))
            out.append(f"{what} (most from {names[top]}, {terms[top] / total:.0%}; {amount})")
        else:
            out.append(f"{what} ({amount})")
    return out


def _registered_distributions(space: str, task: str) -> dict[str, BaseDistribution] | None:
    from metaopt import spaces

    if space not in spaces.names():
        return None
    return dict(spaces.get(space, task).distributions)
