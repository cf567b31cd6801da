"""Readers for data files: CSV, TSV (optionally gzip-compressed), parquet and ARFF."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import logging
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TypeVar

import arff  # liac-arff, the ARFF parser openml itself uses
import numpy as np
import pandas as pd

from metaopt.exceptions import MetaoptWarning, warn_fallback

logger = logging.getLogger("metaopt.datasets")

_T = TypeVar("_T")

SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".csv",
    ".csv.gz",
    ".tsv",
    ".tsv.gz",
    ".tab",
    ".parquet",
    ".pq",
    ".arff",
    ".arff.gz",
)

# Separators tried, in order, when a CSV/TSV file does not split on its suffix's separator.
CANDIDATE_SEPARATORS: tuple[str, ...] = (",", ";", "\t", "|")

# Encodings tried, in order, for a text file that is not valid UTF-8 (cp1252 is what Windows
# writes; latin-1 decodes any byte).
FALLBACK_ENCODINGS: tuple[str, ...] = ("cp1252", "latin-1")

# Frame.attrs key under which the CSV/TSV reader records header names that occur several times.
DUPLICATES_ATTR = "metaopt_duplicate_columns"

#: Version of how a file becomes a dataset; caches of what was read from files are keyed by it.
#: 2: row-number columns named like an id are dropped.
FILE_READING_VERSION = 2

_SAMPLE_BYTES = 1 << 16
# A number written with a decimal comma, optionally with '.' grouping thousands: 1.234,5 / 2,5.
_DECIMAL_COMMA = r"[+-]?(?:[1-9]\d{0,2}(?:\.\d{3})+|\d+)(?:,\d+)?"
# A number written with ',' grouping thousands: 1,234 / 12,345.6.
_THOUSANDS_COMMA = r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?"
# A number with a decimal point (12.5, 0.123, 1e-3), and one whose '.' may group thousands.
_POINT_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_POINT_THOUSANDS = r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+"


def file_kind(path: Path) -> str | None:
    """``"csv"``, ``"tsv"``, ``"parquet"`` or ``"arff"`` for a supported file name, else None."""
    name = path.name.lower()
    for suffix, kind in (
        (".csv.gz", "csv"),
        (".tsv.gz", "tsv"),
        (".arff.gz", "arff"),
        (".csv", "csv"),
        (".tsv", "tsv"),
        (".tab", "tsv"),
        (".parquet", "parquet"),
        (".pq", "parquet"),
        (".arff", "arff"),
    ):
        if name.endswith(suffix):
            return kind
    return None


def _user_stacklevel() -> int:
    """The caller's ``stacklevel`` for a warning that points at the first frame outside metaopt."""
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def warn_data(message: str) -> None:
    """Log ``message`` on the ``metaopt`` logger and emit it as a :class:`MetaoptWarning`."""
    logger.warning(message)
    warnings.warn(message, MetaoptWarning, stacklevel=_user_stacklevel())


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def _open_bytes(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _bom_encoding(path: Path) -> str | None:
    """``"utf-16"`` for a file that starts with a UTF-16 byte order mark, else None."""
    with _open_bytes(path) as handle:
        start = handle.read(2)
    return "utf-16" if start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else None


def _with_encoding(path: Path, encoding: str | None, read: Callable[[str], _T]) -> _T:
    """``read(encoding)``; without an explicit encoding, UTF-8 first, then a warned fallback."""
    if encoding is not None:
        return read(encoding)
    first = _bom_encoding(path) or "utf-8"
    try:
        return read(first)
    except UnicodeDecodeError as error:
        if first != "utf-8":
            raise
        problem = str(error.reason)
    for fallback in FALLBACK_ENCODINGS[:-1]:
        try:
            result = read(fallback)
        except UnicodeDecodeError:
            continue
        _warn_encoding(path, problem, fallback)
        return result
    result = read(FALLBACK_ENCODINGS[-1])
    _warn_encoding(path, problem, FALLBACK_ENCODINGS[-1])
    return result


def _warn_encoding(path: Path, problem: str, encoding: str) -> None:
    warn_fallback(
        logger,
        f"{str(path)!r} is not valid UTF-8 ({problem}); read it as {encoding}. Pass "
        "encoding='...' to load_dataset to read it with another encoding.",
        stacklevel=_user_stacklevel() + 1,
    )


def _is_blank(path: Path) -> bool:
    """Whether a (possibly gzipped) text file holds nothing but whitespace."""
    with _open_bytes(path) as handle:
        start = handle.read(_SAMPLE_BYTES)
    return len(start) < _SAMPLE_BYTES and not start.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe")


def _text_sample(path: Path, encoding: str) -> tuple[str, bool]:
    """The first lines of a text file (about 64 KiB) and whether they are the whole file."""
    with _open_bytes(path) as handle:
        raw = handle.read(_SAMPLE_BYTES + 1)
    complete = len(raw) <= _SAMPLE_BYTES
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    text = codecs.getincrementaldecoder(codec)().decode(raw[:_SAMPLE_BYTES], final=complete)
    if not complete and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text, complete


def detect_separator(sample: str, *, complete: bool = True) -> str | None:
    """The separator of :data:`CANDIDATE_SEPARATORS` that splits every row of ``sample`` alike.

    A candidate qualifies when every record of the sample (quoted fields honoured) has the same
    number of fields, more than one; of those, the one giving the most fields wins. None when no
    candidate qualifies.
    """
    best: tuple[str, int] | None = None
    for candidate in CANDIDATE_SEPARATORS:
        reader = csv.reader(io.StringIO(sample), delimiter=candidate)
        try:
            rows = [row for row in itertools.islice(reader, 200) if row]
        except csv.Error:
            continue  # an unbalanced quote with this separator: not the file's separator
        if not complete and len(rows) > 1:
            rows = rows[:-1]  # the last record of a cut sample may be incomplete
        counts = {len(row) for row in rows}
        if len(counts) == 1 and (fields := counts.pop()) > 1:
            if best is None or fields > best[1]:
                best = (candidate, fields)
    return best[0] if best else None


def _read_delimited(
    path: Path,
    kind: str,
    *,
    sep: str | None,
    encoding: str | None,
    decimal: str | None,
    thousands: str | None,
    header: bool,
) -> pd.DataFrame:
    """Read a CSV/TSV file: separator detected when the suffix's does not split it."""
    default = "," if kind == "csv" else "\t"
    number_options: dict[str, str] = {}
    if decimal is not None:
        number_options["decimal"] = decimal
    if thousands is not None:
        number_options["thousands"] = thousands

    def read_csv(encoding_: str, sep_: str, **options: object) -> pd.DataFrame:
        return pd.read_csv(
            path,
            sep=sep_,
            na_values=["?"],
            low_memory=False,
            encoding=encoding_,
            header=0 if header else None,
            **number_options,  # type: ignore[arg-type]
            **options,  # type: ignore[arg-type]
        )

    def attempt(encoding_: str) -> tuple[pd.DataFrame, str, str]:
        try:
            frame = read_csv(encoding_, sep or default)
        except pd.errors.ParserError:
            if sep is not None:
                raise
            found = _detected_separator(path, encoding_)
            if found is None or found == default:
                raise
        else:
            if sep is not None or frame.shape[1] != 1:
                return frame, sep or default, encoding_
            found = _detected_separator(path, encoding_)
            if found is None or found == default:
                only = str(frame.columns[0])
                seen = next((s for s in CANDIDATE_SEPARATORS if s in only), None)
                if seen is None:
                    return frame, default, encoding_
                raise ValueError(
                    f"it reads as one column named {only[:60]!r} and no separator splits its "
                    f"rows alike; pass sep= (e.g. sep={seen!r}) to say how values are separated."
                )
        logger.info(
            "%r: values are separated by %r, not %r; read them so.", str(path), found, default
        )
        return read_csv(encoding_, found), found, encoding_

    frame, used_sep, used_encoding = _with_encoding(path, encoding, attempt)
    if header:
        frame.columns = frame.columns.map(str)
        duplicates = _duplicated_header(path, frame, used_sep, used_encoding)
        if duplicates:
            frame.attrs[DUPLICATES_ATTR] = duplicates
            shown = ", ".join(f"{name!r} as {read}" for name, read in duplicates.items())
            warn_data(
                f"{str(path)!r}: the header names several columns alike; they are read as "
                f"separate columns: {shown}."
            )
    else:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    if decimal is None and thousands is None:
        found = False
        if used_sep == ";":
            frame, found = _read_decimal_commas(
                path, frame, lambda **o: read_csv(used_encoding, ";", **o)
            )
        if not found:
            _hint_numbers_as_text(path, frame)
    return frame


def _detected_separator(path: Path, encoding: str) -> str | None:
    sample, complete = _text_sample(path, encoding)
    return detect_separator(sample, complete=complete)


def _duplicated_header(
    path: Path, frame: pd.DataFrame, sep: str, encoding: str
) -> dict[str, list[str]]:
    """Header names that occur several times, with the names pandas gave those columns."""
    names = set(frame.columns)
    mangled = (re.fullmatch(r"(.*)\.\d+", str(c)) for c in frame.columns)
    if not any(m is not None and m.group(1) in names for m in mangled):
        return {}
    raw = pd.read_csv(
        path, sep=sep, header=None, nrows=1, dtype=str, encoding=encoding, na_filter=False
    )
    written = [str(v) for v in raw.iloc[0]] if len(raw) else []
    if len(written) != frame.shape[1]:
        return {}
    columns: dict[str, list[str]] = {}
    for name, column in zip(written, frame.columns, strict=True):
        columns.setdefault(name, []).append(str(column))
    return {name: read for name, read in columns.items() if len(read) > 1}


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if not (
            pd.api.types.is_numeric_dtype(frame[c].dtype)
            or pd.api.types.is_bool_dtype(frame[c].dtype)
            or pd.api.types.is_datetime64_any_dtype(frame[c].dtype)
        )
    ]


def _all_match(column: pd.Series, pattern: str, *, needs: str) -> bool:
    """Whether every value of ``column`` matches ``pattern`` and one contains ``needs``."""
    values = column.dropna().astype(str).str.strip()
    if len(values) == 0 or not values.str.contains(needs, regex=False).any():
        return False
    return bool(values.str.fullmatch(pattern).all())


def _read_decimal_commas(
    path: Path, frame: pd.DataFrame, read: Callable[..., pd.DataFrame]
) -> tuple[pd.DataFrame, bool]:
    """Re-read a ';'-separated file with decimal commas when its text columns hold such numbers.

    Not when another column holds numbers with a decimal point (``12.5``): '.' could then not
    be taken to group thousands, so those columns are left as read and a warning says so.
    Returns the frame and whether decimal commas were found (read or warned about).
    """
    commas = [c for c in _text_columns(frame) if _all_match(frame[c], _DECIMAL_COMMA, needs=",")]
    if not commas:
        return frame, False
    strings = read(dtype=str)
    strings.columns = frame.columns
    points = [c for c in strings.columns if c not in commas and _has_decimal_points(strings[c])]
    if points:
        warn_data(
            f"{str(path)!r}: columns {commas[:10]} hold numbers with decimal commas but columns "
            f"{points[:10]} hold numbers with decimal points; all are read as written (the "
            "comma ones as text). Pass decimal=',' and thousands='.' to read them as numbers."
        )
        return frame, True
    reread = read(decimal=",", thousands=".")
    reread.columns = frame.columns
    reread.attrs.update(frame.attrs)
    logger.info(
        "%r: columns %s hold numbers with decimal commas; read the file with decimal=',' and "
        "thousands='.'.",
        str(path),
        commas[:10],
    )
    return reread, True


def _has_decimal_points(column: pd.Series) -> bool:
    """Whether a column of strings holds a number with a '.' that cannot group thousands."""
    values = column.dropna().astype(str).str.strip()
    values = values[values.str.contains(".", regex=False) | values.str.contains("e", case=False)]
    numbers = values[values.str.fullmatch(_POINT_NUMBER)]
    return bool((~numbers.str.fullmatch(_POINT_THOUSANDS)).any())


def _hint_numbers_as_text(path: Path, frame: pd.DataFrame) -> None:
    """Warn about text columns whose values are all numbers written with a comma."""
    pattern = f"{_DECIMAL_COMMA}|{_THOUSANDS_COMMA}"
    columns = [c for c in _text_columns(frame) if _all_match(frame[c], pattern, needs=",")]
    if columns:
        example = str(frame[columns[0]].dropna().astype(str).str.strip().iloc[0])
        warn_data(
            f"{str(path)!r}: columns {columns[:10]} hold numbers written with a comma (e.g. "
            f"{example!r}) and are read as text (categories). Pass decimal=',' (and "
            "thousands='.') if the comma marks decimals, or thousands=',' if it groups thousands."
        )


# Java SimpleDateFormat pattern letters (ARFF date formats) and their strptime equivalents.
_JAVA_DATE_LETTERS: dict[str, str] = {
    "yyyy": "%Y",
    "yy": "%y",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "M": "%m",
    "dd": "%d",
    "d": "%d",
    "HH": "%H",
    "H": "%H",
    "hh": "%I",
    "h": "%I",
    "mm": "%M",
    "m": "%M",
    "ss": "%S",
    "s": "%S",
    "SSS": "%f",
    "SSSSSS": "%f",
    "a": "%p",
    "EEEE": "%A",
    "EEE": "%a",
    "Z": "%z",
    "X": "%z",
    "XX": "%z",
    "XXX": "%z",
}
ARFF_DEFAULT_DATE_FORMAT = "yyyy-MM-dd'T'HH:mm:ss"


def java_date_format(pattern: str) -> str:
    """Translate an ARFF (Java ``SimpleDateFormat``) date pattern into a strptime format.

    Raises:
        ValueError: A pattern letter without a strptime equivalent.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = pattern.find("'", i + 1)
            if end == -1:
                raise ValueError(f"date format {pattern!r} has an unclosed quote.")
            out.append("'" if end == i + 1 else pattern[i + 1 : end].replace("%", "%%"))
            i = end + 1
        elif char.isascii() and char.isalpha():
            run = len(pattern) - i - len(pattern[i:].lstrip(char))
            letters = pattern[i : i + run]
            code = _JAVA_DATE_LETTERS.get(letters) or ("%Y" if set(letters) == {"y"} else None)
            if code is None:
                raise ValueError(
                    f"date format {pattern!r}: {letters!r} is not supported; supported are "
                    f"{sorted(_JAVA_DATE_LETTERS)} and quoted literals such as 'T'."
                )
            out.append(code)
            i += run
        else:
            out.append("%%" if char == "%" else char)
            i += 1
    return "".join(out)


_ARFF_ATTRIBUTE = re.compile(r"^\s*@attribute(\s+)(.*?)\s*$", re.IGNORECASE | re.DOTALL)
_ARFF_NAME_AND_TYPE = re.compile(
    r"""^('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s{}%,'"]+)\s+(.+)$""", re.DOTALL
)
_ARFF_DATE_TYPE = re.compile(r"^date(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)


def _arff_lines(lines: Iterable[str], dates: dict[str, str]) -> Iterator[str]:
    """ARFF lines as liac-arff reads them: ``date`` attributes declared as strings.

    Each date attribute's name and format go into ``dates``; ``@attribute`` followed by a tab
    becomes ``@attribute`` and a space (liac-arff splits the keyword off at a space).
    """
    lines = iter(lines)
    for line in lines:
        if line.lstrip().lower().startswith("@data"):
            yield line
            break
        match = _ARFF_ATTRIBUTE.match(line)
        if match is None:
            yield line
            continue
        declaration = match.group(2)
        parts = _ARFF_NAME_AND_TYPE.match(declaration)
        date = _ARFF_DATE_TYPE.match(parts.group(2).strip()) if parts else None
        if parts is not None and date is not None:
            pattern = (date.group(1) or "").strip()
            if len(pattern) >= 2 and pattern[0] == pattern[-1] and pattern[0] in "'\"":
                pattern = pattern[1:-1]
            pattern = pattern or ARFF_DEFAULT_DATE_FORMAT
            java_date_format(pattern)  # an unsupported format fails here, before the data
            dates[parts.group(1).strip("\"'")] = pattern
            yield f"@attribute {parts.group(1)} string\n"
        elif match.group(1) != " ":
            yield f"@attribute {declaration}\n"
        else:
            yield line
    yield from lines


def read_arff(path: Path, *, encoding: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """Read an ARFF file into a frame.

    Nominal attributes become categoricals, numeric ones floats, ``date`` attributes pandas
    datetimes (parsed with their declared format, ISO 8601 by default), strings stay text.

    Returns the frame and the name of the last attribute (ARFF's conventional target).
    """
    dates: dict[str, str] = {}

    def parse(encoding_: str) -> dict[str, object]:
        dates.clear()
        codec = "utf-8-sig" if codecs.lookup(encoding_).name == "utf-8" else encoding_
        opener = gzip.open if _is_gzip(path) else open
        with opener(path, "rt", encoding=codec) as handle:  # type: ignore[operator]
            return arff.load(
                _arff_lines(handle, dates), encode_nominal=False, return_type=arff.DENSE
            )

    content = _with_encoding(path, encoding, parse)
    attributes = content["attributes"]
    names = [name for name, _ in attributes]  # type: ignore[union-attr]
    frame = pd.DataFrame(content["data"], columns=names)
    for name, kind in attributes:  # type: ignore[union-attr]
        if isinstance(kind, list):
            frame[name] = pd.Categorical(frame[name], categories=[str(v) for v in kind])
        elif str(kind).upper() in {"NUMERIC", "REAL", "INTEGER"}:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        else:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), np.nan)
    for name, pattern in dates.items():
        strptime = java_date_format(pattern)
        try:
            frame[name] = pd.to_datetime(frame[name], format=strptime, utc="%z" in strptime)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"date attribute {name!r} has a value that does not match its format "
                f"{pattern!r}: {error}"
            ) from error
    return frame, (names[-1] if names else None)


def read_table(
    path: Path,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    header: bool = True,
) -> tuple[pd.DataFrame, str | None]:
    """Read any supported data file; returns the frame and a default target column (or None).

    Args:
        path: The file.
        sep: CSV/TSV only: the value separator; detected when the suffix's (',' for CSV, a tab
            for TSV) does not split the rows.
        encoding: CSV/TSV/ARFF: the text encoding; UTF-8 when omitted, then (with a
            :class:`~metaopt.exceptions.FallbackWarning`) cp1252 or latin-1.
        decimal: CSV/TSV only: the decimal mark; ',' is detected in ';'-separated files.
        thousands: CSV/TSV only: the thousands separator.
        header: CSV/TSV only: whether the first row names the columns; without one, columns
            are named by position ``"0"``, ``"1"``, ...

    Raises:
        ValueError: Unsupported, missing, empty or unreadable file, or options that do not
            apply to its format.
        TypeError: An option of the wrong type.
    """
    kind = file_kind(path)
    if kind is None:
        raise ValueError(
            f"cannot read {str(path)!r}: unsupported file type; accepted suffixes are "
            f"{', '.join(SUPPORTED_SUFFIXES)}."
        )
    _check_options(
        kind, sep=sep, encoding=encoding, decimal=decimal, thousands=thousands, header=header
    )
    if path.is_dir():
        raise ValueError(f"cannot read {str(path)!r}: it is a folder, not a data file.")
    if not path.is_file():
        raise ValueError(f"cannot read {str(path)!r}: no such file.")
    try:
        if kind != "parquet" and _is_blank(path):
            raise pd.errors.EmptyDataError("blank file")
        if kind == "arff":
            return read_arff(path, encoding=encoding)
        if kind == "parquet":
            return pd.read_parquet(path), None
        frame = _read_delimited(
            path,
            kind,
            sep=sep,
            encoding=encoding,
            decimal=decimal,
            thousands=thousands,
            header=header,
        )
        return frame, None
    except pd.errors.EmptyDataError as error:
        raise ValueError(
            f"cannot read {str(path)!r} as {kind.upper()}: the file is empty (no header, no rows)."
        ) from error
    except pd.errors.ParserError as error:
        raise ValueError(
            f"cannot read {str(path)!r} as {kind.upper()}: {str(error).strip()}. Rows must have "
            "as many fields as the header; if the values are separated by something else than "
            f"{'a comma' if kind == 'csv' else 'a tab'}, pass sep=."
        ) from error
    except (arff.ArffException, ValueError, OSError, UnicodeDecodeError, KeyError) as error:
        raise ValueError(
            f"cannot read {str(path)!r} as {kind.upper()}: {type(error).__name__}: {error}"
        ) from error


def _check_options(
    kind: str,
    *,
    sep: str | None,
    encoding: str | None,
    decimal: str | None,
    thousands: str | None,
    header: bool,
) -> None:
    """Refuse reading options of the wrong type, or that do not apply to a file's format."""
    for option, value in (("sep", sep), ("decimal", decimal), ("thousands", thousands)):
        if value is not None and not (isinstance(value, str) and value):
            raise TypeError(f"{option} must be a non-empty string; got {value!r}.")
    for option, value in (("decimal", decimal), ("thousands", thousands)):
        if value is not None and len(value) != 1:
            raise ValueError(f"{option} must be a single character; got {value!r}.")
    if decimal is not None and decimal == thousands:
        raise ValueError(f"decimal and thousands must differ; got {decimal!r} for both.")
    if not isinstance(header, bool):
        raise TypeError(f"header must be True or False; got {header!r}.")
    if encoding is not None:
        if not isinstance(encoding, str):
            raise TypeError(f"encoding must be a string; got {type(encoding).__name__}.")
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"unknown encoding {encoding!r}; pass a Python codec name such as 'utf-8', "
                "'cp1252' or 'latin-1'."
            ) from None
    given = [
        option
        for option, value in (
            ("sep", sep),
            ("decimal", decimal),
            ("thousands", thousands),
            ("header", None if header else False),
            ("encoding", encoding if kind == "parquet" else None),
        )
        if value is not None
    ]
    if given and kind in ("arff", "parquet"):
        raise ValueError(
            f"the reading options {', '.join(f'{o}=' for o in given)} apply to CSV/TSV files "
            "only (encoding= also to ARFF files); got "
            + ("an ARFF file." if kind == "arff" else "a parquet file.")
        )
