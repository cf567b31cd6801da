"""metaopt.knowledge.from_studies: a user's Optuna studies as knowledge."""

from __future__ import annotations

import math

import optuna
import pandas as pd
import pytest

from metaopt.knowledge._studies import from_studies
from metaopt.samplers import MetaSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    if layers == 4:
        raise RuntimeError("out of memory")  # a failed trial
    return (math.log10(lr) + 2) ** 2 + layers


def _study(storage, name: str, metafeatures: dict[str, float]) -> optuna.Study:
    sampler = MetaSampler(
        metafeatures=pd.Series(metafeatures), task="regression", n_warm=0, seed=0
    )
    study = optuna.create_study(storage=storage, study_name=name, sampler=sampler)
    study.optimize(_objective, n_trials=12, catch=(RuntimeError,))
    return study


def test_studies_become_a_valid_knowledge_base(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    first = _study(storage, "first", {"a": 1.0, "b": 2.0})
    _study(storage, "second", {"a": 3.0, "b": float("nan")})
    kb = from_studies(storage, ["first", "second"]).validate()
    assert kb.spaces == ["study:first", "study:second"]
    assert kb.datasets == ["study:first", "study:second"]
    assert kb.metafeatures.loc["study:first"].to_dict() == {"a": 1.0, "b": 2.0}
    assert math.isnan(kb.metafeatures.loc["study:second", "b"])
    rows = kb.evaluations[kb.evaluations["dataset"] == "study:first"]
    ok = rows[rows["status"] == "ok"]
    values = {t.number: t.value for t in first.trials if t.value is not None}
    # Minimised objective: the score is its negation, so higher is better.
    assert dict(zip(ok["config_id"], -ok["score"], strict=True)) == pytest.approx(values)
    failed = rows[rows["status"] == "failed"]
    assert len(failed) == sum(t.state.name == "FAIL" for t in first.trials) > 0
    assert failed["score"].isna().all()
    assert set(rows.columns) >= {"lr", "layers", "params", "fold_scores", "source"}
    assert (rows["source"] == "study:first").all()


def test_study_knowledge_warm_starts_a_new_study_with_a_custom_space(tmp_path) -> None:
    storage = optuna.storages.InMemoryStorage()
    old = _study(storage, "old", {"a": 1.0, "b": 2.0})
    kb = from_studies(storage, "old")
    sampler = MetaSampler(
        metafeatures=pd.Series({"a": 1.1, "b": 2.1}),
        task="regression",
        knowledge=kb,
        model="nearest",
        n_warm=2,
        seed=1,
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(_objective, n_trials=3, catch=(RuntimeError,))
    assert study.trials[0].params == old.best_params
    assert study.trials[0].user_attrs["metaopt:warm_start"]["space"] == "study:old"


def test_unusable_studies_raise_clear_errors() -> None:
    storage = optuna.storages.InMemoryStorage()
    plain = optuna.create_study(storage=storage, study_name="plain")
    plain.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    with pytest.raises(ValueError, match="has no metafeatures"):
        from_studies(storage, "plain")
    plain.set_user_attr("metaopt:metafeatures", {"a": 1.0})
    with pytest.raises(ValueError, match="no valid task"):
        from_studies(storage, "plain")
    with pytest.raises(ValueError, match="no study named 'missing'"):
        from_studies(storage, ["missing"])
    with pytest.raises(ValueError, match="empty"):
        from_studies(storage, [])
    with pytest.raises(ValueError, match="there is no SQLite file 'typo.db'"):
        from_studies("sqlite:///typo.db", "plain")  # and no empty typo.db is created
    with pytest.raises(ValueError, match="storage 'studies.db' cannot be opened"):
        from_studies("studies.db", "plain")
    optuna.create_study(storage=storage, study_name="multi", directions=["minimize"] * 2)
    with pytest.raises(ValueError, match="multi-objective"):
        from_studies(storage, "multi")
    empty = optuna.create_study(storage=storage, study_name="empty")
    empty.set_user_attr("metaopt:metafeatures", {"a": 1.0})
    empty.set_user_attr("metaopt:task", "classification")
    with pytest.raises(ValueError, match="no completed trial"):
        from_studies(storage, "empty")
    plain.set_user_attr("metaopt:task", "classification")
    with pytest.raises(ValueError, match="given twice"):
        from_studies(storage, ["plain", "plain"])
    forest = optuna.create_study(storage=storage, study_name="forest")
    forest.set_user_attr("metaopt:metafeatures", {"a": 1.0})
    forest.set_user_attr("metaopt:task", "classification")
    forest.optimize(lambda t: t.suggest_int("n_trees", 10, 500) / 500, n_trials=2)
    with pytest.raises(
        ValueError, match=r"named like the knowledge base's own columns \['n_trees'\]"
    ):
        from_studies(storage, "forest")  # its values would overwrite the schema's n_trees
