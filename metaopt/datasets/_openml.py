"""Datasets and tasks from OpenML, with a local ARFF mirror for when OpenML is unreachable."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from metaopt._extras import require
from metaopt._settings import openml_mirror_dir
from metaopt.datasets._catalog import cc18_dataset_for_task
from metaopt.datasets._coerce import make_dataset, split_target
from metaopt.datasets._dataset import Dataset
from metaopt.datasets._ids import drop_row_numbers
from metaopt.datasets._readers import read_table

logger = logging.getLogger("metaopt.datasets")


def _parse_id(text: str, prefix: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"{prefix}: expects an integer id, e.g. '{prefix}:31'; got {prefix}:{text!r}."
        ) from None
    if value <= 0:
        raise ValueError(f"{prefix}: ids are positive integers; got {value}.")
    return value


def _mirror_file(mirror: Path, did: int) -> Path | None:
    matches = sorted(mirror.glob(f"{did}-*.arff")) + sorted(mirror.glob(f"{did}-*.arff.gz"))
    return matches[0] if matches else None


def _mirror_target(mirror: Path, file: Path) -> str | None:
    """The default target recorded in the mirror's ``index.csv`` (columns ``file``, ``target``)."""
    index = mirror / "index.csv"
    if not index.is_file():
        return None
    table = pd.read_csv(index)
    if not {"file", "target"} <= set(table.columns):
        return None
    rows = table[table["file"] == file.name]
    return None if rows.empty else str(rows["target"].iloc[0])


def load_from_mirror(did: int, mirror: Path, *, target: str | None = None) -> Dataset:
    """Load OpenML dataset ``did`` from a folder of ``<did>-<name>.arff`` files."""
    file = _mirror_file(mirror, did)
    if file is None:
        raise FileNotFoundError(f"no file named {did}-<name>.arff in {mirror}")
    frame, last = read_table(file)
    column = target  # a target asked for must exist (split_target says so otherwise)
    if column is None:
        recorded = _mirror_target(mirror, file)
        column = recorded if recorded in frame.columns else last
    X, y = split_target(frame, str(column))
    # OpenML leaves a row-id attribute out of the data it serves; so does the mirror.
    X = drop_row_numbers(repr(str(file)), X)
    name = file.name.split("-", 1)[1].removesuffix(".gz").removesuffix(".arff")
    return make_dataset(
        X,
        y,
        name=name,
        source=f"openml:{did}",
        metadata={"openml_did": did, "target": column, "loaded_from": str(file)},
    )


def _fetch_from_openml(did: int) -> tuple[pd.DataFrame, str, str | None]:
    """The dataset's frame, name and default target, through the ``openml`` package."""
    openml = require("openml", "loading datasets through OpenML")

    # Feather, not openml's default pickle, for the local cache openml writes.
    dataset = openml.datasets.get_dataset(
        did,
        download_data=True,
        cache_format="feather",
        download_qualities=False,
        download_features_meta_data=False,
    )
    frame, _, _, _ = dataset.get_data(target=None)
    return frame, str(dataset.name), dataset.default_target_attribute


def load_openml_dataset(
    did: int, *, target: str | None = None, mirror: str | Path | None = None
) -> Dataset:
    """Load an OpenML dataset through the ``openml`` package, else from the local mirror."""
    try:
        frame, name, default_target = _fetch_from_openml(did)
    except Exception as openml_error:  # noqa: BLE001 - any OpenML failure moves on to the mirror
        mirror_dir = Path(mirror) if mirror is not None else openml_mirror_dir()
        if mirror_dir is not None and _mirror_file(mirror_dir, did) is not None:
            logger.warning(
                "OpenML unreachable for dataset %d (%s: %s); loading it from the mirror %s",
                did,
                type(openml_error).__name__,
                openml_error,
                mirror_dir,
            )
            return load_from_mirror(did, mirror_dir, target=target)
        where = (
            f"the mirror {mirror_dir} has no file named {did}-<name>.arff"
            if mirror_dir is not None
            else "no local mirror is configured"
        )
        raise ValueError(
            f"could not load OpenML dataset {did}: the openml package failed "
            f"({type(openml_error).__name__}: {openml_error}) and {where}. Fix: connect to "
            "openml.org (or point openml.config at a cache that holds it), or set "
            "METAOPT_OPENML_MIRROR / pass openml_mirror= to a folder of <did>-<name>.arff files."
        ) from openml_error
    # The data is here: a problem from now on is the request's, not OpenML's.
    column = target or default_target
    if column is None:
        raise ValueError(f"OpenML dataset {did} ({name}) has no default target; pass target=.")
    column = column.split(",")[0]
    X, y = split_target(frame, column)
    return make_dataset(
        X,
        y,
        name=name,
        source=f"openml:{did}",
        metadata={"openml_did": did, "target": column, "loaded_from": "openml"},
    )


def load_openml_task(
    tid: int, *, target: str | None = None, mirror: str | Path | None = None
) -> Dataset:
    """Load the dataset of an OpenML task (its target), falling back to the mirror offline."""
    try:
        openml = require("openml", "loading OpenML tasks through OpenML")
        task = openml.tasks.get_task(tid, download_splits=False)
        did, task_target = int(task.dataset_id), getattr(task, "target_name", None)
    except Exception as openml_error:  # noqa: BLE001 - any OpenML failure moves on to the mirror
        did_or_none = cc18_dataset_for_task(tid)
        if did_or_none is None:
            raise ValueError(
                f"could not load OpenML task {tid}: the openml package failed "
                f"({type(openml_error).__name__}: {openml_error}) and the task is not in the "
                "shipped OpenML-CC18 list, so its dataset id is unknown offline. Fix: connect to "
                "openml.org, or load the dataset directly with 'openml:<dataset id>'."
            ) from openml_error
        logger.warning(
            "OpenML unreachable for task %d (%s); using its dataset id %d from the shipped "
            "OpenML-CC18 list",
            tid,
            type(openml_error).__name__,
            did_or_none,
        )
        did, task_target = did_or_none, None
    dataset = load_openml_dataset(did, target=target or task_target, mirror=mirror)
    dataset.metadata["openml_tid"] = tid
    return dataset
