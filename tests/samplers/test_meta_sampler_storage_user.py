"""MetaSampler as Optuna users run it on shared storages: workers that die and are retried by
Optuna's heartbeat, and a misspelt knowledge space."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from metaopt.knowledge import KnowledgeBase
from metaopt.samplers import MetaSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)
WARM = "metaopt:warm_start"
N_WARM = 4
GRACE_PERIOD = 1  # seconds; Optuna takes whole seconds


def _sampler(kb: Any, target: pd.Series, **kwargs: Any) -> MetaSampler:
    options: dict[str, Any] = {
        "metafeatures": target,
        "task": "classification",
        "knowledge": kb,
        "space": "toy",
        "n_warm": N_WARM,
        "seed": 0,
    }
    options.update(kwargs)
    return MetaSampler(**options)


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    depth = trial.suggest_int("depth", 1, 10)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    return x + depth / 10 + (kind == "a")


def _heartbeat_storage(url: str) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(
        url,
        heartbeat_interval=1,
        grace_period=GRACE_PERIOD,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
    )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
@pytest.mark.parametrize(
    ("backend", "dies_at", "sampled"),
    [("sqlite", 0, True), ("sqlite", 2, True), ("sqlite", 0, False), ("postgresql", 0, True)],
)
def test_a_dead_workers_warm_trial_retried_by_optuna_loses_and_repeats_nothing(
    kb, target, tmp_path: Path, request: pytest.FixtureRequest, backend, dies_at, sampled
) -> None:
    # A worker dies in warm trial `dies_at`; the heartbeat marks it failed and Optuna's
    # RetryHeartbeatStaleTrialCallback enqueues a retry, which takes the next trial number (below
    # n_warm here). Every warm configuration must still be evaluated, each exactly once.
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'study.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    storage = _heartbeat_storage(url)
    name = f"retry-{dies_at}-{sampled}"
    study = optuna.create_study(study_name=name, storage=storage, sampler=_sampler(kb, target))
    study.optimize(_objective, n_trials=dies_at)
    dying = study.ask()  # the worker that dies: its heartbeat stops after one beat
    if sampled:
        _objective(dying)
    storage.record_heartbeat(dying._trial_id)
    # Stale once the database's clock is more than the grace period past the beat: SQLite's
    # clock counts whole seconds.
    time.sleep(GRACE_PERIOD + (1.05 if backend == "sqlite" else 0.1))

    # Another worker, with its own sampler, goes on; its first trial fails the stale one.
    resumed = optuna.load_study(study_name=name, storage=storage, sampler=_sampler(kb, target))
    resumed.optimize(_objective, n_trials=N_WARM + 2 - dies_at)

    trials = resumed.get_trials()
    assert trials[dies_at].state == TrialState.FAIL
    retry = trials[dies_at + 1]
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(retry) == dies_at
    assert retry.user_attrs[WARM]["rank"] == dies_at + 1
    if sampled:
        assert retry.params == trials[dies_at].params
    complete = [t for t in trials if t.state == TrialState.COMPLETE and WARM in t.user_attrs]
    ranks = Counter(t.user_attrs[WARM]["rank"] for t in complete)
    assert sorted(ranks.elements()) == list(range(1, N_WARM + 1))
    configs = Counter(tuple(sorted(t.params.items())) for t in complete)
    assert max(configs.values()) == 1


def test_a_retry_of_a_base_sampler_trial_takes_no_warm_configuration(kb, target) -> None:
    # Optuna retries a trial from n_warm on (the base sampler's): it keeps that trial's
    # parameters, and the next trial is the base sampler's or the transfer's as usual.
    study = optuna.create_study(sampler=_sampler(kb, target, transfer=False))
    study.optimize(_objective, n_trials=N_WARM + 1)
    RetryHeartbeatStaleTrialCallback(max_retry=1)(study, study.trials[N_WARM])
    study.optimize(_objective, n_trials=2)
    retry = study.trials[N_WARM + 1]
    assert retry.params == study.trials[N_WARM].params
    assert WARM not in retry.user_attrs
    assert sum(WARM in t.user_attrs for t in study.trials) == N_WARM


def test_misspelt_space_raises_at_construction_with_a_knowledge_base(
    kb: KnowledgeBase, target
) -> None:
    with pytest.raises(
        ValueError, match=r"unknown knowledge space 'tyo' \(did you mean \['toy'\]"
    ):
        _sampler(kb, target, space="tyo")
    _sampler(kb, target, space="tyo", n_warm=0)  # no knowledge used: nothing to check


def test_misspelt_space_of_a_stored_base_raises_at_the_first_trial(
    kb: KnowledgeBase, target, tmp_path: Path
) -> None:
    kb.save(tmp_path / "kb")
    sampler = _sampler(str(tmp_path / "kb"), target, space="tyo")  # read lazily
    study = optuna.create_study(sampler=sampler)
    with pytest.raises(ValueError, match=r"unknown knowledge space 'tyo'.*holds \['toy'\]"):
        study.optimize(_objective, n_trials=3)
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL]
    with pytest.raises(ValueError, match="unknown knowledge space"):
        sampler.warm_start_configs()


def test_misspelt_space_resuming_a_study_fails_the_trial_instead_of_leaving_it_running(
    kb: KnowledgeBase, target, tmp_path: Path
) -> None:
    # A study past its warm start, resumed by a new worker: the space is first needed while
    # Optuna creates the trial.
    kb.save(tmp_path / "kb")
    storage = optuna.storages.InMemoryStorage()
    done = optuna.create_study(storage=storage, sampler=_sampler(kb, target))
    done.optimize(_objective, n_trials=N_WARM)
    sampler = _sampler(str(tmp_path / "kb"), target, space="tyo")
    resumed = optuna.load_study(study_name=done.study_name, storage=storage, sampler=sampler)
    with pytest.raises(ValueError, match="unknown knowledge space 'tyo'"):
        resumed.optimize(_objective, n_trials=2)
    assert resumed.get_trials()[-1].state == TrialState.FAIL
    assert not resumed.get_trials(states=(TrialState.RUNNING,))


def test_any_space_name_is_that_of_the_source_studies(kb, target) -> None:
    old = optuna.create_study(sampler=_sampler(kb, target, n_warm=0))
    old.optimize(_objective, n_trials=6)
    sampler = _sampler(kb, target, space="mine", source_studies=[old], n_warm=2)
    assert [w.params for w in sampler.warm_start_configs()][0] == old.best_params | {}
    sampler = _sampler(False, target, space="mine", source_studies=[old], n_warm=2)
    assert len(sampler.warm_start_configs()) == 2


def test_no_knowledge_and_no_source_studies_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="knowledge=False leaves MetaSampler nothing to learn"):
        MetaSampler(knowledge=False, space="random_forest")
