"""MetaSampler keeps transferring after the warm start, in the user's own search space."""

from __future__ import annotations

import json
import pickle

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import FloatDistribution

from metaopt.exceptions import FallbackWarning
from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase
from metaopt.metamodel import TransferEnsemble
from metaopt.metamodel._session import rank_agreement
from metaopt.samplers import MetaSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)
TRANSFER = "metaopt:transfer"
WARM = "metaopt:warm_start"


def _two_kinds_of_datasets(n_per_kind: int = 6, n_configs: int = 40) -> KnowledgeBase:
    """Datasets of kind A peak at x = 0.15, of kind B at x = 0.85; y is noise."""
    rng = np.random.default_rng(0)
    xs = np.linspace(0.0, 1.0, n_configs)
    rows = []
    for kind, peak in (("a", 0.15), ("b", 0.85)):
        for i in range(n_per_kind):
            dataset = f"{kind}{i}"
            for config_id, x in enumerate(xs):
                y = float(rng.uniform())
                score = float(np.exp(-((x - peak) ** 2) / 0.02) + 0.01 * rng.normal())
                params = {"x": float(x), "y": y}
                rows.append(
                    {
                        "dataset": dataset,
                        "fingerprint": dataset,
                        "task": "classification",
                        "space": "bumps",
                        "config_id": config_id,
                        "params": json.dumps(params),
                        "score": score,
                        "fold_scores": [score],
                        "metric": "score",
                        "secondary_score": np.nan,
                        "fit_time": 0.0,
                        "status": "ok",
                        "error": None,
                        "source": "test",
                        **params,
                    }
                )
    datasets = sorted({r["dataset"] for r in rows})
    metafeatures = pd.DataFrame(
        {"f": np.arange(len(datasets), dtype=float)}, index=pd.Index(datasets, name="dataset")
    )
    return KnowledgeBase(pd.DataFrame(rows), metafeatures, {"schema_version": SCHEMA_VERSION})


def _like_b(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_float("y", 0.0, 1.0)
    return float(np.exp(-((x - 0.85) ** 2) / 0.02))


def _sampler(kb: KnowledgeBase, **kwargs: object) -> MetaSampler:
    options = {"knowledge": kb, "space": "bumps", "task": "classification", "seed": 0}
    options.update(kwargs)
    return MetaSampler(metafeatures=pd.Series({"f": 0.0}), **options)


def test_weights_move_to_the_datasets_that_rank_the_study_right() -> None:
    kb = _two_kinds_of_datasets()
    study = optuna.create_study(direction="maximize", sampler=_sampler(kb, n_warm=2))
    study.optimize(_like_b, n_trials=8)
    transferred = [t for t in study.trials if TRANSFER in t.user_attrs]
    assert len(transferred) >= 4
    last = transferred[-1].user_attrs[TRANSFER]
    assert all(name.startswith("b") for name in last["sources"])
    assert study.best_value > 0.95  # found kind B's peak, not kind A's
    # A study that behaves like kind A ends at A's peak instead.
    study_a = optuna.create_study(direction="minimize", sampler=_sampler(kb, n_warm=2))
    study_a.optimize(
        lambda t: -_like_b(t) + 2 * np.exp(-((t.params["x"] - 0.15) ** 2) / 0.02) * -1, n_trials=8
    )
    assert abs(study_a.best_params["x"] - 0.15) < 0.1


def test_proposals_live_in_the_users_distributions_and_never_repeat() -> None:
    kb = _two_kinds_of_datasets()

    def narrow(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.5, 0.7, step=0.05)
        trial.suggest_float("z", -1.0, 1.0)  # unknown to the knowledge: the base sampler's
        return -abs(x - 0.6)

    study = optuna.create_study(direction="maximize", sampler=_sampler(kb, n_warm=1))
    study.optimize(narrow, n_trials=6)
    xs = [t.params["x"] for t in study.trials]
    assert all(0.5 <= x <= 0.7 for x in xs)
    transferred = [t.params["x"] for t in study.trials if TRANSFER in t.user_attrs]
    assert transferred and len(set(transferred)) == len(transferred)
    assert len({t.params["z"] for t in study.trials}) == 6


def test_same_seed_same_study_and_the_sampler_pickles() -> None:
    kb = _two_kinds_of_datasets()
    runs = []
    for _ in range(2):
        study = optuna.create_study(direction="maximize", sampler=_sampler(kb, n_warm=2))
        study.optimize(_like_b, n_trials=6)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]
    sampler = _sampler(kb, n_warm=2)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_like_b, n_trials=4)
    clone = pickle.loads(pickle.dumps(sampler))
    study.sampler = clone
    study.optimize(_like_b, n_trials=2)
    assert len(study.trials) == 6


def test_transfer_off_hands_every_later_trial_to_the_base_sampler() -> None:
    kb = _two_kinds_of_datasets()
    study = optuna.create_study(
        direction="maximize", sampler=_sampler(kb, n_warm=2, transfer=False)
    )
    study.optimize(_like_b, n_trials=5)
    assert not any(TRANSFER in t.user_attrs for t in study.trials)


def test_past_studies_are_sources_with_or_without_the_shipped_knowledge() -> None:
    storage = optuna.storages.InMemoryStorage()
    past = optuna.create_study(storage=storage, study_name="last-week", direction="maximize")
    past.set_user_attr("metaopt:metafeatures", {"f": 1.0})
    past.set_user_attr("metaopt:task", "classification")
    past.optimize(_like_b, n_trials=30)
    sampler = MetaSampler(
        metafeatures=pd.Series({"f": 1.0}),
        task="classification",
        knowledge=False,
        source_studies=[past],
        n_warm=1,
        seed=0,
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_like_b, n_trials=3)
    # The first trial is the past study's best region.
    assert abs(study.trials[0].params["x"] - 0.85) < 0.15
    by_name = MetaSampler(
        metafeatures=pd.Series({"f": 1.0}),
        task="classification",
        knowledge=False,
        source_studies=["last-week"],
        storage=storage,
        n_warm=1,
        seed=0,
    )
    again = optuna.create_study(direction="maximize", sampler=by_name)
    again.optimize(_like_b, n_trials=1)
    assert again.trials[0].params == study.trials[0].params


def test_a_forest_objective_gets_a_forest_space_and_is_told(kb_real=None) -> None:
    def forest(trial: optuna.Trial) -> float:
        trial.suggest_float("max_features", 0.05, 1.0)
        trial.suggest_int("min_samples_leaf", 1, 32, log=True)
        trial.suggest_int("min_samples_split", 2, 32, log=True)
        trial.suggest_categorical("criterion", ["gini", "entropy"])
        trial.suggest_categorical("bootstrap", [True, False])
        return 0.0

    sampler = MetaSampler(metafeatures=None, task="classification", n_warm=2, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(
        {
            "max_features": 0.5,
            "min_samples_leaf": 1,
            "min_samples_split": 2,
            "criterion": "gini",
            "bootstrap": True,
        }
    )
    with pytest.warns(
        FallbackWarning, match="chose the knowledge space 'random_forest'|'extra_trees'"
    ):
        study.optimize(forest, n_trials=3)


def test_transfer_ensemble_rejects_bad_settings() -> None:
    kb = _two_kinds_of_datasets()
    for bad in (
        {"similarity": "cosine"},
        {"bandwidth": 0},
        {"evidence": -1},
        {"n_random": -2},
        {"agreement": "pearson"},
        {"local_candidates": -1},
        {"local_candidates": 2.5},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TransferEnsemble(**bad).fit(kb, "bumps")
    session = (
        TransferEnsemble()
        .fit(kb, "bumps")
        .session(None, space="bumps", distributions={"x": FloatDistribution(0.0, 1.0)})
    )
    weights = session.weights([], [])
    np.testing.assert_allclose(weights, 1 / len(weights))


def test_weighted_agreement_lets_near_ties_count_little() -> None:
    # Four near-tied results and one far better: source A finds the far better one and orders
    # the near-ties backwards; source B orders the near-ties and misses the far better one.
    observed = np.array([0.500, 0.501, 0.502, 0.503, 0.9])
    predicted = np.array([[4.0, 3.0, 2.0, 1.0, 5.0], [2.0, 3.0, 4.0, 5.0, 1.0]])
    plain = rank_agreement(predicted, observed)
    weighted = rank_agreement(predicted, observed, weighted=True)
    assert plain[0] < 0 < plain[1]  # every pair counts alike: the near-ties outvote
    assert weighted[0] > 0.95 and weighted[1] < -0.95
    np.testing.assert_allclose(rank_agreement(predicted, np.ones(5), weighted=True), 0.0)
    # The session measures with it when asked.
    kb = _two_kinds_of_datasets()
    dists = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    for agreement, flag in (("rank", False), ("weighted", True)):
        model = TransferEnsemble(agreement=agreement).fit(kb, "bumps")
        assert model.session(None, space="bumps", distributions=dists).weighted_agreement is flag


def _warm_ranks(study: optuna.Study) -> list[int]:
    return sorted(
        t.user_attrs["metaopt:warm_start"]["rank"]
        for t in study.trials
        if "metaopt:warm_start" in t.user_attrs
    )


def test_added_trials_do_not_swallow_warm_configurations() -> None:
    kb = _two_kinds_of_datasets()
    study = optuna.create_study(direction="maximize", sampler=_sampler(kb, n_warm=3))
    study.add_trial(
        optuna.trial.create_trial(
            params={"x": 0.5, "y": 0.5},
            distributions={"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)},
            value=0.0,
        )
    )  # takes trial number 0
    study.optimize(_like_b, n_trials=5)
    assert _warm_ranks(study) == [1, 2, 3]  # every warm configuration ran, once


def test_a_failed_warm_trial_is_retried_once() -> None:
    kb = _two_kinds_of_datasets()
    calls = {"n": 0}

    def flaky(trial: optuna.Trial) -> float:
        value = _like_b(trial)
        calls["n"] += 1
        if calls["n"] in (2, 4):  # warm trial 1 fails, and its retry (trial 3) fails too
            raise RuntimeError("worker lost")
        return value

    study = optuna.create_study(direction="maximize", sampler=_sampler(kb, n_warm=3))
    study.optimize(flaky, n_trials=6, catch=(RuntimeError,))
    ranks = [t.user_attrs.get("metaopt:warm_start", {}).get("rank") for t in study.trials]
    assert ranks[:4] == [1, 2, 3, 2]  # rank 2 moved on once, to the first later trial
    assert ranks[4:] == [None, None]  # a failed retry is not retried again


_DYING_WORKER = """
import os, sys
import optuna
import pandas as pd
from metaopt.knowledge import KnowledgeBase
from metaopt.samplers import MetaSampler
kb = KnowledgeBase.read(sys.argv[2])
sampler = MetaSampler(metafeatures=pd.Series({"f": 0.0}), knowledge=kb, space="bumps",
                      task="classification", n_warm=2, seed=0)
storage = optuna.storages.RDBStorage(sys.argv[1], heartbeat_interval=1, grace_period=2)
study = optuna.load_study(study_name="s", storage=storage, sampler=sampler)

def die(trial):
    trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_float("y", 0.0, 1.0)
    os._exit(1)  # the worker is killed mid-trial

study.optimize(die, n_trials=1)
"""


@pytest.mark.slow
def test_a_killed_workers_warm_configuration_reruns_with_the_heartbeat(tmp_path) -> None:
    import subprocess
    import sys
    import time

    kb = _two_kinds_of_datasets()
    kb.save(tmp_path / "kb")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=2)
    optuna.create_study(study_name="s", storage=storage, direction="maximize")
    dead = subprocess.run([sys.executable, "-c", _DYING_WORKER, url, str(tmp_path / "kb")])
    assert dead.returncode == 1
    time.sleep(3)  # past the grace period: the trial is stale
    study = optuna.load_study(study_name="s", storage=storage, sampler=_sampler(kb, n_warm=2))
    study.optimize(_like_b, n_trials=3)  # optimize fails stale trials first
    states = [t.state for t in study.trials]
    assert states[0] == optuna.trial.TrialState.FAIL
    ranks = [t.user_attrs.get("metaopt:warm_start", {}).get("rank") for t in study.trials]
    assert ranks[:3] == [1, 2, 1]  # the dead worker's configuration ran again, once
    assert study.trials[2].params == study.trials[0].params


def _peak_nobody_knows(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_float("y", 0.0, 1.0)
    return float(np.exp(-((x - 0.5) ** 2) / 0.02))


def test_the_studys_own_model_goes_beyond_every_known_optimum() -> None:
    kb = _two_kinds_of_datasets()
    best, transferred = {}, {}
    for target_model in (False, True):
        model = TransferEnsemble(target_model=target_model, evidence=2.0).fit(kb, "bumps")
        study = optuna.create_study(
            direction="maximize", sampler=_sampler(kb, n_warm=2, model=model)
        )
        study.optimize(_peak_nobody_knows, n_trials=14)
        best[target_model] = study.best_value
        transferred[target_model] = [
            t.params["x"] for t in study.trials if TRANSFER in t.user_attrs
        ]
    # Known datasets peak at 0.15 and 0.85; only the study's own model proposes near 0.5.
    assert min(abs(x - 0.5) for x in transferred[True]) < 0.05
    assert min(abs(x - 0.5) for x in transferred[False]) > 0.2
    assert best[True] > 0.9
    assert best[True] > best[False] + 0.05


def test_gaussian_process_leave_one_out_matches_refitting_without_the_point() -> None:
    from metaopt.metamodel._gaussian_process import fit_gaussian_process

    rng = np.random.default_rng(1)
    points, values = rng.uniform(size=(12, 2)), rng.uniform(size=12)
    fit = fit_gaussian_process(points, values, (0.3,), noise=0.05)
    d2 = ((points[:, None] - points[None]) ** 2).sum(-1)
    kernel = fit.amplitude * np.exp(-d2 / (2 * 0.3**2))
    noisy = kernel + 0.05 * fit.amplitude * np.eye(12)
    for i in (0, 5, 11):
        rest = np.arange(12) != i
        # The posterior mean at point i of the same GP conditioned on the other 11 points.
        weights = np.linalg.solve(noisy[np.ix_(rest, rest)], values[rest] - fit.centre)
        assert fit.loo_mean[i] == pytest.approx(fit.centre + kernel[i, rest] @ weights, abs=1e-9)


def test_the_studys_own_model_predicts_by_the_sources_where_it_has_not_looked() -> None:
    kb = _two_kinds_of_datasets()
    # Results like kind A's bump (peak 0.15), observed on both sides but not at the peak.
    observed = [{"x": x, "y": 0.5} for x in (0.05, 0.4, 0.6, 0.95)]
    scores = [float(np.exp(-((c["x"] - 0.15) ** 2) / 0.02)) for c in observed]
    peaks = {}
    for target_mean in ("constant", "transfer"):
        model = TransferEnsemble(target_mean=target_mean, similarity="uniform").fit(kb, "bumps")
        dists = {"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)}
        session = model.session(None, space="bumps", distributions=dists)
        session.weights(observed, scores)
        _, improvement = session._target(observed, scores)
        peaks[target_mean] = session.candidates[int(np.argmax(improvement))]["x"]
    # With the sources' mixture as its prior mean the study's model expects kind A's peak;
    # with a constant mean it stays next to its own best observation (x = 0.05).
    assert abs(peaks["transfer"] - 0.15) < 0.05
    assert abs(peaks["constant"] - 0.15) > 0.1


def test_target_mean_must_be_a_known_kind() -> None:
    kb = _two_kinds_of_datasets()
    with pytest.raises(ValueError, match="target_mean must be 'constant' or 'transfer'"):
        TransferEnsemble(target_mean="sources").fit(kb, "bumps")


def test_a_plateau_hands_the_search_to_the_base_sampler() -> None:
    """Far-apart configurations with the same best score: the known datasets cannot help."""
    kb = _two_kinds_of_datasets()
    model = TransferEnsemble().fit(kb, "bumps")
    distributions = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    session = model.session(
        pd.Series({"f": 0.0}), space="bumps", task="classification", distributions=distributions
    )
    apart = [{"x": 0.15, "y": 0.5}, {"x": 0.85, "y": 0.5}, {"x": 0.5, "y": 0.2}]
    # As balanced accuracy on a dataset where these configurations all predict one class.
    assert session.on_plateau(apart, [0.5, 0.5, 0.5])
    assert session.propose(apart, [0.5, 0.5, 0.5]) is None
    # One better result, or the best repeated with another value of a parameter that does not
    # matter much (y, nearby), is no plateau: the transfer goes on.
    assert session.propose(apart, [0.5, 0.5, 0.6]) is not None
    repeated = [{"x": 0.85, "y": y} for y in (0.45, 0.5, 0.55)] + [{"x": 0.15, "y": 0.5}]
    assert not session.on_plateau(repeated, [0.9, 0.9, 0.9, 0.1])
    assert session.propose(repeated, [0.9, 0.9, 0.9, 0.1]) is not None


def _narrow_peak_nobody_knows(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    return float(np.exp(-((x - 0.53) ** 2 + (y - 0.41) ** 2) / 0.002))


def test_local_candidates_refine_the_best_configurations_beyond_the_fixed_ones() -> None:
    kb = _two_kinds_of_datasets()
    best, outside = {}, {}
    for n_local in (0, 32):
        model = TransferEnsemble(local_candidates=n_local, n_random=16).fit(kb, "bumps")
        sampler = _sampler(kb, n_warm=2, model=model, fade=1e9)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(_narrow_peak_nobody_knows, n_trials=25)
        session = next(iter(sampler._transfer._sessions.values()))
        fixed = {(round(c["x"], 9), round(c["y"], 9)) for c in session.candidates}
        transferred = [t.params for t in study.trials if TRANSFER in t.user_attrs]
        outside[n_local] = [
            p for p in transferred if (round(p["x"], 9), round(p["y"], 9)) not in fixed
        ]
        best[n_local] = study.best_value
    # Without local candidates the transfer only ever proposes its fixed candidates (the known
    # optima and 16 space-filling points), which miss the narrow peak; with them it climbs it.
    assert outside[0] == []
    assert len(outside[32]) >= 5
    assert best[32] > 0.9
    assert best[32] > best[0] + 0.1


def test_local_configs_move_around_their_centres_within_the_distributions() -> None:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    from metaopt.metamodel._candidates import local_configs

    distributions = {
        "lr": FloatDistribution(1e-4, 1.0, log=True),
        "depth": IntDistribution(1, 12),
        "kind": CategoricalDistribution(["a", "b", "c"]),
    }
    centre = {"lr": 1e-2, "depth": 6, "kind": "b"}
    near = local_configs([centre, {"lr": 0.5}], distributions, 400, np.random.default_rng(0))
    again = local_configs([centre, {"lr": 0.5}], distributions, 400, np.random.default_rng(0))
    assert near == again
    around_centre, around_partial = near[0::2], near[1::2]
    assert all(set(c) == {"lr"} for c in around_partial)  # unset parameters stay unset
    lrs = np.array([c["lr"] for c in around_centre])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1.0
    # Moves are in log space for a log distribution: as often up as down from 1e-2.
    assert 0.35 < np.mean(lrs > 1e-2) < 0.65
    depths = [c["depth"] for c in around_centre]
    assert all(isinstance(d, int) and 1 <= d <= 12 for d in depths)
    assert depths.count(6) > len(depths) / 3  # the smallest moves keep an integer's value
    kinds = [c["kind"] for c in around_centre]
    assert 0 < sum(k != "b" for k in kinds) < len(kinds) / 2


def test_unit_positions_map_back_to_the_same_value() -> None:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    from metaopt.spaces._space import _from_unit, _to_unit

    cases = [
        (IntDistribution(1, 64, log=True), [1, 2, 5, 63, 64]),
        (IntDistribution(0, 100, step=5), [0, 5, 95, 100]),
        (FloatDistribution(1e-3, 1.0, log=True), [1e-3, 0.5, 1.0]),
        (FloatDistribution(0.0, 1.0, step=0.1), [0.0, 0.3, 1.0]),
        (CategoricalDistribution(["a", None, 3]), ["a", None, 3]),
    ]
    for dist, values in cases:
        back = [_from_unit(_to_unit(v, dist), dist) for v in values]
        if isinstance(dist, CategoricalDistribution):
            assert back == values
        else:
            assert back == pytest.approx(values, rel=1e-9)


def test_local_candidates_are_valued_by_the_sources_that_weigh_most(monkeypatch) -> None:
    from metaopt.metamodel import _session

    kb = _two_kinds_of_datasets()
    model = TransferEnsemble(similarity="uniform", local_candidates=64).fit(kb, "bumps")
    dists = {"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)}
    session = model.session(None, space="bumps", distributions=dists)
    observed = [{"x": x, "y": 0.5} for x in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
    scores = [0.9, 0.8, 0.5, 0.3, 0.2, 0.1, 0.05, 0.0]  # kind A's ranking: it gains weight
    local, centres = session.local_candidates(observed, scores)
    assert len(local) == 64 and all(c in observed[:3] for c in centres)
    exact, weights = session.expected_improvement(observed, scores, extra=local)
    monkeypatch.setattr(_session, "LOCAL_SOURCES", 6)
    cheap, _ = session.expected_improvement(observed, scores, extra=local, extra_centres=centres)
    n = len(session.candidates)
    np.testing.assert_allclose(cheap[:n], exact[:n], rtol=1e-9, atol=1e-12)  # fixed ones: same
    # Six of twelve sources value the neighbours; the rest, of negligible weight, barely count.
    assert np.sort(weights)[:6].sum() < 1e-3
    np.testing.assert_allclose(cheap[n:], exact[n:], atol=1e-3)


def test_weights_updated_as_results_come_in_equal_those_computed_in_full() -> None:
    kb = _two_kinds_of_datasets()
    model = TransferEnsemble().fit(kb, "bumps")
    dists = {"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)}
    rng = np.random.default_rng(3)
    observed = [{"x": float(x), "y": float(y)} for x, y in rng.uniform(size=(30, 2))]
    scores = [float(np.exp(-((c["x"] - 0.85) ** 2) / 0.02)) for c in observed]
    scores[7] = scores[3]  # a tie
    running = model.session(pd.Series({"f": 0.0}), space="bumps", distributions=dists)
    # One result more at a time, several more at once, then another order altogether.
    orders = [list(range(n)) for n in (*range(1, 12), 15, 16, 25, 30)]
    orders += [[5, 2, 9, 1], [5, 2, 9, 1, 0, 4]]
    for order in orders:
        seen, results = [observed[i] for i in order], [scores[i] for i in order]
        fresh = model.session(pd.Series({"f": 0.0}), space="bumps", distributions=dists)
        np.testing.assert_array_equal(running.weights(seen, results), fresh.weights(seen, results))


@pytest.mark.parametrize(
    "objective",
    [
        lambda t: t.suggest_float("learning_rate", 0.0, 1.0),  # no shared name
        lambda t: float(t.suggest_categorical("x", ["low", "high"]) == "high"),  # values of
    ],  # another kind: strings where the knowledge has numbers
    ids=["no-shared-parameter", "unmappable-values"],
)
def test_an_objective_the_given_space_cannot_express_runs_on_the_base_sampler(objective) -> None:
    sampler = _sampler(_two_kinds_of_datasets(), n_warm=2)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with pytest.warns(FallbackWarning, match="can be expressed in the objective's parameters"):
        study.optimize(objective, n_trials=8)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 8
    assert not any(TRANSFER in t.user_attrs or WARM in t.user_attrs for t in study.trials)


def test_a_multi_objective_study_gets_the_warm_start_then_the_base_sampler() -> None:
    def two(trial: optuna.Trial) -> tuple[float, float]:
        return _like_b(trial), trial.params["y"]

    study = optuna.create_study(
        directions=["maximize", "minimize"], sampler=_sampler(_two_kinds_of_datasets(), n_warm=2)
    )
    with pytest.warns(FallbackWarning, match="needs a single objective"):
        study.optimize(two, n_trials=6)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 6
    assert [WARM in t.user_attrs for t in study.trials] == [True, True] + [False] * 4
    assert not any(TRANSFER in t.user_attrs for t in study.trials)
