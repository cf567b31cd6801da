"""metaopt.suggest as a user calls it: argument types and the input forms of a dataset."""

from __future__ import annotations

import numpy as np
import pytest

import metaopt
from metaopt._suggest import suggest
from metaopt.datasets import Dataset
from metaopt.testing import toy_knowledge_base


@pytest.fixture(scope="module")
def iris() -> Dataset:
    return metaopt.load_dataset("sklearn:iris")


@pytest.fixture(scope="module")
def kb(iris):
    wine = metaopt.load_dataset("sklearn:wine")
    return toy_knowledge_base({"iris": iris, "wine": wine}, space="knn", n_configs=8, seed=0)


def test_a_numpy_integer_n_is_an_int(kb, iris) -> None:
    n = np.arange(1, 4)[-1]  # e.g. a budget computed with numpy
    assert isinstance(n, np.integer)
    got = suggest(iris, space="knn", n=n, knowledge=kb, model="portfolio")
    assert got == suggest(iris, space="knn", n=3, knowledge=kb, model="portfolio")
    with pytest.raises(TypeError, match="n must be a positive int, got float"):
        suggest(iris, space="knn", n=3.0, knowledge=kb, model="portfolio")
    with pytest.raises(TypeError, match="n must be a positive int, got bool"):
        suggest(iris, space="knn", n=np.True_, knowledge=kb, model="portfolio")


@pytest.mark.parametrize("form", ["pair", "dataset"])
def test_target_with_a_dataset_that_holds_its_target_raises(kb, iris, form) -> None:
    dataset = (iris.X, iris.y) if form == "pair" else iris
    with pytest.raises(ValueError, match="target='species'.*already"):
        suggest(dataset, space="knn", n=2, knowledge=kb, model="portfolio", target="species")


def test_an_explanation_says_when_the_nearest_datasets_had_no_effect() -> None:
    import metaopt

    data = metaopt.load_dataset("sklearn:wine")
    portfolio = metaopt.suggest(data, space="knn", n=2, model="portfolio", explain=True)
    assert not portfolio.uses_metafeatures and len(portfolio.neighbors)
    assert "not used: Portfolio ranks the same for every dataset" in str(portfolio)
    assert portfolio.to_dict()["uses_metafeatures"] is False
    transfer = metaopt.suggest(data, space="knn", n=2, explain=True)
    assert transfer.uses_metafeatures and "not used" not in str(transfer)


def test_type_checkers_know_what_explain_returns() -> None:
    # Without overloads `suggest(...)` is typed as a union, so `why.neighbors` after
    # `explain=True` (as documented) fails a type checker.
    import typing

    from metaopt._suggest import suggest

    get_overloads = getattr(typing, "get_overloads", None)
    if get_overloads is None:
        pytest.skip("typing.get_overloads needs Python 3.11")
    returns = {
        o.__annotations__["explain"]: o.__annotations__["return"] for o in get_overloads(suggest)
    }
    assert returns["Literal[True]"] == "Explanation"
    assert returns["Literal[False]"] == "list[dict[str, Any]]"
