"""metaopt.suggest on a knowledge base with real metafeatures and simulated scores."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from sklearn.datasets import make_classification

import metaopt
import metaopt._suggest as suggest_module
from metaopt import spaces
from metaopt._suggest import Explanation, suggest
from metaopt.datasets import Dataset
from metaopt.exceptions import FallbackWarning
from metaopt.metamodel._default import fitted_model
from metaopt.testing import toy_knowledge_base


def _synthetic(seed: int, n_features: int) -> Dataset:
    X, y = make_classification(200, n_features, n_informative=3, n_redundant=0, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(n_features)])
    return Dataset(frame, pd.Series(y).astype("category"), "classification", f"syn{seed}", "test")


@pytest.fixture(scope="module")
def datasets() -> dict[str, Dataset]:
    found = {n: metaopt.load_dataset(f"sklearn:{n}") for n in ("iris", "wine", "breast_cancer")}
    found.update({f"syn{s}": _synthetic(s, 4 + 6 * s) for s in range(3)})
    return found


@pytest.fixture(scope="module")
def kb(datasets):
    return toy_knowledge_base(datasets, space="knn", n_configs=12, seed=0)


def test_suggestions_are_buildable_distinct_and_best_first(kb, datasets) -> None:
    configs = suggest(datasets["wine"], space="knn", n=4, knowledge=kb, model="nearest")
    assert len(configs) == 4
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == 4
    for config in configs:
        spaces.get("knn").build(config)
    rows = kb.evaluations[kb.evaluations["dataset"] == "wine"]
    best = json.loads(rows.sort_values("score", ascending=False)["params"].iloc[0])
    assert configs[0] == best  # wine is in the knowledge base: its own best comes first


def test_explanation_names_the_nearest_datasets(kb, datasets) -> None:
    result = suggest(datasets["iris"], space="knn", n=3, knowledge=kb, explain=True)
    assert isinstance(result, Explanation)
    assert result.neighbors["dataset"].iloc[0] == "iris"
    assert result.neighbors["distance"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert result.novelty == pytest.approx(0.0, abs=1e-12)
    assert result.fallback is None and len(result.scores) == 3
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["nearest_datasets"][0]["dataset"] == "iris"
    assert "knn" in str(result) and "iris" in str(result)
    # Used like the plain list it explains.
    plain = suggest(datasets["iris"], space="knn", n=3, knowledge=kb)
    assert list(result) == plain and len(result) == 3 and result[0] == plain[0]


def test_every_model_and_input_form(kb, datasets) -> None:
    iris = datasets["iris"]
    for model in ("nearest", "portfolio", "surrogate"):
        assert len(suggest(iris, space="knn", n=2, knowledge=kb, model=model)) == 2
    as_tuple = suggest((iris.X, iris.y), space="knn", n=2, knowledge=kb, model="nearest")
    assert as_tuple == suggest(iris, space="knn", n=2, knowledge=kb, model="nearest")


def test_a_directory_knowledge_base_and_the_fitted_model_is_reused(kb, datasets, tmp_path):
    kb.save(tmp_path)
    first = suggest(datasets["iris"], space="knn", n=2, knowledge=tmp_path, model="nearest")
    assert first == suggest(datasets["iris"], space="knn", n=2, knowledge=kb, model="nearest")
    assert fitted_model("nearest", kb, "knn") is fitted_model("nearest", kb, "knn")


def test_failed_extraction_falls_back_to_the_portfolio(kb, datasets, monkeypatch, caplog):
    def broken(dataset, budget_s=None):
        raise ValueError("no metafeatures today")

    monkeypatch.setattr(suggest_module, "dataset_metafeatures", broken)
    with pytest.warns(FallbackWarning, match="extraction failed .*; using the portfolio"):
        result = suggest(
            datasets["iris"], space="knn", n=3, knowledge=kb, model="nearest", explain=True
        )
    assert result.model == "Portfolio" and "no metafeatures today" in result.fallback
    assert "metafeature extraction failed" in caplog.text
    # A model that ignores the metafeatures ranks as it would: nothing fell back.
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        same = suggest(
            datasets["iris"], space="knn", n=3, knowledge=kb, model="portfolio", explain=True
        )
    assert same.fallback is None and same.configs == result.configs
    assert same.neighbors.empty


def test_novel_datasets_keep_the_requested_model(datasets) -> None:
    # The portfolio did not rank novel datasets better (nested leave-one-group-out), so a
    # dataset far from every known one is ranked by the model asked for, with no fallback.
    # Five datasets of one shape, and wine: known datasets are typically very close.
    known = {f"near{seed}": _synthetic(seed, 10) for seed in range(5)} | {"wine": datasets["wine"]}
    kb = toy_knowledge_base(known, space="knn", n_configs=12, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        result = suggest(
            datasets["breast_cancer"],
            space="knn",
            n=3,
            knowledge=kb,
            model="nearest",
            explain=True,
        )
    assert result.model == "NearestDatasets" and result.fallback is None
    assert result.novelty > 3, result.novelty  # far beyond the known datasets' spacing
    nearest = result.neighbors["dataset"].iloc[0]
    evaluations = kb.evaluations
    rows = evaluations[(evaluations["dataset"] == nearest) & (evaluations["space"] == "knn")]
    best = json.loads(rows.loc[rows["score"].idxmax(), "params"])
    assert result.configs[0] == best  # the nearest known dataset's best, not the portfolio's


def test_bad_input_raises_clear_errors(kb, datasets) -> None:
    with pytest.raises(ValueError, match="unknown space 'nope'"):
        suggest(datasets["iris"], space="nope", knowledge=kb)
    with pytest.raises(ValueError, match="n must be"):
        suggest(datasets["iris"], space="knn", n=0, knowledge=kb)
    with pytest.raises(ValueError, match="unknown meta-model"):
        suggest(datasets["iris"], space="knn", knowledge=kb, model="oracle")
    with pytest.raises(TypeError, match="knowledge must be"):
        suggest(datasets["iris"], space="knn", knowledge=42)
    regression = metaopt.load_dataset("sklearn:diabetes")
    with pytest.raises(ValueError, match="regression"):
        suggest(regression, space="knn", knowledge=kb, model="nearest")
