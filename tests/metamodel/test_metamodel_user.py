"""The meta-models as a researcher uses them directly: fit, rank, explain and their options."""

from __future__ import annotations

import json
import logging
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from metaopt.exceptions import FallbackWarning
from metaopt.metamodel import (
    MODEL_NAMES,
    NearestDatasets,
    Portfolio,
    SurrogateRanker,
    TransferEnsemble,
    make_model,
)
from metaopt.testing import toy_knowledge

FAST = {"surrogate": {"max_iter": 30, "n_candidates": 0}}
BAD = {
    "transfer": {"temperature": 0.0},
    "nearest": {"per_dataset": 0},
    "portfolio": {"max_size": 0},
    "surrogate": {"diversity": -1.0},
}


def _model(name: str):
    return make_model(name).set_params(**FAST.get(name, {}))


def _query(model, metafeatures: pd.DataFrame, i: int = 0):
    return metafeatures.iloc[i] * 1.05 if model.uses_metafeatures else None


@pytest.fixture(scope="module")
def toy() -> tuple[pd.DataFrame, pd.DataFrame]:
    return toy_knowledge(n_datasets=8, n_configs=10, seed=0)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_failed_fit_leaves_the_model_unfitted(name: str, toy) -> None:
    evaluations, metafeatures = toy
    model = _model(name).fit(evaluations, metafeatures=metafeatures)
    with pytest.raises(ValueError, match="no rows for space"):
        model.fit(evaluations, "nope", metafeatures=metafeatures)
    with pytest.raises(NotFittedError):
        model.rank(_query(model, metafeatures))
    with pytest.raises(NotFittedError):
        model.neighbors(metafeatures.iloc[0])
    model.fit(evaluations, metafeatures=metafeatures).set_params(**BAD[name])
    with pytest.raises(ValueError, match=next(iter(BAD[name]))):
        model.fit(evaluations, metafeatures=metafeatures)
    assert not hasattr(model, "models_") and not hasattr(model, "scaler_")


def test_the_transfer_session_before_fit_is_a_not_fitted_error(toy) -> None:
    with pytest.raises(NotFittedError):
        TransferEnsemble().session(toy[1].iloc[0])


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (TransferEnsemble(evidence=float("nan")), "evidence"),
        (TransferEnsemble(temperature=True), "temperature"),
        (TransferEnsemble(target_model=1), "target_model"),
        (NearestDatasets(per_dataset=True), "per_dataset"),
        (Portfolio(candidates_per_dataset=-1), "candidates_per_dataset"),
        (Portfolio(locality=0), "locality"),
        (Portfolio(locality=float("nan")), "locality"),
        (Portfolio(locality="near"), "locality"),
        (SurrogateRanker(diversity=float("nan")), "diversity"),
        (SurrogateRanker(diversity="high"), "diversity"),
        (SurrogateRanker(config_prior="no"), "config_prior"),
        (SurrogateRanker(max_iter=0), "max_iter"),
    ],
)
def test_fit_refuses_invalid_options_before_learning_anything(model, match: str, toy) -> None:
    evaluations, metafeatures = toy
    with pytest.raises(ValueError, match=match):
        model.fit(evaluations, metafeatures=metafeatures)
    assert not hasattr(model, "scaler_")


def test_numpy_numbers_are_accepted_as_options(toy) -> None:
    evaluations, metafeatures = toy
    target = metafeatures.iloc[1]
    pairs = [
        (Portfolio(max_size=np.int64(3)), Portfolio(max_size=3)),
        (NearestDatasets(per_dataset=np.int64(2)), NearestDatasets(per_dataset=2)),
        (
            TransferEnsemble(temperature=np.float64(0.5), candidates_per_dataset=np.int64(4)),
            TransferEnsemble(temperature=0.5, candidates_per_dataset=4),
        ),
        (
            SurrogateRanker(max_iter=np.int64(20), n_candidates=np.int64(0)),
            SurrogateRanker(max_iter=20, n_candidates=0),
        ),
    ]
    for numpy_model, plain_model in pairs:
        ranked = numpy_model.fit(evaluations, metafeatures=metafeatures).rank(target, 4)
        assert ranked == plain_model.fit(evaluations, metafeatures=metafeatures).rank(target, 4)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_n_and_k_of_the_wrong_type_or_sign_are_refused(name: str, toy) -> None:
    evaluations, metafeatures = toy
    model = _model(name).fit(evaluations, metafeatures=metafeatures)
    with pytest.raises(TypeError, match="n must be an int"):
        model.rank(_query(model, metafeatures), n=2.0)
    with pytest.raises(ValueError, match="k must be an int >= 0"):
        model.neighbors(metafeatures.iloc[0], k=-1)
    with pytest.raises(TypeError, match="k must be an int"):
        model.neighbors(metafeatures.iloc[0], k=2.5)


@pytest.mark.parametrize("name", [*MODEL_NAMES, "learned", "local"])
def test_integer_dataset_ids_rank_as_their_string_ids(name: str, toy) -> None:
    evaluations, metafeatures = toy
    model = {
        "learned": lambda: TransferEnsemble(similarity="learned"),
        "local": lambda: Portfolio(locality=1.0),
    }.get(name, lambda: _model(name))
    ids = {d: i for i, d in enumerate(metafeatures.index)}
    by_int = model().fit(
        evaluations.assign(dataset=evaluations["dataset"].map(ids)),
        metafeatures=metafeatures.rename(index=ids),
    )
    by_str = model().fit(
        evaluations.assign(dataset=evaluations["dataset"].map(ids).astype(str)),
        metafeatures=metafeatures.rename(index=lambda d: str(ids[d])),
    )
    target = _query(by_int, metafeatures, 2)
    assert by_int.explain(target, 4).equals(by_str.explain(target, 4))
    assert by_int.neighbors(metafeatures.iloc[2], 2)["dataset"].tolist()[0] == "2"


def test_several_metafeature_rows_for_one_dataset_are_refused(toy) -> None:
    evaluations, metafeatures = toy
    doubled = pd.concat([metafeatures, metafeatures.iloc[[0]]])
    with pytest.raises(ValueError, match="several rows for 1 datasets"):
        NearestDatasets().fit(evaluations, metafeatures=doubled)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_params_given_as_dicts_rank_as_json_params(name: str, toy) -> None:
    evaluations, metafeatures = toy
    as_dicts = evaluations.assign(params=[json.loads(p) for p in evaluations["params"]])
    target = _query(_model(name), metafeatures, 3)
    ranked = _model(name).fit(as_dicts, metafeatures=metafeatures).rank(target, 4)
    assert ranked == _model(name).fit(evaluations, metafeatures=metafeatures).rank(target, 4)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_dataset_whose_every_evaluation_failed_is_left_out_with_a_warning(
    name: str, toy, caplog
) -> None:
    evaluations, metafeatures = toy
    crashed = metafeatures.index[0]  # the dataset nearest to the query
    rows = evaluations["dataset"] == crashed
    failed = evaluations.assign(
        status=np.where(rows, "failed", evaluations["status"]),
        score=np.where(rows, np.nan, evaluations["score"]),
    )
    target = _query(_model(name), metafeatures, 0)
    with caplog.at_level(logging.WARNING, logger="metaopt"):
        with pytest.warns(FallbackWarning, match="no successful evaluation"):
            model = _model(name).fit(failed, metafeatures=metafeatures)
    assert any("no successful evaluation" in r.getMessage() for r in caplog.records)
    without = _model(name).fit(evaluations[~rows], metafeatures=metafeatures)
    assert model.rank(target, 4) == without.rank(target, 4)
    assert crashed not in model.datasets_[("toy", "classification")]
    everything_failed = evaluations.assign(status="failed", score=np.nan)
    with pytest.raises(ValueError, match="every evaluation failed"):
        _model(name).fit(everything_failed, metafeatures=metafeatures)


def test_transfer_counts_a_failed_evaluation_as_failed_whatever_its_score(toy) -> None:
    evaluations, metafeatures = toy
    crashed = evaluations["config_id"] % 4 == 0
    sentinel = evaluations.assign(
        status=np.where(crashed, "failed", "ok"), score=evaluations["score"].where(~crashed, -1e6)
    )
    missing = evaluations.assign(score=evaluations["score"].where(~crashed))
    target = metafeatures.iloc[4]
    ranked = TransferEnsemble().fit(sentinel, metafeatures=metafeatures).explain(target, 5)
    reference = TransferEnsemble().fit(missing, metafeatures=metafeatures).explain(target, 5)
    assert ranked.equals(reference)


@pytest.mark.parametrize("model", [Portfolio(), TransferEnsemble(similarity="uniform")])
def test_models_that_need_no_metafeatures_fit_without_any(model, toy) -> None:
    evaluations, metafeatures = toy
    reference = type(model)(**model.get_params()).fit(evaluations, metafeatures=metafeatures)
    for none in (pd.DataFrame(index=metafeatures.index), metafeatures * np.nan):
        model.fit(evaluations, metafeatures=none)
        assert model.rank(None, 4) == reference.rank(None, 4)
        with pytest.raises(ValueError, match="without usable metafeatures"):
            model.neighbors(metafeatures.iloc[0])
    with pytest.raises(ValueError, match="rank without metafeatures"):
        NearestDatasets().fit(evaluations, metafeatures=metafeatures * np.nan)


@pytest.mark.parametrize("name", ["transfer", "nearest", "surrogate"])
def test_metafeatures_the_query_lacks_are_warned_of(name: str, toy, caplog) -> None:
    evaluations, metafeatures = toy
    model = _model(name).fit(evaluations, metafeatures=metafeatures)
    target = metafeatures.iloc[2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.rank(target.where(target.index != "mf_x"), 3)  # NaN: undefined, skipped quietly
    with caplog.at_level(logging.WARNING, logger="metaopt"):
        with pytest.warns(FallbackWarning, match="lack 1 of the 4 metafeatures") as record:
            model.rank(target.drop("mf_x"), 3)
    assert record[0].filename == __file__  # points at the caller's line
    assert any("mf_x" in r.getMessage() for r in caplog.records)


def test_the_task_of_the_metafeatures_picks_the_table(toy) -> None:
    evaluations, metafeatures = toy
    both = pd.concat(
        [evaluations, evaluations.assign(task="regression", score=-evaluations["score"])],
        ignore_index=True,
    )
    model = NearestDatasets().fit(both, metafeatures=metafeatures)
    target = metafeatures.iloc[3].copy()
    target.attrs["task"] = "regression"  # as extract_metafeatures sets it
    assert model.rank(target, 3) == model.rank(target, 3, task="regression")
    assert model.rank(target, 3) != model.rank(target, 3, task="classification")
    classification_only = NearestDatasets().fit(evaluations, metafeatures=metafeatures)
    with pytest.raises(ValueError, match="regression dataset, but space 'toy' was fitted"):
        classification_only.rank(target, 3)


def test_rank_accepts_the_dataset_itself() -> None:
    import metaopt
    from metaopt.metafeatures import describe_dataset
    from metaopt.testing import toy_knowledge_base

    datasets = {n: metaopt.load_dataset(f"sklearn:{n}") for n in ("iris", "wine", "digits")}
    kb = toy_knowledge_base(datasets, space="knn", n_configs=8)
    wine = datasets["wine"]
    for model in (TransferEnsemble(), NearestDatasets(), Portfolio()):
        model.fit(kb)
        described = describe_dataset(wine) if model.uses_metafeatures else None
        assert model.explain(wine, 3).equals(model.explain(described, 3))
    assert model.neighbors(wine, 1)["dataset"].tolist() == ["wine"]
    diabetes = metaopt.load_dataset("sklearn:diabetes")
    with pytest.raises(ValueError, match="regression dataset"):
        Portfolio().fit(kb).rank(diabetes, 2)


def test_nearest_datasets_explains_each_configurations_own_rank(toy) -> None:
    evaluations, metafeatures = toy
    model = NearestDatasets(per_dataset=2).fit(evaluations, metafeatures=metafeatures)
    sources = list(model.explain(metafeatures.iloc[0], 4)["source"])
    assert sources[0].startswith("rank 1 on toy:0") and sources[1].startswith("rank 2 on toy:0")


def test_transfer_explains_which_dataset_each_pick_rests_on(toy) -> None:
    evaluations, metafeatures = toy
    model = TransferEnsemble(temperature=0.01).fit(evaluations, metafeatures=metafeatures)
    frame = model.explain(metafeatures.iloc[5], 8)
    sources = list(frame["source"])
    # The query is a known dataset and the prior narrow: the first pick rests on it.
    assert sources[0].startswith("transfer portfolio step 1 (most from toy:5, ")
    # Once no candidate adds to the portfolio, the rest come by expected score, and say so.
    later = [s for s in sources if "expected gain" not in s]
    assert later and all("by expected score" in s for s in later)
    for source, score in zip(sources, frame["score"], strict=True):
        if "expected score" in source:
            assert source.endswith(f"expected score {score:.3f})")


def test_portfolio_labels_follow_the_fitted_portfolio(toy) -> None:
    evaluations, metafeatures = toy
    model = Portfolio(max_size=2).fit(evaluations, metafeatures=metafeatures)
    model.set_params(max_size=5)  # not refitted: the portfolio holds 2 steps
    assert list(model.explain(None, 4)["source"]) == [
        "portfolio step 1",
        "portfolio step 2",
        "mean rank",
        "mean rank",
    ]
    minmax = Portfolio(max_size=1, normalization="minmax")
    sources = minmax.fit(evaluations, metafeatures=metafeatures).explain(None, 2)["source"]
    assert list(sources) == ["portfolio step 1", "mean normalised score"]


def test_surrogate_predict_refuses_a_single_configuration(toy) -> None:
    evaluations, metafeatures = toy
    model = SurrogateRanker(max_iter=20).fit(evaluations, metafeatures=metafeatures)
    config = {"x": 0.5, "depth": 3, "kind": "a"}
    with pytest.raises(TypeError, match=r"pass \[config\]"):
        model.predict(metafeatures.iloc[0], config)
    assert model.predict(metafeatures.iloc[0], [config]).shape == (1,)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_refit_pickle_and_copy_rank_as_a_fresh_fit(name: str, toy) -> None:
    evaluations, metafeatures = toy
    other, other_mf = toy_knowledge(n_datasets=6, n_configs=12, seed=5)
    model = _model(name).fit(evaluations, metafeatures=metafeatures)
    target = _query(model, other_mf, 1)
    model.fit(other, metafeatures=other_mf)
    fresh = _model(name).fit(other, metafeatures=other_mf)
    assert model.explain(target, 5).equals(fresh.explain(target, 5))
    assert pickle.loads(pickle.dumps(model)).explain(target, 5).equals(fresh.explain(target, 5))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_fitted_model_ranks_from_several_threads_as_from_one(name: str, toy) -> None:
    from concurrent.futures import ThreadPoolExecutor

    evaluations, metafeatures = toy
    targets = [_query(_model(name), metafeatures, i) for i in range(8)]
    serial = _model(name).fit(evaluations, metafeatures=metafeatures)
    expected = [serial.rank(t, 4) for t in targets]
    shared = _model(name).fit(evaluations, metafeatures=metafeatures)  # nothing built yet
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda t: shared.rank(t, 4), targets)) == expected


def test_the_portfolio_never_offers_a_configuration_that_failed_wherever_it_ran() -> None:
    evaluations, metafeatures = toy_knowledge(n_datasets=3, n_configs=6, seed=0)
    failed_key = evaluations["params"].iloc[0]
    # One configuration fails on every dataset; another fails on one dataset only.
    everywhere = evaluations["params"] == failed_key
    once = (evaluations["params"] == evaluations["params"].iloc[1]) & (
        evaluations["dataset"] == evaluations["dataset"].iloc[0]
    )
    evaluations.loc[everywhere | once, "status"] = "failed"
    evaluations.loc[everywhere | once, "score"] = np.nan
    model = Portfolio().fit(evaluations, metafeatures=metafeatures)
    offered = [json.dumps(p, sort_keys=True) for p in model.rank(None, 10, space="toy")]
    assert json.dumps(json.loads(failed_key), sort_keys=True) not in offered
    assert len(offered) == evaluations["params"].nunique() - 1


def test_a_knowledge_directory_saved_again_is_read_again_and_tilde_expands(
    tmp_path, monkeypatch
) -> None:
    from metaopt import knowledge
    from metaopt.knowledge import KnowledgeBase
    from metaopt.metamodel._default import resolve_knowledge
    from metaopt.testing import toy_knowledge

    monkeypatch.setenv("HOME", str(tmp_path))
    provenance = {"schema_version": knowledge.SCHEMA_VERSION}
    first = KnowledgeBase(*toy_knowledge(n_datasets=3, n_configs=4), provenance)
    first.save(tmp_path / "kb")
    assert resolve_knowledge("~/kb").datasets == first.datasets
    second = KnowledgeBase(*toy_knowledge(n_datasets=5, n_configs=4, seed=1), provenance)
    second.save(tmp_path / "kb")  # rebuilt in the same place in one process
    assert resolve_knowledge(tmp_path / "kb").datasets == second.datasets
