"""Data files as users have them: separators, encodings, number formats, ARFF dates and more."""

from __future__ import annotations

import gzip
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaopt.datasets import Dataset, load_dataset
from metaopt.exceptions import FallbackWarning, MetaoptWarning

TABLE = "a,b,target\n1.5,x,0\n2.5,y,1\n3.5,x,0\n4.5,y,1\n"


def _load_quietly(source: object, **kwargs: object) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these files deserves a warning
        return load_dataset(source, **kwargs)


def _assert_table(dataset: Dataset) -> None:
    assert dataset.shape == (4, 2)
    assert list(dataset.X.columns) == ["a", "b"]
    np.testing.assert_allclose(dataset.X["a"], [1.5, 2.5, 3.5, 4.5])
    assert dataset.categorical_columns == ["b"]
    assert dataset.y.tolist() == [0, 1, 0, 1]


# ARFF dates -------------------------------------------------------------------------------


def test_arff_date_attributes_become_datetimes_like_a_pandas_datetime_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.arff"
    path.write_text(
        "@relation events\n"
        '@attribute when date "yyyy-MM-dd HH:mm:ss"\n'
        "@attribute 'day of sale' DATE 'dd/MM/yyyy'\n"
        "@attribute stamp date\n"
        "@attribute class {p,q}\n"
        "@data\n"
        '"2020-01-01 10:00:00",01/02/2020,2020-01-01T10:00:00,p\n'
        "'2021-02-03 11:30:00',31/12/2021,2021-06-30T23:59:59,q\n"
        "?,?,?,p\n"
    )
    dataset = _load_quietly(path)
    expected = pd.DataFrame(
        {
            "when": pd.to_datetime(["2020-01-01 10:00:00", "2021-02-03 11:30:00", None]),
            "day of sale": pd.to_datetime(["2020-02-01", "2021-12-31", None]),
            "stamp": pd.to_datetime(["2020-01-01T10:00:00", "2021-06-30T23:59:59", None]),
            "class": ["p", "q", "p"],
        }
    )
    reference = load_dataset(expected, target="class")
    pd.testing.assert_frame_equal(dataset.X, reference.X)
    assert dataset.fingerprint == reference.fingerprint
    assert dataset.X["when"].isna().tolist() == [False, False, True]


def test_arff_date_value_that_misses_its_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad_date.arff"
    path.write_text(
        "@relation x\n@attribute d date 'dd/MM/yyyy'\n@attribute c {p,q}\n@data\n"
        "2020-01-31,p\n31/12/2021,q\n"
    )
    with pytest.raises(ValueError, match=r"date attribute 'd' .* format 'dd/MM/yyyy'"):
        load_dataset(path)
    path.write_text(
        "@relation x\n@attribute d date 'yyyy GGG'\n@attribute c {p,q}\n@data\n'2020 AD',p\n"
    )
    with pytest.raises(ValueError, match="'GGG' is not supported"):
        load_dataset(path)


def test_arff_attribute_keyword_followed_by_a_tab(tmp_path: Path) -> None:
    path = tmp_path / "tabs.arff"
    path.write_text(
        "@relation x\n@attribute\tsize\tNUMERIC\n@attribute\tclass\t{p,q}\n@data\n1,p\n2,q\n3,p\n"
    )
    dataset = _load_quietly(path)
    assert dataset.X["size"].tolist() == [1.0, 2.0, 3.0]


def test_arff_sparse_rows_quoted_nominals_and_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "sparse.arff.gz"
    path.write_bytes(
        gzip.compress(
            b"@relation x\n@attribute a numeric\n@attribute b numeric\n"
            b"@attribute 'the class' {'big one','small, really'}\n@data\n"
            b"{0 1, 2 'small, really'}\n{1 2}\n{0 ?, 1 1, 2 'small, really'}\n"
        )
    )
    dataset = _load_quietly(path)
    assert dataset.X["a"].tolist()[:2] == [1.0, 0.0] and np.isnan(dataset.X["a"].iloc[2])
    assert dataset.X["b"].tolist() == [0.0, 2.0, 1.0]
    assert dataset.y.tolist() == ["small, really", "big one", "small, really"]


# Separators -------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_csv_with_another_separator_is_detected(tmp_path: Path, separator: str) -> None:
    path = tmp_path / "table.csv"
    path.write_text(TABLE.replace(",", separator))
    _assert_table(_load_quietly(path))


def test_tsv_with_commas_and_gzip_semicolons_are_detected(tmp_path: Path) -> None:
    (tmp_path / "commas.tsv").write_text(TABLE)
    _assert_table(_load_quietly(tmp_path / "commas.tsv"))
    (tmp_path / "semi.csv.gz").write_bytes(gzip.compress(TABLE.replace(",", ";").encode()))
    _assert_table(_load_quietly(tmp_path / "semi.csv.gz"))


def test_detection_honours_quoted_separators_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    rows = "".join(f'{i};"text; with\nnewline {i}";{i % 2}\n' for i in range(3000))
    path.write_text("a;note;target\n" + rows)  # longer than the sample that is inspected
    dataset = _load_quietly(path)
    assert dataset.shape == (3000, 2)
    assert dataset.X["note"].iloc[1] == "text; with\nnewline 1"


def test_sep_option_and_a_file_no_separator_splits(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a;b\n1;2;3\n4\n5;6\n")
    with pytest.raises(ValueError, match="no separator splits its rows alike; pass sep="):
        load_dataset(path)
    explicit = tmp_path / "explicit.csv"
    explicit.write_text(TABLE.replace(",", "|"))
    _assert_table(_load_quietly(explicit, sep="|"))
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b,target\n1,2,0\n3,4,5,1\n")
    with pytest.raises(ValueError, match="Expected 3 fields.*pass sep="):
        load_dataset(broken)


# Encodings --------------------------------------------------------------------------------


def test_latin1_and_cp1252_files_fall_back_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "windows.csv"
    path.write_bytes("a,b,target\n1,café,0\n2,5 €,1\n3,café,0\n4,x,1\n".encode("cp1252"))
    with caplog.at_level(logging.WARNING, logger="metaopt"):
        with pytest.warns(FallbackWarning, match=r"not valid UTF-8.*cp1252.*encoding="):
            dataset = load_dataset(path)
    assert sorted(dataset.X["b"].cat.categories) == ["5 €", "café", "x"]
    assert any("cp1252" in record.getMessage() for record in caplog.records)
    # Bytes cp1252 cannot decode: latin-1.
    odd = tmp_path / "odd.csv"
    odd.write_bytes(b"a,b,target\n1,\x81x,0\n2,y,1\n")
    with pytest.warns(FallbackWarning, match="latin-1"):
        assert load_dataset(odd).X["b"].iloc[0] == "\x81x"
    # Told the encoding: no guess, no warning.
    assert _load_quietly(path, encoding="latin-1").X["b"].iloc[0] == "café"
    arff_path = tmp_path / "latin.arff"
    arff_path.write_bytes(
        "@relation x\n@attribute a {café,thé}\n@attribute c {p,q}\n@data\ncafé,p\nthé,q\n".encode(
            "latin-1"
        )
    )
    with pytest.warns(FallbackWarning, match="cp1252"):
        assert load_dataset(arff_path).X["a"].tolist() == ["café", "thé"]


def test_byte_order_marks(tmp_path: Path) -> None:
    arff_path = tmp_path / "bom.arff"
    arff_path.write_bytes(
        "\ufeff@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n1,p\n2,q\n".encode()
    )
    assert _load_quietly(arff_path).X["a"].tolist() == [1.0, 2.0]
    utf16 = tmp_path / "excel.tsv"
    utf16.write_bytes(TABLE.replace(",", "\t").replace("x", "é").encode("utf-16"))
    dataset = _load_quietly(utf16)
    assert dataset.X["b"].iloc[0] == "é"
    np.testing.assert_allclose(dataset.X["a"], [1.5, 2.5, 3.5, 4.5])


# Number formats ---------------------------------------------------------------------------


def test_european_csv_with_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "euro.csv"
    path.write_text("price;qty;target\n1.234,5;1.000;0\n2,5;12;1\n3,0;7;0\n-4,25;2.500;1\n")
    dataset = _load_quietly(path)
    np.testing.assert_allclose(dataset.X["price"], [1234.5, 2.5, 3.0, -4.25])
    np.testing.assert_allclose(dataset.X["qty"], [1000.0, 12.0, 7.0, 2500.0])
    # A column with decimal points as well: nothing is guessed, a warning names both.
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("a;b;target\n1,5;12.5;0\n2,5;3.25;1\n3,5;1.5;0\n")
    with pytest.warns(MetaoptWarning, match=r"\['a'\] hold numbers with decimal commas.*\['b'\]"):
        dataset = load_dataset(mixed)
    assert dataset.categorical_columns == ["a"]
    np.testing.assert_allclose(dataset.X["b"], [12.5, 3.25, 1.5])


def test_numbers_with_separators_in_a_comma_file_warn_and_options_read_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "thousands.csv"
    path.write_text('a,b,target\n"1,234",x,0\n"2,345",y,1\n"3,000",x,0\n"12",y,1\n')
    with pytest.warns(MetaoptWarning, match=r"\['a'\] hold numbers written with a comma.*"):
        dataset = load_dataset(path)
    assert dataset.categorical_columns == ["a", "b"]  # as before: read as written
    read = _load_quietly(path, thousands=",")
    np.testing.assert_allclose(read.X["a"], [1234.0, 2345.0, 3000.0, 12.0])
    euro = tmp_path / "euro.tsv"
    euro.write_text("a\tb\ttarget\n1.234,5\tx\t0\n2,5\ty\t1\n")
    assert _load_quietly(euro, decimal=",", thousands=".").X["a"].tolist() == [1234.5, 2.5]


# Headers, targets and columns -------------------------------------------------------------


def test_headerless_csv(tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text("1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    with pytest.raises(ValueError, match="first row holds only numbers.*header=False"):
        load_dataset(path)
    dataset = _load_quietly(path, header=False, target=-1)
    assert dataset.shape == (4, 2)
    assert list(dataset.X.columns) == ["0", "1"]
    assert dataset.X["0"].tolist() == [1.0, 3.0, 5.0, 7.0]
    assert _load_quietly(path, header=False, target="2").fingerprint == dataset.fingerprint


def test_target_by_position(tmp_path: Path) -> None:
    path = tmp_path / "first.csv"
    path.write_text("label,a,b\n0,1.5,x\n1,2.5,y\n0,3.5,x\n1,4.5,y\n")
    dataset = _load_quietly(path, target=0)
    assert dataset.y.name == "label" and dataset.metadata["target"] == "label"
    assert list(dataset.X.columns) == ["a", "b"]
    assert _load_quietly(path, target=-2).y.name == "a"
    assert _load_quietly(path, target=np.int64(0)).y.tolist() == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="position 3 is out of range.*3 columns"):
        load_dataset(path, target=3)
    with pytest.raises(TypeError, match="column name .* or a column position"):
        load_dataset(path, target=True)
    # A DataFrame with integer labels: an int is the label first.
    frame = pd.DataFrame({2: [0.5, 1.5, 2.5, 3.5], 0: [1, 0, 1, 0], 1: [3.0, 1.0, 2.0, 0.0]})
    assert load_dataset(frame, target=0).y.tolist() == [1, 0, 1, 0]
    named = pd.DataFrame({"a": [0.5, 1.5, 2.5, 3.5], "y": [1, 0, 1, 0]})
    assert load_dataset(named, target=1).y.tolist() == [1, 0, 1, 0]


def test_target_name_with_stray_spaces_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "spaces.csv"
    path.write_text("a, b, Target\n1, x, 0\n2, y, 1\n")
    with pytest.raises(ValueError, match="Did you mean ' Target'"):
        load_dataset(path, target="target")


def test_duplicate_header_names_warn_and_target_is_the_first(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("a,target,a,target\n1,0,5,1\n2,1,6,0\n3,0,7,1\n4,1,8,0\n")
    with pytest.warns(MetaoptWarning) as record:
        dataset = load_dataset(path)
    messages = " ".join(str(w.message) for w in record)
    assert "'a' as ['a', 'a.1']" in messages
    assert "target 'target' names 2 columns" in messages
    assert dataset.y.tolist() == [0, 1, 0, 1]  # as read before: the first 'target'
    assert list(dataset.X.columns) == ["a", "a.1", "target.1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert load_dataset(path, target=3).y.tolist() == [1, 0, 1, 0]


def test_id_like_column_warns(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "target": [0, 1, 0, 1]})
    path = tmp_path / "with_index.csv"
    frame.set_axis([3, 0, 2, 1]).to_csv(path)  # a shuffled index, written unnamed
    with pytest.warns(MetaoptWarning, match=r"\['Unnamed: 0'\] hold a different value"):
        dataset = load_dataset(path)
    assert "Unnamed: 0" in dataset.X.columns  # not the row numbers: warned about, not dropped
    frame.assign(customer_id=["c1", "c2", "c3", "c4"]).to_csv(tmp_path / "ids.csv", index=False)
    with pytest.warns(MetaoptWarning, match=r"\['customer_id'\]"):
        load_dataset(tmp_path / "ids.csv")
    frame.to_csv(tmp_path / "clean.csv", index=False)
    _load_quietly(tmp_path / "clean.csv")


def test_row_number_columns_are_dropped(tmp_path: Path) -> None:
    # Sorted by class, as OpenML's MagicTelescope file is: its row numbers give the labels away.
    frame = pd.DataFrame({"a": [0.3, 0.1, 0.4, 0.2, 0.9, 0.5], "class": list("gggfff")})
    frame.to_csv(tmp_path / "indexed.csv")  # DataFrame.to_csv writes 0, 1, ... unnamed
    frame.to_csv(tmp_path / "clean.csv", index=False)
    frame.to_parquet(tmp_path / "clean.parquet")
    with pytest.warns(
        MetaoptWarning, match=r"dropped columns \['Unnamed: 0'\]: they hold the row"
    ):
        indexed = load_dataset(tmp_path / "indexed.csv")
    clean = _load_quietly(tmp_path / "clean.csv")
    assert list(indexed.X.columns) == ["a"]
    assert (
        indexed.fingerprint
        == clean.fingerprint
        == _load_quietly(tmp_path / "clean.parquet").fingerprint
    )
    numbered = frame.assign(ID=np.arange(1, 7.0))[["ID", "a", "class"]]
    numbered.to_csv(tmp_path / "numbered.csv", index=False)
    with pytest.warns(MetaoptWarning, match=r"dropped columns \['ID'\]"):
        assert load_dataset(tmp_path / "numbered.csv").fingerprint == clean.fingerprint
    # Row numbers under another name, or an id that is not the row numbers, stay features.
    numbered.rename(columns={"ID": "order"}).to_csv(tmp_path / "order.csv", index=False)
    assert "order" in _load_quietly(tmp_path / "order.csv").X.columns
    numbered.assign(ID=np.arange(2, 8)).to_csv(tmp_path / "from2.csv", index=False)
    with pytest.warns(MetaoptWarning, match=r"\['ID'\] hold a different value"):
        assert "ID" in load_dataset(tmp_path / "from2.csv").X.columns
    # A frame passed directly is the user's choice and is used as given.
    assert "ID" in load_dataset(numbered, target="class").X.columns


def test_wide_dataset_column_lists_are_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(5, 300)), columns=[f"f{i}" for i in range(300)])
    dataset = load_dataset(frame.assign(target=[0, 1, 0, 1, 0]), target="target")
    calls = []
    original = Dataset.categorical_columns.fget

    def counting(self: Dataset) -> list[str]:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(Dataset, "categorical_columns", property(counting))
    assert len(dataset.numeric_columns) == 300
    assert len(calls) == 1


# Empty files, paths, options --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv.gz", gzip.compress(b"\n \n"), "the file is empty"),
        ("empty.arff", b"", "the file is empty"),
        ("header.csv", b"a,b,target\n", r"has a header \(3 columns\) but no data rows"),
        ("header.tsv", b"a\tb\ttarget\n", r"has a header \(3 columns\) but no data rows"),
        (
            "header.arff",
            b"@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n",
            r"has a header \(2 columns\) but no data rows",
        ),
    ],
    ids=["empty-csv", "blank-csv-gz", "empty-arff", "header-csv", "header-tsv", "header-arff"],
)
def test_empty_and_header_only_files_say_so(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_dataset(path)


class _PathLike:
    def __init__(self, path: Path) -> None:
        self._path = path

    def __fspath__(self) -> str:
        return str(self._path)


def test_paths_as_str_path_pathlike_and_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "table.csv"
    path.write_text(TABLE)
    monkeypatch.setenv("HOME", str(tmp_path))
    for source in (str(path), path, _PathLike(path), "~/table.csv", Path("~/table.csv")):
        _assert_table(_load_quietly(source))
    assert isinstance(_PathLike(path), os.PathLike)
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    with pytest.raises(ValueError, match="unsupported file type; accepted suffixes"):
        load_dataset(str(tmp_path / "sheet.xlsx"))


def test_reading_options_are_checked(tmp_path: Path) -> None:
    arff_path = tmp_path / "x.arff"
    arff_path.write_text(
        "@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n1,p\n2,q\n"
    )
    with pytest.raises(ValueError, match=r"sep= apply to CSV/TSV files only.*an ARFF file"):
        load_dataset(arff_path, sep=";")
    with pytest.raises(ValueError, match="apply to data files only"):
        load_dataset("sklearn:iris", header=False)
    csv_path = tmp_path / "x.csv"
    csv_path.write_text(TABLE)
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        load_dataset(csv_path, encoding="klingon")
    with pytest.raises(TypeError, match="sep must be a non-empty string"):
        load_dataset(csv_path, sep=3)
    with pytest.raises(ValueError, match="decimal and thousands must differ"):
        load_dataset(csv_path, decimal=",", thousands=",")
    with pytest.raises(TypeError, match="header must be True or False"):
        load_dataset(csv_path, header="no")


def test_fingerprint_is_the_same_from_csv_tsv_semicolons_and_parquet(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "real": rng.normal(size=n) * 1e3,
            "code": rng.integers(0, 5, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "flag": rng.choice([True, False], n),
            "gappy": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "word": np.where(rng.random(n) < 0.1, None, rng.choice(["x", "y"], n)),
            "target": rng.integers(0, 3, n),
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.tsv.gz", sep="\t", index=False)
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    loaded = [
        _load_quietly(tmp_path / name) for name in ("t.csv", "t.tsv.gz", "semi.csv", "t.parquet")
    ]
    for other in loaded[1:]:
        assert other.fingerprint == loaded[0].fingerprint
        pd.testing.assert_frame_equal(other.X, loaded[0].X)
