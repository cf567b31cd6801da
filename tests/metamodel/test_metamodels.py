"""The three meta-models on a synthetic knowledge table whose best configurations are known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from metaopt.metamodel import (
    MODEL_NAMES,
    NearestDatasets,
    Portfolio,
    SurrogateRanker,
    TransferEnsemble,
    make_model,
    normalize_scores,
)
from metaopt.metamodel._data import canonical_key, parse_params
from metaopt.testing import toy_knowledge

FAST = {"surrogate": {"max_iter": 60}, "nearest": {}, "portfolio": {}, "transfer": {}}


def _model(name: str):
    return make_model(name).set_params(**FAST[name])


@pytest.fixture(scope="module")
def toy() -> tuple[pd.DataFrame, pd.DataFrame]:
    evaluations, metafeatures = toy_knowledge(n_datasets=20, n_configs=30, seed=1)
    evaluations["normalized"] = normalize_scores(evaluations).to_numpy()
    evaluations["key"] = [canonical_key(parse_params(p)) for p in evaluations["params"]]
    return evaluations, metafeatures


def _held_out_quality(name: str, toy, n: int) -> np.ndarray:
    """Normalised score of the top-n on each held-out dataset (leave-one-dataset-out)."""
    evaluations, metafeatures = toy
    quality = []
    for dataset in metafeatures.index[:6]:
        train = evaluations[evaluations["dataset"] != dataset]
        model = _model(name).fit(train, metafeatures=metafeatures)
        ranked = model.rank(metafeatures.loc[dataset], n=n)
        assert len(ranked) == n
        assert len({canonical_key(c) for c in ranked}) == n  # distinct
        truth = evaluations[evaluations["dataset"] == dataset].set_index("key")["normalized"]
        quality.append([truth[canonical_key(c)] for c in ranked])
    return np.array(quality)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_rankings_beat_a_random_configuration_on_unseen_datasets(name: str, toy) -> None:
    quality = _held_out_quality(name, toy, n=3)
    # A random configuration has expected normalised score 0.5, and the best of 3 random ones
    # 0.75; every model should do clearly better on this structured table.
    assert quality.max(axis=1).mean() > 0.8


def test_metafeature_models_adapt_to_the_dataset_and_the_portfolio_does_not(toy) -> None:
    top1 = {name: _held_out_quality(name, toy, n=1)[:, 0].mean() for name in MODEL_NAMES}
    assert top1["surrogate"] > top1["portfolio"]
    assert top1["nearest"] > top1["portfolio"]


def test_portfolio_ignores_metafeatures(toy) -> None:
    evaluations, metafeatures = toy
    model = Portfolio().fit(evaluations, metafeatures=metafeatures)
    assert model.rank(None, n=4) == model.rank(metafeatures.iloc[3], n=4)


def test_nearest_datasets_starts_with_the_best_of_the_nearest_dataset(toy) -> None:
    evaluations, metafeatures = toy
    model = NearestDatasets().fit(evaluations, metafeatures=metafeatures)
    target = metafeatures.iloc[5]
    neighbors = model.neighbors(target, 3)
    assert neighbors["dataset"].iloc[0] == metafeatures.index[5]
    assert neighbors["distance"].iloc[0] == 0.0
    rows = evaluations[evaluations["dataset"] == metafeatures.index[5]]
    best = rows.sort_values("normalized", ascending=False)["key"].iloc[0]
    assert canonical_key(model.rank(target, n=1)[0]) == best
    frame = model.explain(target, n=2)
    assert list(frame.columns) == ["params", "score", "source"]
    assert metafeatures.index[5] in frame["source"].iloc[0]


def test_transfer_explains_each_pick_by_its_expected_score_and_its_gain(toy) -> None:
    evaluations, metafeatures = toy
    model = TransferEnsemble().fit(evaluations, metafeatures=metafeatures)
    frame = model.explain(metafeatures.iloc[2], n=4)
    scores = frame["score"].to_numpy()
    # Expected normalised scores, on the datasets' own [0, 1] scale; the first pick is the
    # single configuration of highest expected score, later picks add diversity, not score.
    assert ((scores >= 0.0) & (scores <= 1.0)).all()
    assert scores[0] == scores.max()
    gains = [float(s.split("expected gain ")[1].rstrip(")")) for s in frame["source"]]
    assert gains[0] == pytest.approx(scores[0], abs=1e-3)  # nothing tried: gain = score
    assert all(g < gains[0] for g in gains[1:])


def test_surrogate_predictions_order_configurations_on_an_unseen_dataset(toy) -> None:
    evaluations, metafeatures = toy
    held_out = metafeatures.index[0]
    model = SurrogateRanker(max_iter=60).fit(
        evaluations[evaluations["dataset"] != held_out], metafeatures=metafeatures
    )
    rows = evaluations[evaluations["dataset"] == held_out]
    predicted = model.predict(
        metafeatures.loc[held_out], [parse_params(p) for p in rows["params"]]
    )
    correlation = pd.Series(predicted).corr(rows["normalized"].reset_index(drop=True), "spearman")
    assert correlation > 0.6


def test_novelty_flags_datasets_unlike_the_known_ones(toy) -> None:
    evaluations, metafeatures = toy
    model = NearestDatasets().fit(evaluations, metafeatures=metafeatures)
    assert model.novelty(metafeatures.iloc[0]) == 0.0
    alien = pd.Series({"mf_x": 50.0, "mf_kind": -90.0, "mf_rows": 1e12, "mf_noise": 40.0})
    assert model.novelty(alien) > 3


def test_fit_accepts_a_knowledge_base_and_one_space_of_several(toy) -> None:
    from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase

    evaluations, metafeatures = toy
    other = evaluations.assign(space="other", task="regression")
    kb = KnowledgeBase(
        pd.concat([evaluations, other], ignore_index=True),
        metafeatures,
        {"schema_version": SCHEMA_VERSION},
    )
    model = NearestDatasets().fit(kb)
    assert model.spaces_ == ["other", "toy"]
    with pytest.raises(ValueError, match="several spaces"):
        model.rank(metafeatures.iloc[0])
    assert len(model.rank(metafeatures.iloc[0], 2, space="other")) == 2
    only = NearestDatasets().fit(kb, "toy")
    assert only.spaces_ == ["toy"]


def test_several_tasks_of_one_space_need_a_task(toy) -> None:
    evaluations, metafeatures = toy
    both = pd.concat([evaluations, evaluations.assign(task="regression")], ignore_index=True)
    model = Portfolio().fit(both, metafeatures=metafeatures)
    with pytest.raises(ValueError, match="task="):
        model.rank(None)
    assert len(model.rank(None, 2, task="regression")) == 2
    with pytest.raises(ValueError, match="no knowledge for space"):
        Portfolio().fit(evaluations, metafeatures=metafeatures).rank(None, task="regression")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_bad_input_raises_clear_errors(name: str, toy) -> None:
    evaluations, metafeatures = toy
    with pytest.raises(NotFittedError):
        make_model(name).rank(metafeatures.iloc[0])
    with pytest.raises(ValueError, match="metafeatures="):
        make_model(name).fit(evaluations)
    with pytest.raises(TypeError, match="KnowledgeBase"):
        make_model(name).fit([1, 2, 3])
    with pytest.raises(ValueError, match="no rows for space"):
        make_model(name).fit(evaluations, "nope", metafeatures=metafeatures)
    with pytest.raises(ValueError, match="lacks the columns"):
        make_model(name).fit(evaluations.drop(columns="params"), metafeatures=metafeatures)
    with pytest.raises(ValueError, match="no metafeatures row"):
        make_model(name).fit(evaluations, metafeatures=metafeatures.iloc[1:])
    with pytest.raises(ValueError, match="normalization"):
        make_model(name).set_params(normalization="bad").fit(
            evaluations, metafeatures=metafeatures
        )
    fitted = _model(name).fit(evaluations, metafeatures=metafeatures)
    with pytest.raises(ValueError, match="n must be"):
        fitted.rank(metafeatures.iloc[0], n=-1)
    if fitted.uses_metafeatures:
        with pytest.raises(ValueError, match="share no known"):
            fitted.rank(pd.Series({"unrelated": 1.0}))
        with pytest.raises(TypeError, match="Series"):
            fitted.rank([0.1, 0.2])


def test_make_model_names_and_errors() -> None:
    assert isinstance(make_model(), TransferEnsemble)
    model = NearestDatasets()
    assert make_model(model) is model
    with pytest.raises(ValueError, match="unknown meta-model"):
        make_model("oracle")
    with pytest.raises(TypeError, match="model must be"):
        make_model(3)


@pytest.mark.parametrize("cls", [NearestDatasets, Portfolio, SurrogateRanker, TransferEnsemble])
def test_scikit_learn_estimator_contract(cls) -> None:
    name = cls.__name__
    check_parameters_default_constructible(name, cls())
    check_no_attributes_set_in_init(name, cls())
    check_get_params_invariance(name, cls())
    check_set_params(name, cls())
    assert clone(cls()).get_params() == cls().get_params()


def test_portfolio_compares_configurations_that_no_two_datasets_share(toy) -> None:
    evaluations, metafeatures = toy
    # Random search: every dataset evaluated its own configurations.
    unshared = evaluations.copy()
    unshared["x"] = unshared["x"] + np.arange(len(unshared)) * 1e-9
    unshared["params"] = [
        json.dumps({"x": r.x, "depth": int(r.depth), "kind": r.kind})
        for r in unshared.itertuples()
    ]
    model = Portfolio(max_size=3).fit(unshared, metafeatures=metafeatures)
    shared = Portfolio(max_size=3).fit(evaluations, metafeatures=metafeatures)
    ranked = [c["x"] for c in model.rank(None, 3)]
    reference = [c["x"] for c in shared.rank(None, 3)]
    # The nearest-configuration imputation recovers the shared-configuration portfolio.
    np.testing.assert_allclose(ranked, reference, atol=1e-6)


def test_local_portfolio_moves_from_global_to_nearest_dataset(toy) -> None:
    evaluations, metafeatures = toy
    target = metafeatures.iloc[7]
    local = Portfolio(locality=1e-3).fit(evaluations, metafeatures=metafeatures)
    wide = Portfolio(locality=1e6).fit(evaluations, metafeatures=metafeatures)
    assert local.uses_metafeatures and not Portfolio().uses_metafeatures
    nearest = NearestDatasets().fit(evaluations, metafeatures=metafeatures)
    assert local.rank(target, 1) == nearest.rank(target, 1)  # only the dataset itself counts
    global_ = Portfolio().fit(evaluations, metafeatures=metafeatures)
    assert wide.rank(target, 3) == global_.rank(None, 3)  # every dataset counts the same
    with pytest.raises(ValueError, match="locality"):
        Portfolio(locality=-1.0).fit(evaluations, metafeatures=metafeatures).rank(target)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_learn_from_full_size_rows_only_where_every_configuration_has_them(
    name: str, toy
) -> None:
    # Full-size rows of a few configurations are scored at more rows (higher scores); mixed
    # with the base table they would make the worst configuration look best on every dataset.
    evaluations, metafeatures = toy
    base = evaluations.assign(fidelity="base")
    worst = base.loc[base.groupby("dataset")["normalized"].idxmin()]
    full = worst.assign(fidelity="full", score=base["score"].max() + 1.0)
    target = metafeatures.iloc[0]
    ranked_base = _model(name).fit(base, metafeatures=metafeatures).rank(target, n=3)
    mixed = pd.concat([full, base], ignore_index=True)
    ranked_mixed = _model(name).fit(mixed, metafeatures=metafeatures).rank(target, n=3)
    assert ranked_mixed == ranked_base
    assert set(worst["key"]).isdisjoint(canonical_key(c) for c in ranked_mixed)
    # A dataset measured at its own size on every configuration is learnt from there: the
    # same as a table whose base rows held those scores.
    at_size = base[base["dataset"].isin(metafeatures.index[1:6])]
    at_size = at_size.assign(fidelity="full", score=1.0 - at_size["score"])
    complete = pd.concat([base, at_size], ignore_index=True)
    swapped = pd.concat(
        [base[~base["dataset"].isin(at_size["dataset"])], at_size.assign(fidelity="base")]
    )
    ranked_complete = _model(name).fit(complete, metafeatures=metafeatures).rank(target, n=3)
    ranked_swapped = _model(name).fit(swapped, metafeatures=metafeatures).rank(target, n=3)
    assert ranked_complete == ranked_swapped


def _sized_knowledge() -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    """Ten datasets of 10,000 rows alike in every metafeature: five measured at their own
    size, where configuration A wins, and five on 2,000 rows, where B wins."""
    evaluations, metafeatures = toy_knowledge(n_datasets=10, n_configs=12, seed=3)
    metafeatures = metafeatures.assign(mf_x=0.5, mf_kind=1.0, mf_noise=0.0, mf_rows=10_000.0)
    metafeatures["general.n_instances"] = 10_000.0
    keys = sorted(evaluations["params"].unique())
    a, b = keys[0], keys[1]
    large = evaluations["dataset"].isin(metafeatures.index[:5])
    evaluations = evaluations.assign(
        n_rows=np.where(large, 10_000.0, 2_000.0),
        score=0.5 + 0.01 * evaluations.groupby("dataset").cumcount() / 12,
    )
    evaluations.loc[large & (evaluations["params"] == a), "score"] = 0.9
    evaluations.loc[~large & (evaluations["params"] == b), "score"] = 0.9
    return evaluations, metafeatures, a, b


def test_size_width_weighs_the_datasets_measured_at_the_queried_size() -> None:
    evaluations, metafeatures, a, b = _sized_knowledge()
    query = metafeatures.iloc[0].copy()
    model = TransferEnsemble(size_width=0.5).fit(evaluations, metafeatures=metafeatures)
    first = {}
    for rows in (10_000.0, 2_000.0, 1_500.0):
        query["general.n_instances"] = rows
        first[rows] = canonical_key(model.rank(query, n=1)[0])
    assert first[10_000.0] == canonical_key(json.loads(a))
    assert first[2_000.0] == first[1_500.0] == canonical_key(json.loads(b))
    # Without it, the datasets differ in nothing the prior sees: the size does not matter.
    plain = TransferEnsemble().fit(evaluations, metafeatures=metafeatures)
    ranked = []
    for rows in (10_000.0, 2_000.0):
        query["general.n_instances"] = rows
        ranked.append(plain.rank(query, n=2))
    assert ranked[0] == ranked[1]
    with pytest.raises(ValueError, match="size_width"):
        TransferEnsemble(size_width=0.0).fit(evaluations, metafeatures=metafeatures)
