"""The in-search transfer of MetaSampler: proposals re-weighted by the study's own results."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from metaopt.samplers import _attrs
from metaopt.samplers._mapping import fit_config

_logger = logging.getLogger("metaopt.samplers")


class InSearchTransfer:
    """Proposes each trial's configuration from a :class:`~metaopt.metamodel.TransferSession`.

    One session per search space the study asks for (rebuilt when the space changes). Observed
    are the study's completed trials with a finite value (negated for a minimised study); an
    infeasible one (``trial.set_constraint``, or a base sampler's ``constraints_func``) counts
    as worse than every feasible one, as Optuna's own samplers rank it. Pending are all the
    others: running trials, so parallel workers spread over different configurations, and
    pruned, failed or non-finite ones, which were tried and are not proposed again.
    """

    def __init__(self, model: Any, metafeatures: Any, space: str, task: str | None) -> None:
        self.model, self.metafeatures, self.space, self.task = model, metafeatures, space, task
        self._sessions: dict[str, Any] = {}

    def _session(self, search_space: dict[str, BaseDistribution], seed: int) -> Any:
        key = repr(sorted((name, repr(d)) for name, d in search_space.items()))
        if key not in self._sessions:
            self._sessions[key] = self.model.session(
                self.metafeatures,
                space=self.space,
                task=self.task,
                distributions=search_space,
                seed=seed,
            )
        return self._sessions[key]

    def propose(
        self,
        study: Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
        seed: int,
        running: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> dict[str, Any] | None:
        """Parameters for ``trial``, or ``None`` when transfer has nothing better to offer.

        Args:
            study: The study.
            trial: The trial to propose for.
            search_space: The objective's distributions to propose in.
            seed: Seed of the session's space-filling candidates.
            running: What this process proposed to trials still running, by trial number: a
                running trial stores its parameters only as the objective asks for them, so
                a trial started a moment before (another thread) may have none stored yet.
        """
        session = self._session(search_space, seed)
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        observed, scores, pending = [], [], []
        violations: list[float] = []  # > 0 for an infeasible result, in the order of observed
        for past in study.get_trials(deepcopy=False):
            if past.number == trial.number:
                continue
            params = {k: v for k, v in past.params.items() if k in search_space}
            value = past.value if past.state == TrialState.COMPLETE else None
            if value is not None and math.isfinite(value):
                observed.append(params)
                scores.append(sign * float(value))
                violations.append(sum(max(c, 0.0) for c in past.constraints.values()))
                continue
            if running and not past.state.is_finished() and past.number in running:
                proposed = running[past.number]
                params = {**{k: v for k, v in proposed.items() if k in search_space}, **params}
            if past.state.is_finished() and not params:
                continue  # ended before asking for any of these parameters
            # Running, pruned, failed or without a finite value: tried, but not a result.
            pending.append(params)
        if any(v > 0.0 for v in violations):
            # As Optuna's samplers rank them: below every feasible result, by their violation.
            floor = min(
                (s for s, v in zip(scores, violations, strict=True) if v <= 0.0), default=0.0
            )
            scores = [
                s if v <= 0.0 else floor - 1.0 - v for s, v in zip(scores, violations, strict=True)
            ]
        proposal = session.propose(observed, scores, pending)
        if proposal is None:
            return None
        config, improvement = proposal
        values = fit_config(config, search_space)
        if not values:
            return None
        weights = session.weights(observed, scores)
        top = np.argsort(-weights)[:3]
        info = {
            "expected_improvement": round(improvement, 6),
            "sources": {session.sources[i]: round(float(weights[i]), 4) for i in top},
            "observed": len(observed),
        }
        _attrs.set_trial_user_attr(study, trial, _attrs.TRIAL_TRANSFER, info)
        return values


def intersection(study: Study) -> dict[str, BaseDistribution]:
    """The parameters every completed trial has, with more than one possible value."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not trials:
        return {}
    space = optuna.search_space.intersection_search_space(trials)
    return {name: dist for name, dist in space.items() if not dist.single()}
