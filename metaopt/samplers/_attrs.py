"""Names and writing of the study and trial attributes MetaSampler leaves in the storage."""

from __future__ import annotations

import math
from typing import Any

import optuna

#: Study user attributes (written once per study; read by ``metaopt.knowledge.from_studies``).
STUDY_METAFEATURES = "metaopt:metafeatures"
STUDY_DATASET = "metaopt:dataset"
STUDY_TASK = "metaopt:task"
STUDY_SPACE = "metaopt:space"
STUDY_VERSION = "metaopt:version"
#: Trial user attribute describing where a warm-start configuration came from.
TRIAL_WARM_START = "metaopt:warm_start"
#: Trial user attribute of a warm-start trial whose configuration, in the objective's own
#: distributions, is an earlier warm-start trial's: it is not evaluated twice.
TRIAL_WARM_REPEAT = "metaopt:warm_start_repeat"
#: Trial system attribute of a trial that evaluates another trial's warm-start configuration
#: (its index): one from ``n_warm`` on, or Optuna's retry of a stale trial; tells it apart from
#: a trial added finished.
TRIAL_HANDED_ON = "metaopt:handed_on"
#: Trial user attribute: the trial's parameters were chosen by the meta-model among this many
#: candidates of the base sampler.
TRIAL_RERANKED = "metaopt:reranked"
#: Trial user attribute of a configuration proposed by the in-search transfer: the expected
#: improvement and the known datasets weighing most at that point.
TRIAL_TRANSFER = "metaopt:transfer"


def json_floats(values: dict[str, float]) -> dict[str, float | None]:
    """Floats with NaN and infinities as ``None`` (storages keep attributes as JSON)."""
    return {
        str(k): (float(v) if v is not None and math.isfinite(float(v)) else None)
        for k, v in values.items()
    }


def study_user_attrs(study: optuna.Study) -> dict[str, Any]:
    """The study's user attributes, read from its storage.

    A sampler hook may receive a view of the study rather than the study itself
    (``HyperbandPruner`` hands samplers a per-bracket study that refuses ``user_attrs``); every
    such view keeps the storage and the study's id.
    """
    return study._storage.get_study_user_attrs(study._study_id)


def set_study_user_attr(study: optuna.Study, key: str, value: Any) -> None:
    """Set a study user attribute through its storage (see :func:`study_user_attrs`)."""
    study._storage.set_study_user_attr(study._study_id, key, value)


def set_trial_system_attr(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, key: str, value: Any
) -> None:
    """Set a system attribute of a running trial from inside a sampler hook (as Optuna's own
    samplers do; see :func:`set_trial_user_attr`)."""
    study._storage.set_trial_system_attr(trial._trial_id, key, value)
    trial.system_attrs[key] = value


def set_trial_user_attr(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, key: str, value: Any
) -> None:
    """Set a user attribute of a running trial from inside a sampler hook.

    Samplers receive only a FrozenTrial, and Optuna has no public call for a sampler to annotate
    one; this is the storage call Optuna's own samplers make. The FrozenTrial's dict is updated
    too, so ``trial.user_attrs`` in the objective sees the value.
    """
    study._storage.set_trial_user_attr(trial._trial_id, key, value)
    trial.user_attrs[key] = value


def fail_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Mark a running trial failed from inside a sampler hook that is about to raise.

    An exception in ``before_trial`` reaches the caller of ``study.ask`` (or
    ``study.optimize``) before the trial exists for it, so nothing else would finish the trial:
    it would stay running in the storage.
    """
    study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
