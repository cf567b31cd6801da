"""Stored results say which code made them: runs and cached dataset descriptions."""

from __future__ import annotations

import pandas as pd
import pytest
from test_benchmark_pool import synthetic_meta  # shared test helper

from metaopt.benchmark import (
    TraceStore,
    _provenance,
    code_version,
    resolve_datasets,
    run_pool_benchmark,
    summarise,
)


def test_code_version_hashes_the_files_and_nothing_else(tmp_path, monkeypatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.py").write_text("x = 1\n")
    (tmp_path / "other.py").write_text("y = 2\n")
    monkeypatch.setattr(_provenance, "PACKAGE", tmp_path)
    _provenance.code_version.cache_clear()
    try:
        whole, sub = code_version(), code_version("sub")
        assert len(whole) == 12 and int(whole, 16) >= 0 and whole != sub
        (tmp_path / "sub" / "__pycache__").mkdir()
        (tmp_path / "sub" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00")
        _provenance.code_version.cache_clear()
        assert (code_version(), code_version("sub")) == (whole, sub)  # compiled files ignored
        (tmp_path / "sub" / "a.py").write_text("x = 3\n")
        _provenance.code_version.cache_clear()
        assert code_version("sub") != sub and code_version() != whole
        with pytest.raises(ValueError, match="subpackage names of metaopt"):
            code_version("missing")
    finally:
        _provenance.code_version.cache_clear()


def test_the_summary_names_runs_that_other_code_made(tmp_path) -> None:
    meta = synthetic_meta(n_datasets=2, n_configs=10)
    run_pool_benchmark(
        meta, tmp_path, methods=["random", "tpe"], seeds=2, budget=3, progress=False
    )
    store = TraceStore(tmp_path)
    assert set(store.read("synthetic")["code"]) == {code_version()}
    summarise(tmp_path, plots=False)
    assert "made by other code" not in (tmp_path / "summary.md").read_text()
    # One run as an earlier version stored it: no code recorded.
    path = store.path("synthetic", "tpe", "d1", 1)
    pd.read_parquet(path).drop(columns="code").to_parquet(path, index=False)
    summarise(tmp_path, plots=False)
    text = (tmp_path / "summary.md").read_text()
    line = next(x for x in text.splitlines() if "made by other code than this" in x)
    assert line.endswith(f"tpe 1 of {2 * len(meta.dataset_names)}.") and "random" not in line


def test_cached_dataset_descriptions_from_other_code_are_made_again(tmp_path) -> None:
    import metaopt

    meta = synthetic_meta(n_datasets=3, n_configs=5)
    iris = metaopt.load_dataset("sklearn:iris")
    described: list[str] = []

    def describe(data) -> pd.Series:
        described.append(data.name)
        return pd.Series({"m": float(len(described))})

    def run() -> pd.DataFrame:
        described.clear()
        resolved = resolve_datasets(
            meta, lambda name: iris, cache_dir=tmp_path, metafeature_fn=describe, progress=False
        )
        return resolved.metafeatures

    first = run()
    assert len(described) == len(meta.dataset_names)
    assert run().equals(first) and described == []  # all from the cache
    cache = tmp_path / f"{meta.name}-datasets.parquet"
    table = pd.read_parquet(cache)
    table.loc[table.index[0], "code"] = "0" * 12
    table.to_parquet(cache)
    run()
    assert len(described) == 1  # only the description made by other code
