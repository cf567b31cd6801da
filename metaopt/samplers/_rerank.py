"""Re-ranking a base sampler's candidates by the meta-model, with a fading weight."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

_logger = logging.getLogger("metaopt.samplers")

#: Below this weight the study's own evidence has taken over and re-ranking stops.
MIN_WEIGHT = 0.2


def fading_weight(n_warm: int, n_own: int) -> float:
    """Weight of the meta-model after ``n_own`` completed trials of the study's own.

    ``n_warm / (n_warm + n_own)``: 1 right after the warm start, 1/2 once the study has as many
    trials of its own as warm-start trials, and so on.

    Example:
        >>> fading_weight(10, 10)
        0.5
    """
    return n_warm / (n_warm + n_own) if n_warm > 0 else 0.0


def rerank_candidates(
    study: Study,
    trial: FrozenTrial,
    search_space: dict[str, BaseDistribution],
    base_sampler: BaseSampler,
    model: Any,
    metafeatures: pd.Series,
    *,
    space: str,
    task: str | None,
    n_candidates: int,
) -> dict[str, Any]:
    """Draw ``n_candidates`` configurations from the base sampler; keep the model's favourite.

    The candidates are drawn with the base sampler's ``sample_independent`` (for TPE: draws from
    its model of good configurations), so re-ranking only chooses among what the base sampler
    itself would propose. Falls back to the first candidate when the model cannot score them.
    """
    candidates = [
        {
            name: base_sampler.sample_independent(study, trial, name, distribution)
            for name, distribution in search_space.items()
        }
        for _ in range(n_candidates)
    ]
    try:
        predicted = np.asarray(model.predict(metafeatures, candidates, space=space, task=task))
    except (ValueError, TypeError, KeyError) as error:
        _logger.warning("re-ranking skipped for trial %d: %s", trial.number, error)
        return candidates[0]
    return candidates[int(np.argmax(predicted))]
