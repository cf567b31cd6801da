"""Transfer across datasets inside a search: a posterior-weighted mixture of per-dataset models.

Each known dataset (a *source*) contributes a smooth model of its own normalised scores over
the configuration space (kernel regression on its recorded evaluations). The dataset being
tuned is treated as behaving like one of the sources, unknown which: before any trial every
source has its prior weight (uniform, or by metafeature similarity); after each trial a
source's weight grows with how well its model orders the configurations observed so far
(Kendall's tau, scaled by the number of observations). The next configuration maximises the
expected improvement under that mixture: for each source, how much the candidate beats, in that
source's own model, the best configuration tried so far. With no observation this is a greedy
portfolio under the prior, so the first suggestions are diverse; as evidence arrives the weights
concentrate on the sources that rank this dataset's configurations right, and the search moves
to their optimum in the user's own search space. From the third result on, the study's own
Gaussian process joins the mixture as one more member, weighted the same way by its
leave-one-out rank agreement; its prior mean is the sources' posterior mixture fitted to the
study's results, so it models what the sources get wrong on this dataset, and its expected
improvement lets the search go beyond every source's optimum once the study's own evidence
explains its results better than any source. On a plateau (several far-apart configurations
share the best result) the sources say nothing about where to go, and the session proposes
nothing: the sampler's base sampler explores until a result stands out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution

from metaopt.metamodel._candidates import local_configs
from metaopt.metamodel._data import canonical_key
from metaopt.metamodel._encoding import ConfigEncoder, unit_encode
from metaopt.metamodel._gaussian_process import fit_gaussian_process, gaussian_expected_improvement
from metaopt.metamodel._kernel_regression import (
    BANDWIDTHS,
    kernel_regression,
    relevance,
    select_bandwidth,
)


def normalise_source_scores(scores: np.ndarray) -> np.ndarray:
    """A source's scores on ``[0, 1]``: 0 at its worst evaluation, 1 at its best.

    A failed evaluation (NaN) counts as the worst.
    """
    scores = np.asarray(scores, dtype=float)
    finite = np.isfinite(scores)
    if not finite.any():
        return np.zeros_like(scores)
    low, high = float(np.min(scores[finite])), float(np.max(scores[finite]))
    if high <= low:
        return np.where(finite, 0.5, 0.0)
    return np.where(finite, (scores - low) / (high - low), 0.0)


def rank_agreement(
    predicted: np.ndarray, observed: np.ndarray, weighted: bool = False
) -> np.ndarray:
    """Kendall's tau (over the observed pairs) of each row of ``predicted`` with ``observed``.

    Args:
        predicted: ``(n_sources, n)`` model values at the observed configurations.
        observed: ``(n,)`` observed scores (higher is better).
        weighted: Weigh each pair by its observed score difference, so that ordering two
            near-tied results (evaluation noise) counts little and ordering far-apart ones
            counts much. Scale-free: the weights are divided by their sum.
    """
    observed = np.asarray(observed, dtype=float)
    differences = observed[:, None] - observed[None, :]
    signs = np.sign(differences)
    pair_weights = np.abs(differences) if weighted else np.abs(signs)
    total = float(pair_weights.sum())
    model = np.sign(predicted[:, :, None] - predicted[:, None, :])
    if total <= 0.0:
        return np.zeros(len(predicted))
    return (model * (signs * pair_weights)[None]).sum(axis=(1, 2)) / total


#: While this many far-apart configurations share the best result, the transfer hands the
#: search to the base sampler (:meth:`TransferSession.on_plateau`).
PLATEAU = 3
PLATEAU_DISTANCE = 0.1

#: Length scales (in the relevance-scaled unit cube) the study's own model chooses from.
LENGTHSCALES = (0.1, 0.2, 0.4)

#: Local candidates are drawn once the study has this many results (its own model's minimum)...
LOCAL_AFTER = 3
#: ... around this many of its best configurations.
LOCAL_CENTRES = 3
#: The local candidates are valued by the models of this many sources of highest posterior
#: weight; the others are taken to value a candidate as they value its centre (so it gains
#: nothing in them), which keeps a proposal's cost low.
LOCAL_SOURCES = 32


@dataclass
class Source:
    """One known dataset: its evaluated configurations and normalised scores."""

    name: str
    configs: list[dict[str, Any]]
    scores: np.ndarray


@dataclass
class TransferSession:
    """The transfer state of one search: candidates, per-source models and the evidence so far.

    Built by :meth:`TransferEnsemble.session`; pure NumPy, so it pickles with the sampler.

    Attributes:
        sources: Names of the source datasets.
        candidates: Configurations that may be proposed (in the user's distributions).
        prior: Prior log-weight of each source.
        evidence: How fast the study's results move the weights: a source's log-weight grows
            by ``evidence * n * tau`` after ``n`` results it ranks with agreement ``tau``.
        target_model: Whether a Gaussian process on the study's own results joins the
            sources (see :meth:`_target`).
        target_mean: That process's prior mean: ``"constant"``, or ``"transfer"`` (the
            sources' mixture, scaled to the study's ranks).
        weighted_agreement: Weigh each pair of results by how far apart they are when
            measuring agreement (see :func:`rank_agreement`).
        n_local: How many neighbours of the study's best configurations join the candidates
            at each proposal (see :meth:`local_candidates`); 0: none.
        local_seed: Seed of those neighbours.
    """

    sources: list[str]
    candidates: list[dict[str, Any]]
    prior: np.ndarray
    evidence: float
    _points: np.ndarray = field(repr=False)  # every source's points, source after source
    _values: np.ndarray = field(repr=False)
    _starts: np.ndarray = field(repr=False)  # index of each source's first point
    _candidate_values: np.ndarray = field(repr=False)
    _encode: _Encoder = field(repr=False)
    _widths: list[float] = field(repr=False)
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # Exact repr of a configuration -> its canonical key (JSON); repr is cheaper to compute.
    _keys: dict[str, str] = field(default_factory=dict, repr=False)
    _last_weights: tuple[Any, np.ndarray] | None = field(default=None, repr=False)
    # The last results' memo with each source's Kendall numerator and the pair count.
    _pair_sums: tuple[Any, np.ndarray, float] | None = field(default=None, repr=False)
    target_model: bool = False
    target_mean: str = "constant"
    weighted_agreement: bool = False
    n_local: int = 0
    local_seed: int = 0
    _candidate_points: np.ndarray | None = field(default=None, repr=False)

    def _key(self, config: Mapping[str, Any]) -> str:
        fast = repr(sorted(config.items()))
        key = self._keys.get(fast)
        if key is None:
            key = self._keys[fast] = canonical_key(config)
        return key

    def source_values(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Each source model's value at ``configs``: shape ``(n_sources, len(configs))``."""
        out = np.empty((len(self.sources), len(configs)))
        todo = []
        keys = [self._key(config) for config in configs]
        for j, key in enumerate(keys):
            if key in self._cache:
                out[:, j] = self._cache[key]
            else:
                todo.append(j)
        if todo:
            values = self._kernel_values(self._encode([configs[j] for j in todo]))
            for column, j in enumerate(todo):
                out[:, j] = values[:, column]
                self._cache[keys[j]] = values[:, column]
        return out

    def _kernel_values(self, encoded: np.ndarray, only: np.ndarray | None = None) -> np.ndarray:
        """The value at ``encoded`` of each source model, or of the sources ``only``."""
        if only is None:
            return kernel_regression(
                self._points, self._values, self._starts, np.asarray(self._widths), encoded
            )
        ends = np.append(self._starts[1:], len(self._points))
        rows = np.concatenate([np.arange(self._starts[i], ends[i]) for i in only])
        counts = (ends - self._starts)[only]
        return kernel_regression(
            self._points[rows],
            self._values[rows],
            np.cumsum(np.append(0, counts[:-1])).astype(int),
            np.asarray(self._widths)[only],
            encoded,
        )

    def weights(
        self, observed: Sequence[Mapping[str, Any]], scores: Sequence[float]
    ) -> np.ndarray:
        """Posterior weight of each source given the observed configurations and scores."""
        finite = [i for i, s in enumerate(scores) if math.isfinite(float(s))]
        memo = (
            tuple(self._key(observed[i]) for i in finite),
            tuple(float(scores[i]) for i in finite),
        )
        if self._last_weights is None or self._last_weights[0] != memo:
            log_weights = self.prior.copy()
            if len(finite) >= 2:
                values = self.source_values([observed[i] for i in finite])
                y = np.asarray([scores[i] for i in finite], dtype=float)
                tau = self._agreement(memo, values, y)
                log_weights = log_weights + self.evidence * len(finite) * tau
            self._last_weights = (memo, log_weights)
        log_weights = self._last_weights[1]
        weights = np.exp(log_weights - log_weights.max())
        return weights / weights.sum()

    def _agreement(self, memo: Any, values: np.ndarray, y: np.ndarray) -> np.ndarray:
        """:func:`rank_agreement` of the sources' ``values`` with the results ``y``.

        When the results extend the last call's (a study's usual step), only the new results'
        pairs are counted and added to the last call's sums: a trial then costs ``O(n)`` per
        source instead of ``O(n^2)``, with the same result (the sums are of integers). The
        weighted agreement is computed in full.
        """
        if self.weighted_agreement:
            return rank_agreement(values, y, weighted=True)
        last = self._pair_sums
        known = len(last[0][0]) if last is not None else 0
        if (
            last is not None
            and known <= len(y)
            and memo[0][:known] == last[0][0]
            and memo[1][:known] == last[0][1]
        ):
            numerators, total = last[1], last[2]
            for j in range(known, len(y)):
                signs = np.sign(y[:j] - y[j])
                numerators = numerators + np.sign(values[:, :j] - values[:, j : j + 1]) @ signs
                total += float(np.abs(signs).sum())
        else:
            first, second = np.triu_indices(len(y), k=1)
            signs = np.sign(y[first] - y[second])
            numerators = np.sign(values[:, first] - values[:, second]) @ signs
            total = float(np.abs(signs).sum())
        self._pair_sums = (memo, numerators, total)
        return numerators / total if total > 0 else np.zeros(len(values))

    def expected_improvement(
        self,
        observed: Sequence[Mapping[str, Any]],
        scores: Sequence[float],
        pending: Sequence[Mapping[str, Any]] = (),
        extra: Sequence[Mapping[str, Any]] = (),
        extra_centres: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Expected improvement of every candidate under the posterior mixture, and the weights.

        A pending configuration (a running trial) counts as tried: the improvement is measured
        against the best of the tried and the pending ones in each source's model, so parallel
        workers spread out instead of proposing the same configuration. ``extra``
        configurations are scored after the candidates, as if they were among them; given
        ``extra_centres`` (the configuration each was drawn around), only the
        :data:`LOCAL_SOURCES` sources of highest weight value them with their own models.
        """
        weights = self.weights(observed, scores)
        if self._candidate_points is None:
            self._candidate_points = self._encode(self.candidates)
        points, values = self._candidate_points, self._candidate_values
        if extra:
            encoded = self._encode(extra)
            if extra_centres:
                extra_values = self.source_values(extra_centres)
                top = np.sort(np.argsort(-weights, kind="stable")[:LOCAL_SOURCES])
                extra_values[top] = self._kernel_values(encoded, top)
            else:
                extra_values = self._kernel_values(encoded)
            points = np.concatenate([points, encoded])
            values = np.concatenate([values, extra_values], axis=1)
        tried = [*observed, *pending]
        if tried:
            best = self.source_values(tried).max(axis=1)
            gain = np.maximum(values - best[:, None], 0.0)
        else:
            gain = values
        improvement = weights @ gain
        if self.target_model:
            share, target_gain = self._target(observed, scores, points, values)
            if share > 0.0:
                improvement = (1.0 - share) * improvement + share * target_gain
        return improvement, weights

    def _target(
        self,
        observed: Sequence[Mapping[str, Any]],
        scores: Sequence[float],
        candidate_points: np.ndarray | None = None,
        candidate_values: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        """The study's own model: its mixture share and each candidate's expected improvement.

        The candidates are the session's own unless ``candidate_points`` (encoded) and
        ``candidate_values`` (the sources' values there) say otherwise.

        A Gaussian process on the study's rank-normalised scores competes with the sources like
        one more of them: its log-weight is the best prior log-weight plus ``evidence * n * tau``,
        with ``tau`` the rank agreement of its leave-one-out predictions. Its expected
        improvement is what lets the search go beyond the sources' optima. With
        ``target_mean="transfer"`` its prior mean is the sources' posterior mixture, scaled to
        the ranks by least squares (a non-negative slope), and the GP fits the residuals; the
        kernel's amplitude stays the ranks' variance, so it still explores where the residuals
        at the observed configurations happen to be small.
        """
        if candidate_points is None or candidate_values is None:
            if self._candidate_points is None:
                self._candidate_points = self._encode(self.candidates)
            candidate_points, candidate_values = self._candidate_points, self._candidate_values
        finite = [i for i, v in enumerate(scores) if math.isfinite(float(v))]
        if len(finite) < 3:
            return 0.0, np.zeros(len(candidate_points))
        y = np.asarray([scores[i] for i in finite], dtype=float)
        if np.ptp(y) <= 0:
            return 0.0, np.zeros(len(candidate_points))
        ranks = (np.argsort(np.argsort(y, kind="stable"), kind="stable")) / (len(y) - 1.0)
        points = self._encode([observed[i] for i in finite])
        assert self._last_weights is not None  # weights() ran first, for the same observations
        log_sources = self._last_weights[1]
        prior_obs: Any = 0.0  # the GP's prior mean at the observations and the candidates
        prior_candidates: Any = 0.0
        if self.target_mean == "transfer":
            # The sources' posterior mixture, scaled to the ranks, is the GP's prior mean: the
            # GP models what the sources get wrong on this dataset.
            mixture = self.weights(observed, scores)
            at_obs = mixture @ self.source_values([observed[i] for i in finite])
            spread = float(np.var(at_obs))
            slope = 0.0
            if spread > 1e-12:
                slope = max(float(np.cov(at_obs, ranks, bias=True)[0, 1]) / spread, 0.0)
            offset = float(ranks.mean() - slope * at_obs.mean())
            prior_obs = offset + slope * at_obs
            prior_candidates = offset + slope * (mixture @ candidate_values)
        # The amplitude stays the ranks' variance: small residuals must not stop exploration.
        fit = fit_gaussian_process(
            points, ranks - prior_obs, LENGTHSCALES, amplitude=float(ranks.var())
        )
        loo = (fit.loo_mean + prior_obs)[None, :]
        tau = float(rank_agreement(loo, y, self.weighted_agreement)[0])
        log_target = float(self.prior.max()) + self.evidence * len(finite) * tau
        top = max(float(log_sources.max()), log_target)
        share = math.exp(log_target - top) / (
            math.exp(log_target - top) + float(np.exp(log_sources - top).sum())
        )
        mean, sd = fit.predict(candidate_points)
        mean = mean + prior_candidates
        return share, gaussian_expected_improvement(mean, sd, float(ranks.max()))

    def on_plateau(self, observed: Sequence[Mapping[str, Any]], scores: Sequence[float]) -> bool:
        """Whether :data:`PLATEAU` or more far-apart configurations share the best result.

        Configurations the known datasets rank apart then score the same here (as on a dataset
        where most configurations predict one class), so the known datasets say nothing about
        where to go next: exploring (the caller's base sampler) leaves the plateau sooner than
        their next favourite would. Far apart: at least :data:`PLATEAU_DISTANCE` from each
        other in the relevance-scaled unit cube, so repeating the best configuration with other
        values of parameters that matter little is not a plateau.
        """
        finite = [i for i, s in enumerate(scores) if math.isfinite(float(s))]
        if len(finite) < PLATEAU:
            return False
        best = max(float(scores[i]) for i in finite)
        tolerance = 1e-12 * max(1.0, abs(best))
        tied = [observed[i] for i in finite if float(scores[i]) >= best - tolerance]
        if len(tied) < PLATEAU:
            return False
        apart: list[np.ndarray] = []
        for point in self._encode(tied):
            if all(np.linalg.norm(point - other) >= PLATEAU_DISTANCE for other in apart):
                apart.append(point)
        return len(apart) >= PLATEAU

    def propose(
        self,
        observed: Sequence[Mapping[str, Any]],
        scores: Sequence[float],
        pending: Sequence[Mapping[str, Any]] = (),
        exclude: set[str] | None = None,
    ) -> tuple[dict[str, Any], float] | None:
        """The candidate of highest expected improvement not yet tried, with that improvement.

        ``None`` when every candidate was tried, none is expected to improve, the study is
        on a plateau (:meth:`on_plateau`), or no known dataset has a configuration that can be
        expressed in the study's space.
        """
        if not self.sources or self.on_plateau(observed, scores):
            return None
        local, centres = self.local_candidates(observed, scores)
        improvement, _ = self.expected_improvement(observed, scores, pending, local, centres)
        candidates = [*self.candidates, *local]
        tried = [*observed, *pending]
        taken: dict[tuple[str, ...], set[str]] = {}
        order = np.argsort(-improvement, kind="stable")
        for index in order:
            if improvement[index] <= 0.0:
                return None
            candidate = candidates[int(index)]
            # Tried means: a trial that agrees on every parameter the candidate sets.
            names = tuple(sorted(candidate))
            if names not in taken:
                taken[names] = {self._key({k: c.get(k) for k in names}) for c in tried} | set(
                    exclude or ()
                )
            if self._key(candidate) not in taken[names]:
                return dict(candidate), float(improvement[index])
        return None

    def local_candidates(
        self, observed: Sequence[Mapping[str, Any]], scores: Sequence[float]
    ) -> tuple[list[dict[str, Any]], list[Mapping[str, Any]]]:
        """``n_local`` neighbours of the study's best configurations, and each one's centre.

        The fixed candidates are the known datasets' optima and a space-filling set, so
        without these the search could not get closer to an optimum than they lie. Drawn once
        the study's own model is fitted (:data:`LOCAL_AFTER` results), around its
        :data:`LOCAL_CENTRES` best results, seeded by ``local_seed`` and the number of results.
        """
        distributions = self._encode.distributions
        finite = [i for i, s in enumerate(scores) if math.isfinite(float(s))]
        if self.n_local <= 0 or not distributions or len(finite) < LOCAL_AFTER:
            return [], []
        best = sorted(finite, key=lambda i: -float(scores[i]))[:LOCAL_CENTRES]
        # Only what the knowledge knows: other parameters are the base sampler's.
        centres = [{k: v for k, v in observed[i].items() if k in distributions} for i in best]
        rng = np.random.default_rng([self.local_seed, len(finite)])
        near = local_configs(centres, distributions, self.n_local, rng)
        return near, [observed[best[i % len(best)]] for i in range(len(near))]

    def portfolio(self, n: int) -> list[tuple[dict[str, Any], float]]:
        """The first ``n`` proposals before any observation: a greedy portfolio under the prior."""
        return self.portfolio_steps(n)[0]

    def portfolio_steps(self, n: int) -> tuple[list[tuple[dict[str, Any], float]], int]:
        """:meth:`portfolio`, and how many of it the greedy portfolio chose.

        Each of those comes with its expected gain; once no candidate is expected to improve
        on the ones chosen, the rest follow by expected score under the prior, with that score.
        """
        if not self.sources:
            return [], 0
        chosen: list[dict[str, Any]] = []
        out = []
        for _ in range(min(n, len(self.candidates))):
            proposal = self.propose([], [], chosen)
            if proposal is None:
                break
            chosen.append(proposal[0])
            out.append(proposal)
        steps = len(out)
        if len(out) < n:  # nothing improves any more: the rest by mean value under the prior
            mean = self.weights([], []) @ self._candidate_values
            taken = {canonical_key(c) for c in chosen}
            for index in np.argsort(-mean, kind="stable"):
                candidate = self.candidates[int(index)]
                if len(out) == n:
                    break
                if canonical_key(candidate) not in taken:
                    taken.add(canonical_key(candidate))
                    out.append((dict(candidate), float(mean[index])))
        return out, steps


def build_session(
    sources: Sequence[Source],
    prior: np.ndarray,
    *,
    distributions: Mapping[str, BaseDistribution] | None,
    map_configs: Any = None,
    candidates_per_source: int,
    n_random: int,
    bandwidth: float | None,
    evidence: float,
    seed: int,
    bandwidths: Sequence[float] | None = None,
) -> TransferSession:
    """A :class:`TransferSession` over ``sources`` in the user's ``distributions``.

    Args:
        sources: The known datasets.
        prior: Prior log-weight of each source.
        distributions: The search space the configurations live in; ``None`` encodes by the
            sources' own recorded values (:class:`~metaopt.metamodel.ConfigEncoder`).
        map_configs: ``configs -> [config or None, ...]``: a source's configurations
            expressed in the user's space, all at once (``None`` for one that cannot be);
            ``None``: the configurations as recorded.
        candidates_per_source: Each source's best configurations offered as candidates.
        n_random: Space-filling (Sobol) candidates drawn in ``distributions``.
        bandwidth: Kernel bandwidth in the unit cube; ``None``: each source chooses its own
            among :data:`BANDWIDTHS` by leave-one-out error.
        evidence: Strength of the observed rank agreement against the prior.
        seed: Seed of the space-filling candidates.
        bandwidths: Each source's bandwidth, when already chosen (skips the choice).
    """
    mapped_sources = []
    for source in sources:
        mapped = (
            map_configs(source.configs)
            if map_configs is not None
            else [dict(c) for c in source.configs]
        )
        pairs = [(c, s) for c, s in zip(mapped, source.scores, strict=True) if c is not None]
        mapped_sources.append(pairs)
    known = {name for pairs in mapped_sources for c, _ in pairs for name in c}
    if distributions is None:
        every = [c for pairs in mapped_sources for c, _ in pairs]
        encode: _Encoder = _Encoder(None, ConfigEncoder().fit(every))
    else:
        # Only what the knowledge knows: other parameters are the base sampler's.
        distributions = {k: d for k, d in distributions.items() if k in known}
        encode = _Encoder(distributions, None)
    candidates: dict[str, dict[str, Any]] = {}
    for pairs in mapped_sources:
        ranked = sorted(pairs, key=lambda pair: -pair[1])[:candidates_per_source]
        for config, _ in ranked:
            candidates.setdefault(canonical_key(config), config)
    if distributions is not None and n_random > 0:
        from metaopt.spaces._space import sobol_configs

        for config in sobol_configs(distributions, n_random, seed):
            candidates.setdefault(canonical_key(config), config)
    candidate_list = list(candidates.values())
    points = [encode([c for c, _ in pairs]) for pairs in mapped_sources]
    values = [np.asarray([s for _, s in pairs], dtype=float) for pairs in mapped_sources]
    # Irrelevant parameters must not blur the models: scale each coordinate by how much of the
    # score variance it explains on the sources.
    encode.scale = relevance(points, values)
    points = [p * encode.scale for p in points]
    keep = [i for i, p in enumerate(points) if len(p)]
    if bandwidths is not None:
        widths = [float(bandwidths[i]) for i in keep]
    else:
        grid = BANDWIDTHS if bandwidth is None else (bandwidth,)
        widths = [select_bandwidth(points[i], values[i], grid) for i in keep]
    stacked_points = np.concatenate([points[i] for i in keep]) if keep else np.zeros((0, 0))
    stacked_values = np.concatenate([values[i] for i in keep]) if keep else np.zeros(0)
    starts = np.cumsum([0] + [len(values[i]) for i in keep[:-1]]).astype(int)
    encoded = encode(candidate_list)
    candidate_values = (
        kernel_regression(stacked_points, stacked_values, starts, np.asarray(widths), encoded)
        if keep
        else np.zeros((0, len(candidate_list)))
    )
    return TransferSession(
        sources=[sources[i].name for i in keep],
        candidates=candidate_list,
        prior=np.asarray(prior, dtype=float)[keep],
        evidence=float(evidence),
        _points=stacked_points,
        _values=stacked_values,
        _starts=starts,
        _candidate_values=candidate_values,
        _encode=encode,
        _widths=widths,
    )


class _Encoder:
    """Encodes configurations by distributions or by a fitted encoder (picklable)."""

    def __init__(
        self, distributions: dict[str, BaseDistribution] | None, fitted: ConfigEncoder | None
    ) -> None:
        self.distributions, self.fitted = distributions, fitted
        self.scale: np.ndarray | float = 1.0

    def __call__(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if self.fitted is not None:
            encoded = np.nan_to_num(self.fitted.transform(configs), nan=0.5)
        else:
            encoded = unit_encode(self.distributions or {}, configs)
        return encoded * self.scale
