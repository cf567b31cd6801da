"""MetaSampler in the ways Optuna users run studies: pruners, ask-and-tell, threads, add_trials,
constraints and relative base samplers."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from metaopt.knowledge import KnowledgeBase
from metaopt.samplers import MetaSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)
WARM = "metaopt:warm_start"
TRANSFER = "metaopt:transfer"


def _sampler(kb: KnowledgeBase, target: pd.Series, **kwargs: Any) -> MetaSampler:
    """The default meta-model (with the in-search transfer) on the toy knowledge."""
    options: dict[str, Any] = {
        "metafeatures": target,
        "task": "classification",
        "knowledge": kb,
        "space": "toy",
        "n_warm": 4,
        "seed": 0,
    }
    options.update(kwargs)
    return MetaSampler(**options)


def _suggest(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    depth = trial.suggest_int("depth", 1, 10)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    return x + depth / 10 + (kind == "a")


def _config(trial: optuna.trial.FrozenTrial) -> tuple[Any, ...]:
    return tuple(sorted(trial.params.items()))


@pytest.fixture
def optuna_warnings() -> Iterator[list[str]]:
    """The messages Optuna logs at WARNING level or above while the test runs."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("optuna")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def test_hyperband_pruner_runs_and_the_study_is_recorded(kb, target) -> None:
    # HyperbandPruner hands samplers a per-bracket view of the study without user_attrs.
    def objective(trial: optuna.Trial) -> float:
        value = _suggest(trial)
        for step in range(4):
            trial.report(value * step, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=4)
    study = optuna.create_study(sampler=_sampler(kb, target), pruner=pruner)
    study.optimize(objective, n_trials=10)
    assert len(study.trials) == 10 and all(t.state.is_finished() for t in study.trials)
    assert study.user_attrs["metaopt:task"] == "classification"
    assert sorted(t.user_attrs[WARM]["rank"] for t in study.trials if WARM in t.user_attrs) == [
        1,
        2,
        3,
        4,
    ]


def test_pruned_and_failed_trials_are_not_proposed_again(kb, target) -> None:
    study = optuna.create_study(sampler=_sampler(kb, target))
    for i in range(16):
        trial = study.ask()
        value = _suggest(trial)
        if i < 4:
            study.tell(trial, value)
        else:
            study.tell(trial, state=TrialState.PRUNED if i % 2 else TrialState.FAIL)
    transferred = [t for t in study.trials if TRANSFER in t.user_attrs]
    assert len(transferred) >= 8
    counts = Counter(_config(t) for t in study.trials)
    assert max(counts.values()) == 1, counts.most_common(2)


def test_threads_never_get_the_same_transfer_proposal(kb, target) -> None:
    study = optuna.create_study(sampler=_sampler(kb, target, n_warm=6, seed=1))
    study.optimize(_suggest, n_trials=24, n_jobs=4)
    assert sorted(t.user_attrs[WARM]["rank"] for t in study.trials if WARM in t.user_attrs) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    counts = Counter(_config(t) for t in study.trials)
    assert max(counts.values()) == 1, counts.most_common(2)


def test_trials_added_from_another_study_do_not_take_warm_configurations(kb, target) -> None:
    earlier = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    earlier.optimize(_suggest, n_trials=6)  # more added trials than warm-start trials
    study = optuna.create_study(sampler=_sampler(kb, target))
    study.add_trials(earlier.trials)
    study.optimize(_suggest, n_trials=6)
    ranks = sorted(t.user_attrs[WARM]["rank"] for t in study.trials if WARM in t.user_attrs)
    assert ranks == [1, 2, 3, 4]
    assert [t.number for t in study.trials if WARM in t.user_attrs] == [6, 7, 8, 9]


def test_a_guessed_space_is_recorded_with_the_study(kb, target) -> None:
    with pytest.warns(match="chose the knowledge space 'toy'"):
        study = optuna.create_study(sampler=_sampler(kb, target, space=None))
        study.optimize(_suggest, n_trials=2)
    assert study.user_attrs["metaopt:space"] == "toy"


@pytest.mark.parametrize(
    "base",
    [
        lambda: optuna.samplers.QMCSampler(seed=0),
        lambda: optuna.samplers.CmaEsSampler(seed=0),
    ],
    ids=["qmc", "cmaes"],
)
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_relative_base_sampler_samples_what_the_knowledge_lacks_without_warnings(
    kb, target, base, optuna_warnings
) -> None:
    def objective(trial: optuna.Trial) -> float:
        lacking = trial.suggest_float("lacking", -1.0, 1.0)  # not in the knowledge base
        return _suggest(trial) + lacking**2

    study = optuna.create_study(sampler=_sampler(kb, target, base_sampler=base()))
    study.optimize(objective, n_trials=12)
    assert sum(TRANSFER in t.user_attrs for t in study.trials) >= 4
    assert len({t.params["lacking"] for t in study.trials}) == 12
    assert not [m for m in optuna_warnings if "sampled independently" in m], optuna_warnings


def test_infeasible_results_rank_below_feasible_ones_in_the_transfer(kb, target) -> None:
    # The knowledge favours a large x here; the constraint allows only x <= 0.3.
    def objective(trial: optuna.Trial) -> float:
        value = _suggest(trial)
        trial.set_constraint("x_at_most_0.3", trial.params["x"] - 0.3)
        return value

    study = optuna.create_study(direction="maximize", sampler=_sampler(kb, target))
    study.optimize(objective, n_trials=25)
    later = study.trials[4:]
    feasible = [t for t in later if t.params["x"] <= 0.3]
    assert len(feasible) >= len(later) // 2, [round(t.params["x"], 2) for t in later]
