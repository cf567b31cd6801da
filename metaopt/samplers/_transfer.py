"""The in-search transfer of MetaSampler: proposals re-weighted by the study's own results."""

from __future__ import annotations

import logging
import math
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
    are the study's completed trials (the value negated for a minimised study); pending are the
    other running trials, so parallel workers spread over different configurations.
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
    ) -> dict[str, Any] | None:
        """Parameters for ``trial``, or ``None`` when transfer has nothing better to offer."""
        session = self._session(search_space, seed)
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        observed, scores, pending = [], [], []
        for past in study.get_trials(deepcopy=False):
            if past.number == trial.number:
                continue
            params = {k: v for k, v in past.params.items() if k in search_space}
            if past.state == TrialState.COMPLETE and past.value is not None:
                if math.isfinite(past.value):
                    observed.append(params)
                    scores.append(sign * float(past.value))
            elif past.state in (TrialState.RUNNING, TrialState.WAITING):
                pending.append(params)
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
