"""MetaSampler: warm start, pass-through to the base sampler, attributes, fallbacks."""

from __future__ import annotations

import itertools
import logging
import math
import pickle
import warnings
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler

import metaopt
from metaopt.exceptions import FallbackWarning, MetaoptWarning
from metaopt.knowledge import KnowledgeBase
from metaopt.metamodel import NearestDatasets
from metaopt.samplers import MetaSampler, fit_to_distribution
from metaopt.samplers._mapping import UNMAPPABLE

optuna.logging.set_verbosity(optuna.logging.WARNING)
WARM = "metaopt:warm_start"


def _sampler(kb: KnowledgeBase, target: pd.Series, **kwargs: Any) -> MetaSampler:
    options: dict[str, Any] = {
        "metafeatures": target,
        "task": "classification",
        "knowledge": kb,
        "space": "toy",
        "model": "nearest",
        "n_warm": 4,
        "seed": 0,
    }
    options.update(kwargs)
    return MetaSampler(**options)


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    depth = trial.suggest_int("depth", 1, 10)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    other = trial.suggest_float("unknown_to_knowledge", -1.0, 1.0)
    return x + depth / 10 + (kind == "a") + other


def _ranking(kb: KnowledgeBase, target: pd.Series, n: int) -> list[dict[str, Any]]:
    return NearestDatasets().fit(kb, "toy").rank(target, n, task="classification")


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_first_trials_are_the_meta_models_ranking_in_order(kb, target, direction) -> None:
    study = optuna.create_study(direction=direction, sampler=_sampler(kb, target))
    study.optimize(objective, n_trials=7)
    expected = _ranking(kb, target, 4)
    for trial, config in zip(study.trials[:4], expected, strict=True):
        assert {k: trial.params[k] for k in config} == config
        assert trial.user_attrs[WARM]["rank"] == trial.number + 1
        assert trial.user_attrs[WARM]["model"] == "NearestDatasets"
        assert "toy:" in trial.user_attrs[WARM]["source"]
    assert all(WARM not in t.user_attrs for t in study.trials[4:])
    # The parameter the knowledge base lacks came from the base sampler, in range.
    assert len({t.params["unknown_to_knowledge"] for t in study.trials}) == 7


def test_study_records_metafeatures_task_and_space(kb, target) -> None:
    study = optuna.create_study(sampler=_sampler(kb, target))
    study.optimize(objective, n_trials=1)
    attrs = study.user_attrs
    assert attrs["metaopt:metafeatures"] == pytest.approx(target.to_dict())
    assert attrs["metaopt:task"] == "classification"
    assert attrs["metaopt:space"] == "toy"


def test_values_are_clipped_and_rounded_to_the_objectives_distributions(kb, target) -> None:
    def narrow(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.4, 0.45, step=0.01)
        depth = trial.suggest_int("depth", 2, 4, step=2)
        return x + depth

    study = optuna.create_study(sampler=_sampler(kb, target))
    study.optimize(narrow, n_trials=4)
    for trial in study.trials:
        # A warm configuration that lands on an earlier one in this narrow space is not rerun.
        assert WARM in trial.user_attrs or "metaopt:warm_start_repeat" in trial.user_attrs
        assert 0.4 <= trial.params["x"] <= 0.45
        assert round(trial.params["x"] * 100) == pytest.approx(trial.params["x"] * 100)
        assert trial.params["depth"] in (2, 4)


def test_space_is_guessed_from_parameter_names(kb, target) -> None:
    study = optuna.create_study(sampler=_sampler(kb, target, space=None))
    study.optimize(objective, n_trials=4)
    assert all(t.user_attrs[WARM]["space"] == "toy" for t in study.trials)


def test_objective_sharing_no_parameter_falls_back_to_the_base_sampler(kb, target, caplog):
    def unrelated(trial: optuna.Trial) -> float:
        return trial.suggest_float("learning_rate", 0.0, 1.0)

    with caplog.at_level(logging.WARNING, logger="metaopt"):
        study = optuna.create_study(sampler=_sampler(kb, target, space=None))
        study.optimize(unrelated, n_trials=5)
    assert len(study.trials) == 5 and all(t.state.is_finished() for t in study.trials)
    assert all(WARM not in t.user_attrs for t in study.trials)
    assert "match no space" in caplog.text


def test_corrupted_knowledge_directory_is_logged_and_the_study_continues(target, tmp_path, caplog):
    (tmp_path / "provenance.json").write_text("{not json")
    (tmp_path / "evaluations.parquet").write_bytes(b"garbage")
    (tmp_path / "metafeatures.parquet").write_bytes(b"garbage")
    sampler = MetaSampler(
        metafeatures=target,
        task="classification",
        space="toy",
        knowledge=tmp_path,
        n_warm=2,
        seed=0,
    )
    with caplog.at_level(logging.WARNING, logger="metaopt"):
        study = optuna.create_study(sampler=sampler)
        study.optimize(objective, n_trials=3)
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 3
    assert "corrupted" in caplog.text


def test_failed_metafeature_extraction_warns_and_still_warm_starts(kb, monkeypatch, caplog):
    import metaopt
    import metaopt.samplers._meta_sampler as module

    def broken(dataset: Any) -> pd.Series:
        raise ValueError("cannot describe this dataset")

    monkeypatch.setattr(module, "dataset_metafeatures", broken)
    dataset = metaopt.load_dataset("sklearn:iris")
    with (
        caplog.at_level(logging.WARNING, logger="metaopt"),
        pytest.warns(FallbackWarning, match="metafeature extraction failed"),
    ):
        sampler = MetaSampler(dataset, knowledge=kb, space="toy", n_warm=2, seed=0)
    assert "metafeature extraction failed" in caplog.text
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=3)
    # Without a description of the dataset the warm start is the portfolio; the transfer
    # inside the search goes on with a uniform prior.
    assert [t.user_attrs[WARM]["model"] for t in study.trials[:2]] == ["Portfolio"] * 2
    assert "metaopt:transfer" in study.trials[2].user_attrs
    with pytest.warns(FallbackWarning, match="metafeature extraction failed"):
        nearest = MetaSampler(dataset, knowledge=kb, space="toy", n_warm=2, model="nearest")
    study = optuna.create_study(sampler=nearest)
    study.optimize(objective, n_trials=2)
    assert [t.user_attrs[WARM]["model"] for t in study.trials[:2]] == ["Portfolio"] * 2
    assert study.user_attrs["metaopt:dataset"]["name"] == dataset.name


def test_enqueued_trials_keep_their_params_and_every_warm_config_still_runs(kb, target) -> None:
    study = optuna.create_study(sampler=_sampler(kb, target))
    study.enqueue_trial({"x": 0.123, "depth": 3, "kind": "a", "unknown_to_knowledge": 0.0})
    study.enqueue_trial({"x": 0.456})
    study.optimize(objective, n_trials=8)
    assert study.trials[0].params["x"] == 0.123
    assert study.trials[1].params["x"] == 0.456
    ranks = sorted(t.user_attrs[WARM]["rank"] for t in study.trials if WARM in t.user_attrs)
    assert ranks == [1, 2, 3, 4]
    expected = _ranking(kb, target, 4)
    for trial in study.trials:
        if WARM in trial.user_attrs:
            config = expected[trial.user_attrs[WARM]["rank"] - 1]
            assert {k: trial.params[k] for k in config} == config


def test_threads_evaluate_each_warm_config_exactly_once(kb, target) -> None:
    study = optuna.create_study(sampler=_sampler(kb, target, n_warm=6))
    study.optimize(objective, n_trials=12, n_jobs=3)
    ranks = sorted(t.user_attrs[WARM]["rank"] for t in study.trials if WARM in t.user_attrs)
    assert ranks == [1, 2, 3, 4, 5, 6]


def test_resumed_study_does_not_repeat_the_warm_start(kb, target) -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="s", sampler=_sampler(kb, target))
    study.optimize(objective, n_trials=5)
    again = optuna.load_study(study_name="s", storage=storage, sampler=_sampler(kb, target))
    again.optimize(objective, n_trials=5)
    assert sum(WARM in t.user_attrs for t in again.trials) == 4


def test_pickled_sampler_gives_the_same_warm_start(kb, target) -> None:
    sampler = _sampler(kb, target, model="surrogate")
    first = sampler.warm_start_configs()
    copy = pickle.loads(pickle.dumps(sampler))
    assert [w.params for w in copy.warm_start_configs()] == [w.params for w in first]
    study = optuna.create_study(sampler=copy)
    study.optimize(objective, n_trials=5)
    assert sum(WARM in t.user_attrs for t in study.trials) == 4


def test_seeded_samplers_reproduce_a_study(kb, target) -> None:
    def run() -> list[dict[str, Any]]:
        study = optuna.create_study(sampler=_sampler(kb, target, seed=7))
        study.optimize(objective, n_trials=8)
        return [t.params for t in study.trials]

    assert run() == run()


class Recording(BaseSampler):
    """A base sampler that records every hook MetaSampler passes on."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._random = RandomSampler(seed=0)

    def infer_relative_search_space(self, study, trial):
        self.calls.append("infer_relative_search_space")
        return {}

    def sample_relative(self, study, trial, search_space):
        self.calls.append("sample_relative")
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        self.calls.append("sample_independent")
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):
        self.calls.append("before_trial")

    def after_trial(self, study, trial, state, values):
        self.calls.append("after_trial")

    def reseed_rng(self) -> None:
        self.calls.append("reseed_rng")


def test_every_hook_reaches_the_base_sampler(kb, target) -> None:
    base = Recording()
    sampler = _sampler(kb, target, n_warm=1, base_sampler=base)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=2)
    sampler.reseed_rng()
    assert set(base.calls) == {
        "infer_relative_search_space",
        "sample_relative",
        "sample_independent",
        "before_trial",
        "after_trial",
        "reseed_rng",
    }
    assert base.calls.count("before_trial") == base.calls.count("after_trial") == 2
    # Trial 0 is warm: only its unknown parameter is sampled by the base sampler.
    assert base.calls.count("sample_independent") == 1 + 4


def test_constructor_rejects_bad_arguments(kb, target) -> None:
    with pytest.raises(ValueError, match="n_warm"):
        MetaSampler(metafeatures=target, n_warm=-1)
    with pytest.raises(TypeError, match="base_sampler"):
        MetaSampler(metafeatures=target, base_sampler="tpe")
    with pytest.raises(ValueError, match="unknown meta-model"):
        MetaSampler(metafeatures=target, model="oracle")
    with pytest.raises(ValueError, match="task"):
        MetaSampler(metafeatures=target, task="ranking")
    with pytest.raises(TypeError, match="metafeatures"):
        MetaSampler(metafeatures=[1.0, 2.0])
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        MetaSampler(metafeatures=target, seed="a")
    with pytest.raises(ValueError, match="transfer must be a bool"):
        MetaSampler(metafeatures=target, transfer="no")
    with pytest.raises(ValueError, match=r"names \['last-week'\] need storage="):
        MetaSampler(metafeatures=target, source_studies=["last-week"])


@pytest.mark.parametrize(
    ("value", "distribution", "expected"),
    [
        (5.0, FloatDistribution(0.0, 1.0), 1.0),
        (0.37, FloatDistribution(0.0, 1.0, step=0.25), 0.25),
        (0.99, FloatDistribution(0.0, 0.75, step=0.25), 0.75),
        (1e-9, FloatDistribution(1e-5, 1.0, log=True), 1e-5),
        (7.6, IntDistribution(1, 32), 8),
        (7, IntDistribution(1, 9, step=4), 9),
        (100, IntDistribution(1, 9, step=4), 9),
        ("b", CategoricalDistribution(["a", "b"]), "b"),
        (60, CategoricalDistribution([16, 32, 64]), 64),
        (1.0, CategoricalDistribution([True, 1]), 1),
        ("c", CategoricalDistribution(["a", "b"]), UNMAPPABLE),
        (None, FloatDistribution(0.0, 1.0), UNMAPPABLE),
        (float("nan"), IntDistribution(0, 3), UNMAPPABLE),
        (True, FloatDistribution(0.0, 1.0), UNMAPPABLE),
    ],
)
def test_values_map_onto_distributions(value, distribution, expected) -> None:
    mapped = fit_to_distribution(value, distribution)
    assert mapped is expected if expected is UNMAPPABLE else mapped == expected
    if expected is not UNMAPPABLE:
        assert type(mapped) is type(expected)


def test_reranking_fades_and_keeps_values_in_range(kb, target) -> None:
    sampler = _sampler(kb, target, model="surrogate", n_warm=4, rerank=4)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=40)
    reranked = [t.number for t in study.trials if "metaopt:reranked" in t.user_attrs]
    assert reranked and min(reranked) >= 4  # never a warm-start trial
    # Weight n_warm / (n_warm + own trials) < 0.2 once 17 own trials are done.
    assert max(reranked) <= 4 + 17
    for trial in study.trials:
        assert 0.0 <= trial.params["x"] <= 1.0 and 1 <= trial.params["depth"] <= 10
    plain = optuna.create_study(sampler=_sampler(kb, target, model="surrogate", n_warm=4))
    plain.optimize(objective, n_trials=10)
    assert not any("metaopt:reranked" in t.user_attrs for t in plain.trials)


def test_reranking_keeps_the_models_favourite_candidate() -> None:
    from metaopt.samplers._rerank import rerank_candidates

    class Prefers09:
        def predict(self, metafeatures, configs, *, space, task):
            return [-abs(c["x"] - 0.9) for c in configs]

    study = optuna.create_study(sampler=RandomSampler(seed=0))
    trial = study.ask()
    chosen = rerank_candidates(
        study,
        trial._cached_frozen_trial,
        {"x": FloatDistribution(0.0, 1.0)},
        RandomSampler(seed=1),
        Prefers09(),
        pd.Series({"a": 1.0}),
        space="toy",
        task="classification",
        n_candidates=50,
    )
    assert abs(chosen["x"] - 0.9) < 0.05


def test_warm_configurations_equal_in_the_objectives_space_are_evaluated_once(kb, target):
    def coarse(trial: optuna.Trial) -> float:
        # Four points in all: six warm configurations cannot all differ.
        x = trial.suggest_float("x", 0.0, 1.0, step=1.0)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        return x + (kind == "a")

    sampler = _sampler(kb, target, n_warm=6)
    study = optuna.create_study(sampler=sampler)
    study.optimize(coarse, n_trials=10)
    warm = [t for t in study.trials if WARM in t.user_attrs]
    repeats = [t for t in study.trials if "metaopt:warm_start_repeat" in t.user_attrs]
    assert repeats, "the coarse space should map some warm configurations onto earlier ones"
    assert len(warm) + len(repeats) == 6
    assert all(t.number < 6 for t in warm + repeats)
    keys = [tuple(sorted(t.params.items())) for t in warm]
    assert len(set(keys)) == len(keys)
    for t in repeats:
        rank = t.user_attrs["metaopt:warm_start_repeat"]["same_as_rank"]
        assert rank < t.user_attrs["metaopt:warm_start_repeat"]["rank"]
    # Nothing is handed on: no later trial carries a warm-start attribute.
    assert all(t.number < 6 for t in study.trials if WARM in t.user_attrs)


def test_a_model_instance_without_metafeatures_is_used_as_given(kb, target) -> None:
    from metaopt.metamodel import Portfolio

    one = kb.subset([kb.datasets[0]])
    model = Portfolio().fit(one, "toy")  # a portfolio of one dataset: not the default one
    expected = model.rank(None, 3, space="toy", task="classification")
    default = Portfolio().fit(kb, "toy").rank(None, 3, space="toy", task="classification")
    assert expected != default
    sampler = _sampler(kb, target, model=model, n_warm=3, transfer=False)
    assert [w.params for w in sampler.warm_start_configs()] == expected


def test_a_model_needing_metafeatures_without_them_warns_and_uses_the_portfolio(kb) -> None:
    sampler = MetaSampler(knowledge=kb, space="toy", task="classification", model="nearest")
    with pytest.warns(FallbackWarning, match="metafeatures"):
        warm = sampler.warm_start_configs()
    assert warm and all(w.source for w in warm)


def test_a_first_name_that_fits_several_spaces_waits_for_a_finished_trial() -> None:
    # "C" alone fits svm and logistic_regression: trial 0 is the base sampler's; the space
    # is chosen from all of trial 0's names, and the first warm configuration runs later.
    def svm_objective(trial: optuna.Trial) -> float:
        c = trial.suggest_float("C", 1e-3, 1e3, log=True)
        gamma = trial.suggest_float("gamma", 1e-4, 10.0, log=True)
        return -abs(c - 1.0) - abs(gamma - 0.1)

    sampler = MetaSampler(task="classification", model="portfolio", n_warm=3, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with pytest.warns(FallbackWarning, match="chose the knowledge space 'svm'"):
        study.optimize(svm_objective, n_trials=5)
    warm = [t.user_attrs.get(WARM) for t in study.trials]
    assert warm[0] is None
    assert [w["rank"] for w in warm[1:4]] == [2, 3, 1]
    assert all(w["space"] == "svm" for w in warm[1:4]) and warm[4] is None
    configs = sampler.warm_start_configs(study)
    assert study.trials[3].params == pytest.approx(configs[0].params)


def test_a_forest_objective_gets_the_better_known_of_two_spaces_with_its_names() -> None:
    matches = metaopt.knowledge.load().space_matches(
        ["max_features", "min_samples_leaf", "min_samples_split", "criterion", "bootstrap"]
    )
    assert list(matches["space"][:2]) == ["random_forest", "extra_trees"]
    assert matches["jaccard"][0] == matches["jaccard"][1]  # same names: more evaluations win
    assert matches["evaluations"][0] > matches["evaluations"][1]


def test_a_used_sampler_pickles_without_the_shipped_knowledge_base() -> None:
    def knn(trial: optuna.Trial) -> float:
        return -abs(trial.suggest_int("n_neighbors", 1, 50) - 7) - trial.suggest_int("p", 1, 2)

    sampler = MetaSampler(task="classification", space="knn", model="portfolio", n_warm=3, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(knn, n_trials=4)
    data = pickle.dumps(sampler)
    assert len(data) < 2_000_000  # the shipped table alone pickles to about 50 MB
    restored = pickle.loads(data)
    assert restored.warm_start_configs() == sampler.warm_start_configs()
    assert len(restored._knowledge_base().evaluations) == len(sampler._knowledge.evaluations)


def test_continuing_a_study_on_other_data_warns_and_keeps_its_record() -> None:
    def knn(trial: optuna.Trial) -> float:
        return float(trial.suggest_int("n_neighbors", 1, 50))

    storage = optuna.storages.InMemoryStorage()
    options = {"space": "knn", "model": "portfolio", "n_warm": 1, "seed": 0}
    first = MetaSampler("sklearn:iris", **options)
    optuna.create_study(storage=storage, study_name="s", sampler=first).optimize(knn, n_trials=1)
    again = MetaSampler("sklearn:iris", **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetaoptWarning)  # the same data: nothing to say
        optuna.load_study(storage=storage, study_name="s", sampler=again).optimize(knn, n_trials=1)
    other = MetaSampler("sklearn:wine", **options)
    study = optuna.load_study(storage=storage, study_name="s", sampler=other)
    with pytest.warns(MetaoptWarning, match="was run on other data"):
        study.optimize(knn, n_trials=1)
    assert study.user_attrs["metaopt:dataset"]["name"] == "iris"


def test_fit_configs_is_fit_config_of_each_configuration() -> None:
    # One pass per parameter with numpy must give exactly the values (types, signed zeros,
    # ties rounded half to even), the dropped parameters and the order of fit_config, which
    # maps one configuration value by value (the single-configuration path).
    from metaopt.samplers._mapping import fit_config, fit_configs

    rng = np.random.default_rng(0)
    configs = []
    for i in range(500):
        config = {
            "lr": float(10 ** rng.uniform(-4, 0)),
            "frac": float(rng.uniform(-0.5, 1.5)),
            "n": int(rng.integers(-5, 300)) if i % 3 else float(rng.uniform(0, 300)),
            "depth": int(rng.integers(1, 80)),
            "kind": str(rng.choice(["a", "b", "c"])),
            "width": int(rng.choice([8, 16, 33, 64, 100])),
            "extra": 1.0,
        }
        if i % 7 == 0:
            del config["lr"]  # a parameter some configurations lack
        if i % 5 == 0:  # another order of parameters
            config = dict(reversed(list(config.items())))
        configs.append(config)
    odd = [
        None,
        math.nan,
        math.inf,
        -math.inf,
        True,
        np.bool_(False),
        "a",
        -0.0,
        0.0,
        2.5,
        3.5,
        0.35,
        0.45,
        1e300,
        -1e300,
        np.float64(0.7),
        np.int64(7),
        np.float32(0.3),
        2**60,
    ]
    names = ["lr", "frac", "n", "depth", "kind", "width"]
    # Each odd value among plain numbers, in every parameter: a batch of its own, as a
    # batch's values are converted all at once when they are all plain numbers.
    batches = [configs] + [[dict.fromkeys(names, v) for v in (0.5, value, 3)] for value in odd]
    spaces = [
        {
            "lr": FloatDistribution(1e-3, 0.5, log=True),
            "frac": FloatDistribution(0.2, 0.9, step=0.1),
            "n": IntDistribution(10, 200, step=5),
            "depth": IntDistribution(2, 32, log=True),
            "kind": CategoricalDistribution(["a", "b"]),
            "width": CategoricalDistribution([16, 32, 64]),
            "missing": FloatDistribution(0.0, 1.0),  # no configuration has it
        },
        {
            "frac": FloatDistribution(-0.0, 1.0),
            "n": IntDistribution(0, 8, step=2),
            "lr": FloatDistribution(-1.0, -0.0),
            "width": CategoricalDistribution([True, 1, "x", None]),
            "depth": IntDistribution(0, 2**53 + 3),  # beyond float precision
        },
        {"depth": FloatDistribution(1.0, 10.0), "n": IntDistribution(1, 1)},
        {},
    ]

    def exactly(mapped: dict[str, Any]) -> list[tuple[str, type, str]]:
        return [(name, type(value), repr(value)) for name, value in mapped.items()]

    for distributions, batch in itertools.product(spaces, batches):
        expected = [exactly(fit_config(c, distributions)) for c in batch]
        assert [exactly(m) for m in fit_configs(batch, distributions)] == expected
    assert fit_configs([], spaces[0]) == []
