"""The resumable, parallel builder of a knowledge base.

Work is split into units: the metafeatures of one dataset, and the evaluations of one space on
one dataset at one fidelity. The **base** fidelity evaluates every configuration of the space's
fixed, seeded sample on at most ``max_rows`` rows (forests of ``base_n_trees`` trees); the
**full** fidelity evaluates a subset (the default, the best few at the base fidelity, and a
fixed random few; every configuration in the ``complete_full`` spaces) at the dataset's own
size up to ``full_max_rows`` rows with the space's user settings (100-tree forests), so the
knowledge records how the optimum moves with size. Each finished unit is written to its own
part file (atomically: temporary file, then rename) under ``<work_dir>/parts/``; a rerun skips
units whose part exists, so a build killed at any moment loses at most the units in flight and
never writes one twice. Units run through :class:`joblib.Parallel`, so the same code runs in
local processes or, inside ``joblib.parallel_backend("dask")``, on a Dask cluster. The parent
process loads each dataset once (lazily, as units are dispatched), caps its rows and writes
every part, so workers need no shared file system.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from metaopt import spaces as space_registry
from metaopt.datasets import Dataset
from metaopt.datasets._ids import separating_columns
from metaopt.exceptions import warn_fallback
from metaopt.knowledge._base import (
    RESERVED_COLUMNS,
    SCHEMA_VERSION,
    KnowledgeBase,
    normalise_parameter_column,
    write_json,
    write_parquet,
)
from metaopt.spaces import SearchSpace, cv_splits, evaluate, prepare
from metaopt.spaces._objective import (
    DEFAULT_METRIC,
    PROBABILITY_METRICS,
    SECONDARY_METRIC,
    _check_metric,
    check_probabilities,
)
from metaopt.spaces._registry import BUILT_IN, TASKS, registered_factory

logger = logging.getLogger("metaopt.knowledge")

#: Settings that must match between a build and its resumption.
_FIXED_SETTINGS = (
    "schema_version",
    "n_configs",
    "cv",
    "max_rows",
    "full_max_rows",
    "base_n_trees",
    "n_full_best",
    "n_full_random",
    "complete_full",
    "seed",
    "timeout",
    "metric",
)
#: Datasets loaded and evaluated together: base units first, then the full units that need
#: their results.
_CHUNK = 8


@dataclass(frozen=True)
class _Unit:
    kind: str  # "evaluate" or "metafeatures"
    dataset_id: str
    space: str | None
    path: Path
    fidelity: str = "base"
    # Rows of an earlier part of this unit that the result extends (a complete_full space).
    extends: bool = False


def dataset_id(dataset: Any) -> str:
    """A stable id such as ``"openml:31"`` or ``"pmlb:analcatdata_boxing1"``.

    Sources with a scheme (``openml:``, ``sklearn:``, ``keel:``) are kept; an OpenML task
    becomes its dataset; a file becomes ``<folder>:<name>``, except files of an OpenML mirror
    folder with a known dataset id, which become ``openml:<did>``.
    """
    source = str(getattr(dataset, "source", ""))
    name = str(getattr(dataset, "name", "") or "dataset")
    did = getattr(dataset, "dataset_id", None)
    if did is None:
        did = (getattr(dataset, "metadata", None) or {}).get("openml_did")
    if source.startswith(("openml:", "sklearn:", "keel:")):
        return source
    if source.startswith("openml-task:"):
        return f"openml:{did}" if did is not None else source
    folder = Path(source).parent.name or "local"
    if folder == "openml" and did is None:
        # OpenML mirror files are named "<did>-<name>.arff".
        match = re.match(r"(\d+)-", Path(source).name)
        did = match.group(1) if match else None
    if folder == "openml" and did is not None:
        return f"openml:{int(did)}"
    return f"{folder}:{name}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    number = isinstance(value, int | float | np.integer | np.floating)
    return number and not isinstance(value, bool | np.bool_) and math.isfinite(value)


def _safe_name(text: str) -> str:
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', text)[:80]}-{digest}"


def _as_dataset_map(datasets: Any) -> dict[str, Any]:
    """``{id: Dataset or loadable entry}`` from a mapping, a sequence or a suite."""
    if isinstance(datasets, Mapping):
        return {str(k): _as_item(v, key=str(k)) for k, v in datasets.items()}
    if isinstance(datasets, Dataset | str):
        datasets = [datasets]
    if isinstance(datasets, pd.DataFrame) or not hasattr(datasets, "__iter__"):
        raise TypeError(
            "datasets must be a list (or suite) of datasets or a mapping of id to dataset; "
            f"got {type(datasets).__name__}"
        )
    mapping: dict[str, Any] = {}
    for item in datasets:
        if isinstance(item, tuple):
            raise TypeError(
                "an (X, y) pair has no id of its own; pass a mapping such as "
                "{'my-data': (X, y)}, or metaopt.load_dataset((X, y), name=...) objects"
            )
        item = _as_item(item)
        key = dataset_id(item)
        if key in mapping:
            raise ValueError(f"two datasets share the id {key!r}; pass a mapping of unique ids")
        mapping[key] = item
    return mapping


def _as_item(item: Any, key: str | None = None) -> Any:
    """One dataset of a build: a Dataset, a suite entry, or an unloadable source string.

    Source strings (and, in a mapping, ``(X, y)`` pairs) are loaded here; one whose loading
    raises is kept as :class:`_Unloadable`, so the build records it as skipped.
    """
    if isinstance(item, str) or (key is not None and isinstance(item, tuple)):
        from metaopt.datasets import load_dataset

        try:
            if isinstance(item, tuple):
                return load_dataset(item, name=key)
            return load_dataset(item)
        except Exception as error:  # noqa: BLE001 -- skipped and recorded, like a suite entry
            return _Unloadable(item if isinstance(item, str) else str(key), error)
    if isinstance(item, pd.DataFrame):
        raise TypeError(
            "a DataFrame needs its target column: pass metaopt.load_dataset(frame, "
            "target='<column>') instead"
        )
    if not isinstance(item, Dataset) and not hasattr(item, "load"):
        raise TypeError(
            "datasets must be Dataset objects, suite entries (with .load()), source "
            "strings, or a mapping of id to those (or to (X, y) pairs); got "
            f"{type(item).__name__}"
        )
    return item


class _Unloadable:
    """A source string that could not be loaded: the build records it as skipped."""

    def __init__(self, source: str, error: Exception) -> None:
        self.source, self.error = source, error
        name = Path(source).name
        self.name = name.split(".")[0] if "." in name and ":" not in source else source

    def load(self) -> Dataset:
        raise self.error


def _resolve_spaces(spaces: Any) -> list[str]:
    names = [spaces] if isinstance(spaces, str | SearchSpace) else list(spaces)
    resolved = []
    for name in names:
        key = name.name if isinstance(name, SearchSpace) else str(name)
        if key not in space_registry.names():
            raise ValueError(
                f"unknown space {key!r}; registered: {space_registry.names()} "
                "(register a custom one with metaopt.spaces.register)"
            )
        if key not in resolved:
            resolved.append(key)
    return resolved


def configurations(space: SearchSpace, n_configs: int, seed: int) -> list[dict[str, Any]]:
    """Config 0 is the space's default, then ``n_configs - 1`` seeded Sobol configurations.

    The same configurations are used on every dataset, so scores compare across datasets; a
    larger ``n_configs`` extends the same sequence (the first 64 of 128 are the 64).
    """
    return [dict(space.default), *space.sample(n_configs - 1, seed=seed)]


def full_fidelity_ids(
    base: pd.DataFrame, n_configs: int, n_best: int, n_random: int, seed: int
) -> list[int]:
    """The configurations a dataset's full-size unit evaluates, from its base-fidelity part.

    The default (config 0), the ``n_best`` best at the base fidelity, and ``n_random`` fixed
    random ones (the same ids on every dataset), without repeats.
    """
    ok = base[base["status"] == "ok"].sort_values(["score", "config_id"], ascending=[False, True])
    rng = np.random.default_rng(seed)
    fixed = rng.choice(np.arange(1, n_configs), size=min(n_random, n_configs - 1), replace=False)
    ids = [0, *ok["config_id"].head(n_best).astype(int), *sorted(int(i) for i in fixed)]
    return list(dict.fromkeys(ids))


def _check_complete_full(spaces: Any) -> list[str]:
    """``complete_full`` as a sorted list of space names."""
    if isinstance(spaces, str) or not isinstance(spaces, Sequence | set | frozenset):
        raise TypeError(
            f"complete_full must be a sequence of space names, e.g. ['hist_gradient_boosting'], "
            f"got {spaces!r}"
        )
    names = sorted({str(s) for s in spaces})
    unknown = [s for s in names if s not in space_registry.names()]
    if unknown:
        raise ValueError(
            f"complete_full names unknown spaces {unknown}; known: {space_registry.names()}"
        )
    return names


def n_configs_for(n_configs: int | Mapping[str, int], space: str) -> int:
    """Configurations per dataset of ``space`` (an int for all spaces or a mapping)."""
    count = n_configs
    if isinstance(n_configs, Mapping):
        if space not in n_configs:
            raise ValueError(f"n_configs names no count for space {space!r}: {dict(n_configs)}")
        count = n_configs[space]
    if not isinstance(count, int | np.integer) or isinstance(count, bool):
        raise TypeError(f"n_configs must be an int (or a mapping of ints), got {count!r}")
    return int(count)


def _library_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for package in ("metaopt-hpo", "scikit-learn", "numpy", "pandas", "scipy", "optuna", "torch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _evaluate_unit(
    dataset_key: str,
    data: Dataset,
    space_name: str,
    config_ids: list[int],
    settings: Mapping[str, Any],
    fidelity: str,
    factory: Callable[[str], SearchSpace] | None = None,
) -> pd.DataFrame:
    """Evaluate configurations of one space on one (prepared) dataset; runs in a worker.

    ``factory`` is the registered factory of a space that is not built in, registered in the
    worker before use.
    """
    seed, cv = settings["seed"], settings["cv"]
    metric = settings["metric"][data.task]
    with threadpool_limits(1):
        if space_name == "mlp":
            import torch

            torch.set_num_threads(1)
        if factory is not None:  # a user's space: worker processes have their own registry
            space_registry.register(space_name, factory)
        space = space_registry.get(space_name, data.task)
        if "n_trees" in space.fidelity and fidelity == "base":
            space = space.with_fidelity(n_trees=settings["base_n_trees"])
        n_trees = space.fidelity.get("n_trees", math.nan)
        splits = cv_splits(data.y, data.task, cv, seed)
        cache: dict[Any, Any] = {}
        rows = []
        all_configs = configurations(space, n_configs_for(settings["n_configs"], space_name), seed)
        for config_id in config_ids:
            params = all_configs[config_id]
            result = evaluate(
                space,
                data.X,
                data.y,
                params,
                splits,
                metric=metric,
                timeout=settings["timeout"],
                cache=cache,
            )
            rows.append(
                {
                    "dataset": dataset_key,
                    "fingerprint": data.metadata.get("fingerprint", ""),
                    "task": data.task,
                    "space": space_name,
                    "config_id": config_id,
                    "params": json.dumps(params, sort_keys=True),
                    "score": result.score,
                    "fold_scores": result.fold_scores,
                    "metric": metric,
                    "secondary_score": result.secondary_score,
                    "fit_time": result.fit_time,
                    "status": result.status,
                    "error": result.error,
                    "source": "builder",
                    "fidelity": fidelity,
                    "n_rows": int(len(data.y)),
                    "n_trees": float(n_trees),
                    **params,
                }
            )
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column not in RESERVED_COLUMNS:
            frame[column] = normalise_parameter_column(frame[column])
    return frame


def _metafeature_unit(dataset_key: str, data: Dataset) -> pd.DataFrame:
    """The metafeatures of one dataset as loaded, as a one-row frame indexed by ``dataset``."""
    from metaopt.metafeatures import describe_dataset

    with threadpool_limits(1):
        values = describe_dataset(data)
    frame = pd.DataFrame([values.astype(float).to_numpy()], columns=list(values.index))
    frame.index = pd.Index([dataset_key], name="dataset")
    return frame


def _run_unit(
    unit: _Unit,
    data: Dataset,
    settings: dict[str, Any],
    config_ids: list[int] | None,
    factory: Callable[[str], SearchSpace] | None = None,
) -> tuple[_Unit, Any, float]:
    start = time.perf_counter()
    try:
        # A unit is one worker's work: joblib calls inside it (a pipeline's column
        # transformer) run in its own thread, not on the build's backend (on a Dask worker
        # they would go back to the cluster, which older Dask releases cancel).
        with joblib.parallel_config(backend="sequential"):
            if unit.kind == "metafeatures":
                result: Any = _metafeature_unit(unit.dataset_id, data)
            else:
                ids = config_ids
                if ids is None:
                    ids = list(range(n_configs_for(settings["n_configs"], str(unit.space))))
                result = _evaluate_unit(
                    unit.dataset_id, data, str(unit.space), ids, settings, unit.fidelity, factory
                )
    except Exception as exc:  # noqa: BLE001 -- reported per unit; the build goes on
        result = exc
    return unit, result, time.perf_counter() - start


class _Layout:
    """Where a build keeps its parts."""

    def __init__(self, work_dir: Path) -> None:
        self.root = work_dir
        self.evaluations = work_dir / "parts" / "evaluations"
        self.metafeatures = work_dir / "parts" / "metafeatures"
        self.datasets = work_dir / "parts" / "datasets"
        self.failures = work_dir / "parts" / "unit_failures"
        self.settings = work_dir / "build.json"
        self.known_groups = work_dir / "known_groups.json"

    def evaluation_part(self, key: str, space: str, fidelity: str = "base") -> Path:
        suffix = "" if fidelity == "base" else f"__{fidelity}"
        return self.evaluations / f"{_safe_name(key)}__{space}{suffix}.parquet"

    def metafeature_part(self, key: str) -> Path:
        return self.metafeatures / f"{_safe_name(key)}.parquet"

    def dataset_part(self, key: str) -> Path:
        return self.datasets / f"{_safe_name(key)}.json"


def _check_settings(layout: _Layout, settings: dict[str, Any], space_names: list[str]) -> None:
    """Refuse settings other than those of the build in ``layout``; record them for a new one.

    ``n_configs`` is compared per space: a rerun that adds a space with its own count (a
    mapping naming it) extends the build, and the record gains that space's count.
    ``complete_full`` may name more spaces than the record (a build made before it existed
    recorded none); the record keeps every space ever named.
    """
    if not layout.settings.is_file():
        write_json({k: settings[k] for k in _FIXED_SETTINGS}, layout.settings)
        return
    previous = json.loads(layout.settings.read_text())
    complete = sorted({*previous.get("complete_full", []), *settings["complete_full"]})
    settings["complete_full"] = complete  # a rerun naming fewer still completes the others
    changed = {
        k: (previous.get(k), settings.get(k))
        for k in _FIXED_SETTINGS
        if k not in ("n_configs", "complete_full") and previous.get(k) != settings.get(k)
    }
    counts = _merged_counts(layout, previous.get("n_configs"), settings["n_configs"], space_names)
    if counts is None:
        changed["n_configs"] = (previous.get("n_configs"), settings["n_configs"])
    if changed:
        raise ValueError(
            f"{layout.root} holds a build with other settings {changed} (was, now); resume "
            "with the same settings or use a new work_dir"
        )
    if counts != previous.get("n_configs") or complete != previous.get("complete_full", []):
        write_json({**previous, "n_configs": counts, "complete_full": complete}, layout.settings)


def _merged_counts(
    layout: _Layout, previous: Any, now: int | dict[str, int], space_names: list[str]
) -> Any:
    """The ``n_configs`` record of a build extended by a run with ``now``; ``None`` on conflict.

    A space's count may not change once the record has it (a mapping naming it, or one count
    for every space that has parts); spaces new to the build add theirs.
    """
    if previous == now:
        return previous
    spaces = list(dict.fromkeys([*space_names, *_mapping_keys(now)]))
    if isinstance(previous, Mapping):
        recorded = {str(k): int(v) for k, v in previous.items()}
    elif _is_int(previous):
        recorded = {s: int(previous) for s in _built_spaces(layout, spaces)}
    else:  # a build.json from elsewhere: nothing to extend
        return None
    wanted = {s: n_configs_for(now, s) for s in spaces}
    if any(recorded.get(s, count) != count for s, count in wanted.items()):
        return None
    if not recorded:  # nothing evaluated yet: the new count is the build's
        return now
    if _is_int(previous) and all(count == previous for count in wanted.values()):
        return previous  # still one count for every space
    return dict(sorted({**recorded, **wanted}.items()))


def _mapping_keys(n_configs: int | Mapping[str, int]) -> list[str]:
    """The spaces an ``n_configs`` mapping names (none for one count)."""
    return [str(k) for k in n_configs] if isinstance(n_configs, Mapping) else []


def _built_spaces(layout: _Layout, candidates: list[str]) -> list[str]:
    """The spaces among ``candidates`` and the registered ones with a part in ``layout``."""
    names = dict.fromkeys([*candidates, *space_registry.names()])
    return [
        s
        for s in names
        if next(layout.evaluations.glob(f"*__{s}.parquet"), None) is not None
        or next(layout.evaluations.glob(f"*__{s}__full.parquet"), None) is not None
    ]


def build(
    datasets: Any,
    spaces: Any,
    *,
    n_configs: int | Mapping[str, int] = 64,
    work_dir: str | Path,
    output: str | Path | None = None,
    cv: int = 3,
    max_rows: int | None = 2000,
    full_max_rows: int | None = 10_000,
    base_n_trees: int = 16,
    n_full_best: int = 4,
    n_full_random: int = 4,
    complete_full: Sequence[str] = (),
    seed: int = 0,
    timeout: float | None = 600.0,
    metric: Mapping[str, str] | None = None,
    metafeatures: bool = True,
    n_jobs: int | None = None,
    budget_s: float | None = None,
    progress: bool = True,
    command: str | None = None,
    known_groups: Mapping[str, str] | None = None,
    drop_columns: Mapping[str, Sequence[str]] | None = None,
) -> KnowledgeBase:
    """Evaluate seeded configurations of spaces on datasets at two fidelities.

    Resumable: finished units are kept under ``work_dir`` and skipped by a rerun with the same
    settings (other settings are refused); a part file that cannot be read (a build killed
    while writing it) is redone. Parallel: units go through :class:`joblib.Parallel` with
    ``n_jobs``; inside ``joblib.parallel_backend("dask")`` they run on the Dask cluster. A
    configuration that fails or times out is recorded with its status, never dropped; a dataset
    whose loading raises anything is recorded as skipped with its error; a unit that fails as a
    whole is logged, recorded under ``parts/unit_failures`` and retried by the next run. A run
    that left datasets or units out ends with a :class:`~metaopt.exceptions.FallbackWarning`
    naming them.

    Args:
        datasets: :class:`~metaopt.datasets.Dataset` objects, suite entries (anything with a
            ``.load()``, loaded lazily), source strings, or a mapping of id to any of those or
            to ``(X, y)`` pairs. A DataFrame needs its target named first
            (``metaopt.load_dataset(frame, target=...)``).
        spaces: Space names (or :class:`~metaopt.spaces.SearchSpace` of registered names); a
            space registered with :func:`metaopt.spaces.register` has its factory sent to the
            worker processes. A name given twice is evaluated once.
        n_configs: Configurations per (dataset, space) at the base fidelity, the default
            included: one count, or a mapping of space name to count. A rerun may add spaces
            with their own count; a space's count is fixed once it has results.
        work_dir: Folder of the resumable parts (``~`` is expanded).
        output: When given, the consolidated knowledge base is also saved there.
        cv: Folds of the fixed, seeded (stratified) cross-validation.
        max_rows: Row cap of the base fidelity (stratified seeded subsample); ``None``: no cap.
        full_max_rows: Row cap of the full fidelity; ``None``: no cap. Datasets no larger than
            ``max_rows`` get a full unit only for spaces with a cheaper base setting (forests).
        base_n_trees: Trees per forest at the base fidelity (the full fidelity uses the
            space's own setting, 100).
        n_full_best: Best base configurations re-evaluated at full size.
        n_full_random: Fixed random configurations re-evaluated at full size.
        complete_full: Spaces whose full unit evaluates every base configuration, so that
            meta-models can learn from the dataset at its own size. A rerun may add spaces; a
            finished full part of a space added is extended with the configurations it lacks.
        seed: Seed of the subsample, the splits and the Sobol sequence.
        timeout: Safety limit in seconds per configuration (all folds); ``None``: no limit.
            Set it far above the normal cost: a configuration that hits it is recorded as
            ``timeout``, which on a loaded machine can happen to one that would finish.
        metric: Primary metric per task, default ``balanced_accuracy`` / ``r2``.
        metafeatures: Also describe every dataset (on the data as loaded, with
            :func:`metaopt.metafeatures.describe_dataset`).
        n_jobs: Parallel workers (joblib semantics; ``None`` follows the active backend).
        budget_s: Stop dispatching new datasets after this many seconds (units in flight
            finish); a rerun continues with the rest. Only decides how much of the build a run
            does, never a recorded value.
        progress: Show a progress bar with counts.
        command: The command line recorded in the provenance.
        known_groups: Each dataset's group among a larger set of candidates (dataset id to
            group name, as :func:`metaopt.datasets.group_datasets` found them, copies that are
            not built included). Datasets of one known group are one group of the knowledge
            base even when the copies that join them are not in it. Kept in ``work_dir`` and
            merged with what earlier runs recorded.
        drop_columns: Feature columns to leave out, by dataset id: identifiers that give the
            labels away, as OpenML's ignored attributes do (``{"pmlb:clean1":
            ["molecule_name", "conformation_name"]}``); recorded in the dataset's provenance.
            A classification dataset with a column that alone gives its classes (a copy of the
            target, or a numeric column along which each class is one run) is logged as a hint
            and recorded as ``separating_columns``.

    Returns:
        The knowledge base of everything in ``work_dir`` (this run's units and earlier ones).

    Raises:
        ValueError: an invalid setting (checked before anything is written to ``work_dir``),
            an unknown space, a metric a space cannot compute (``roc_auc`` for ``svm``),
            settings that differ from the build already in ``work_dir``, two datasets with
            one id, or an id whose results in ``work_dir`` were made on other data (another
            content fingerprint).
        TypeError: datasets or a ``metric`` of an unsupported type.
    """
    # Every setting is checked before anything is written: build.json fixes the settings of
    # the work directory, and parts made with a wrong one would be kept by every rerun.
    if not _is_int(cv) or cv < 2:
        raise ValueError(f"cv must be an int >= 2 (the number of folds), got {cv!r}")
    layout = _Layout(Path(work_dir).expanduser())
    space_names = _resolve_spaces(spaces)
    for space in space_names:
        count = n_configs_for(n_configs, space)
        if count < 1:
            raise ValueError(f"n_configs must be positive, got {count!r} for space {space!r}")
    for name, value, low in (
        ("max_rows", max_rows, 1),
        ("full_max_rows", full_max_rows, 1),
        ("base_n_trees", base_n_trees, 1),
        ("n_full_best", n_full_best, 0),
        ("n_full_random", n_full_random, 0),
        ("seed", seed, 0),
    ):
        optional = name in ("max_rows", "full_max_rows")
        if not ((optional and value is None) or (_is_int(value) and value >= low)):
            kind = "a positive int" if low else "a non-negative int"
            accepted = f"{kind} or None" if optional else kind
            raise ValueError(f"{name} must be {accepted}; got {value!r}")
    if max_rows is not None and full_max_rows is not None and full_max_rows < max_rows:
        raise ValueError(
            f"full_max_rows ({full_max_rows!r}) must be at least max_rows ({max_rows!r}): the "
            "full fidelity evaluates at least as many rows as the base one"
        )
    if timeout is not None and not (_is_number(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None; got {timeout!r}")
    if budget_s is not None and not (_is_number(budget_s) and budget_s >= 0):
        raise ValueError(f"budget_s must be a number of seconds >= 0 or None; got {budget_s!r}")
    if metric is not None and not isinstance(metric, Mapping):
        raise TypeError(
            f"metric maps each task to its metric, e.g. {{'classification': 'accuracy'}}; got "
            f"{type(metric).__name__} {metric!r}"
        )
    unknown_tasks = sorted(set(metric or {}) - set(TASKS))
    if unknown_tasks:
        raise ValueError(f"metric names unknown tasks {unknown_tasks}; accepted: {list(TASKS)}")
    settings: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "n_configs": dict(n_configs) if isinstance(n_configs, Mapping) else n_configs,
        "cv": int(cv),
        "max_rows": None if max_rows is None else int(max_rows),
        "full_max_rows": None if full_max_rows is None else int(full_max_rows),
        "base_n_trees": int(base_n_trees),
        "n_full_best": int(n_full_best),
        "n_full_random": int(n_full_random),
        "complete_full": _check_complete_full(complete_full),
        "seed": int(seed),
        "timeout": timeout,
        "metric": {**DEFAULT_METRIC, **(metric or {})},
    }
    for task, name in settings["metric"].items():
        _check_metric(name, task)
        if name in PROBABILITY_METRICS:  # only spaces with predict_proba can give it
            for space in space_names:
                check_probabilities(space_registry.get(space, task), name)
    dataset_map = _as_dataset_map(datasets)
    drop = _check_drop_columns(drop_columns, dataset_map)
    for key, item in dataset_map.items():
        if isinstance(item, Dataset):  # loaded already: its data is checked before any work
            _check_same_data(layout, key, _without_columns(key, item, drop.get(key, ())))
    _check_settings(layout, settings, space_names)
    if known_groups:
        path = layout.known_groups
        recorded = json.loads(path.read_text()) if path.is_file() else {}
        write_json(dict(sorted({**recorded, **known_groups}.items())), layout.known_groups)
    keys = list(dataset_map)
    start = time.perf_counter()
    total = len(keys) * (len(space_names) * 2 + int(metafeatures))
    bar = tqdm(total=total, desc="knowledge units", unit="unit", disable=not progress)
    counts = {"configs": 0, "failed": 0, "unit_errors": 0}
    unusable: dict[str, str] = {}  # datasets this run could not load: id -> error
    parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    with _stops_workers_on_terminate():
        for first in range(0, len(keys), _CHUNK):
            if budget_s is not None and time.perf_counter() - start > budget_s:
                logger.info("budget of %.0f s spent; stopping before %s", budget_s, keys[first])
                break
            chunk = keys[first : first + _CHUNK]
            loader = _ChunkLoader(dataset_map, layout, settings, unusable, drop)
            phases = (
                _base_tasks(chunk, loader, layout, space_names, metafeatures, settings, bar),
                _full_tasks(chunk, loader, layout, space_names, settings, bar),
            )
            for phase in phases:  # the full units read the base parts: strictly after them
                for unit, result, seconds in parallel(phase):
                    _store(layout, unit, result, seconds, counts)
                    bar.update(1)
                    bar.set_postfix(counts, refresh=False)
    bar.close()
    elapsed = time.perf_counter() - start
    logger.info("build run of %.0f s (%s)", elapsed, counts)
    _warn_incomplete(unusable, counts["unit_errors"], layout)
    kb = consolidate(layout.root, command=command, wall_time_s=elapsed)
    if output is not None:
        kb.validate(require_metafeatures=metafeatures).save(output)
    return kb


@contextmanager
def _stops_workers_on_terminate() -> Iterator[None]:
    """Turn SIGTERM into an exception while building, so joblib stops its worker processes.

    Python's default for SIGTERM ends the parent at once and leaves the worker processes
    running; raised as :class:`SystemExit` inside the loop, joblib's generator aborts and
    terminates them like on Ctrl-C. Parts already written stay, so a rerun resumes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _warn_incomplete(unusable: Mapping[str, str], unit_errors: int, layout: _Layout) -> None:
    """Say, as a :class:`~metaopt.exceptions.FallbackWarning`, what a build run left out.

    Each skipped dataset and failed unit is logged as it happens; without logging configured
    a user would otherwise get a smaller knowledge base without a word.
    """
    said = []
    if unusable:
        listing = "; ".join(f"{k!r}: {e}" for k, e in list(unusable.items())[:3])
        more = f" and {len(unusable) - 3} more" if len(unusable) > 3 else ""
        said.append(
            f"{len(unusable)} datasets could not be loaded and were not evaluated in this run "
            f"({listing}{more}); skipped ones are recorded in provenance['datasets']"
        )
    if unit_errors:
        said.append(
            f"{unit_errors} units failed as a whole (recorded under {layout.failures}); a "
            "rerun retries them"
        )
    if said:
        warn_fallback(logger, "knowledge build: " + "; ".join(said), stacklevel=4)


class _ChunkLoader:
    """Loads each dataset of a chunk once, on first need (``None`` when it is unusable)."""

    def __init__(
        self,
        dataset_map: dict[str, Any],
        layout: _Layout,
        settings: Any,
        unusable: dict[str, str],
        drop: Mapping[str, list[str]],
    ) -> None:
        self.dataset_map, self.layout, self.settings = dataset_map, layout, settings
        self.unusable, self.drop = unusable, drop
        self.loaded: dict[str, tuple[Dataset, Dataset, Dataset] | None] = {}

    def __call__(self, key: str) -> tuple[Dataset, Dataset, Dataset] | None:
        if key not in self.loaded:
            self.loaded[key] = _load_prepared(
                key,
                self.dataset_map[key],
                self.layout,
                self.settings,
                self.unusable,
                self.drop.get(key, []),
            )
        return self.loaded[key]


def _base_tasks(
    chunk: list[str],
    loader: _ChunkLoader,
    layout: _Layout,
    space_names: list[str],
    metafeatures: bool,
    settings: dict[str, Any],
    bar: Any,
) -> Iterator[Any]:
    for key in chunk:
        units = _base_units(layout, key, space_names, metafeatures)
        todo = [u for u in units if _needs_run(u.path)]
        bar.update(len(units) - len(todo))
        if not todo:
            if _stale_sketch(layout, key):
                loader(key)  # loading records the facts again, with a current sketch
            continue
        data = loader(key)
        if data is None:
            bar.update(len(todo))
            continue
        original, base, _ = data
        for unit in todo:
            source = original if unit.kind == "metafeatures" else base
            factory = None if unit.space is None else _custom_factory(unit.space)
            yield joblib.delayed(_run_unit)(unit, source, settings, None, factory)


def _full_tasks(
    chunk: list[str],
    loader: _ChunkLoader,
    layout: _Layout,
    space_names: list[str],
    settings: dict[str, Any],
    bar: Any,
) -> Iterator[Any]:
    for key in chunk:
        for space in space_names:
            part = layout.evaluation_part(key, space, "full")
            base_part = layout.evaluation_part(key, space)
            complete = space in settings["complete_full"]
            done = not _needs_run(part)
            if (done and not complete) or _needs_run(base_part):
                bar.update(1)
                continue
            n_configs = n_configs_for(settings["n_configs"], space)
            if complete:
                ids = list(range(n_configs))
            else:
                ids = full_fidelity_ids(
                    pd.read_parquet(base_part, columns=["config_id", "score", "status"]),
                    n_configs,
                    settings["n_full_best"],
                    settings["n_full_random"],
                    settings["seed"],
                )
            if done:  # a part of a space made complete later: evaluate only what it lacks
                have = set(pd.read_parquet(part, columns=["config_id"])["config_id"])
                ids = [i for i in ids if i not in have]
                if not ids:
                    bar.update(1)
                    continue
            data = loader(key)
            if data is None or not _full_differs(data, space):
                bar.update(1)
                continue
            unit = _Unit("evaluate", key, space, part, "full", extends=done)
            yield joblib.delayed(_run_unit)(unit, data[2], settings, ids, _custom_factory(space))


def _custom_factory(space: str) -> Callable[[str], SearchSpace] | None:
    """The registered factory of a space that is not built in (``None`` for built-in ones)."""
    return None if space in BUILT_IN else registered_factory(space)


def _base_units(
    layout: _Layout, key: str, space_names: list[str], metafeatures: bool
) -> list[_Unit]:
    units = [
        _Unit("evaluate", key, space, layout.evaluation_part(key, space)) for space in space_names
    ]
    if metafeatures:
        units.append(_Unit("metafeatures", key, None, layout.metafeature_part(key)))
    return units


def _resketch_if_stale(part: Path) -> None:
    """Record a current sketch for a finished dataset whose recorded one is of an older sketch
    version, loading it again from its recorded source (a dataset a rerun no longer selects,
    such as one now known to be a copy of another, keeps its parts and needs its group)."""
    from metaopt.datasets import SuiteEntry
    from metaopt.datasets._groups import SKETCH_VERSION

    facts = json.loads(part.read_text())
    sketch, source = facts.get("sketch"), facts.get("source")
    if sketch is None or sketch.get("version") == SKETCH_VERSION or not source:
        return
    if source.startswith("$METAOPT_SHARED/"):
        from metaopt._settings import shared_dir

        source = str(shared_dir() / source.removeprefix("$METAOPT_SHARED/"))
    try:
        dataset = SuiteEntry(source=source, name=str(facts.get("name") or source)).load()
    except Exception as exc:  # noqa: BLE001 -- its group stays unknown; say why
        logger.warning("could not reload %s to resketch it: %s", facts.get("dataset"), exc)
        return
    facts["sketch"] = _sketch(dataset)
    write_json(facts, part)


def _stale_sketch(layout: _Layout, key: str) -> bool:
    """Whether a finished dataset's recorded sketch is of an older sketch version (its group
    could not be found), so that a rerun records it again."""
    from metaopt.datasets._groups import SKETCH_VERSION

    part = layout.dataset_part(key)
    if not part.is_file():
        return True
    facts = json.loads(part.read_text())
    sketch = facts.get("sketch")
    if "skipped" in facts or sketch is None:
        return False
    return sketch.get("version") != SKETCH_VERSION


def _needs_run(path: Path) -> bool:
    """Whether a part is missing, or unreadable (a build killed mid-write): then redo it."""
    if not path.is_file():
        return True
    try:
        pq.read_metadata(path)
    except Exception as exc:  # noqa: BLE001 -- pyarrow raises several types for a damaged file
        logger.warning("redoing the damaged part %s (%s)", path.name, exc)
        path.unlink()
        return True
    return False


def _full_differs(data: tuple[Dataset, Dataset, Dataset], space: str) -> bool:
    """Whether the full fidelity of ``space`` differs from its base one on this dataset."""
    _, base, full = data
    if len(full.y) > len(base.y):
        return True
    return "n_trees" in space_registry.get(space, full.task).fidelity


def _portable_source(source: str) -> str:
    """``source`` without machine paths: shared files relative to the shared folder."""
    path = Path(source)
    if not path.is_absolute():
        return source
    from metaopt._settings import shared_dir

    try:
        return f"$METAOPT_SHARED/{path.resolve().relative_to(shared_dir().resolve())}"
    except ValueError:
        return path.name


def _load_prepared(
    key: str,
    item: Any,
    layout: _Layout,
    settings: dict[str, Any],
    unusable: dict[str, str] | None = None,
    drop: Sequence[str] = (),
) -> tuple[Dataset, Dataset, Dataset] | None:
    """The dataset as loaded (without the ``drop`` columns), at the base and at the full row
    cap, and its recorded facts.

    ``None`` (logged, recorded as skipped and added to ``unusable``) when loading or preparing
    raises anything; a dataset an earlier run loaded keeps its recorded facts.

    Raises:
        ValueError: the work directory holds results of ``key`` made on other data.
    """
    try:
        dataset = item if isinstance(item, Dataset) else item.load()
        dataset = _without_columns(key, dataset, drop)
        fingerprint = dataset.fingerprint
        cv, seed = settings["cv"], settings["seed"]
        base = prepare(dataset, max_rows=settings["max_rows"], cv=cv, seed=seed)
        full = prepare(dataset, max_rows=settings["full_max_rows"], cv=cv, seed=seed)
        sketch = _sketch(dataset)
    except Exception as exc:  # noqa: BLE001 -- a dataset that cannot be used is data, not fatal
        if unusable is not None:
            unusable[key] = f"{type(exc).__name__}: {exc}"
        if "fingerprint" in _recorded_facts(layout, key):
            # Loaded by an earlier run: its parts and facts (its group) stay; only the units
            # this run would add wait for a run that can load it.
            logger.warning(
                "could not load dataset %s (%s: %s); its finished units stay, its remaining "
                "units wait for a run that can load it",
                key,
                type(exc).__name__,
                exc,
            )
            return None
        logger.warning("skipping dataset %s: %s", key, exc)
        write_json(
            {"dataset": key, "skipped": f"{type(exc).__name__}: {exc}"}, layout.dataset_part(key)
        )
        return None
    _check_same_data(layout, key, dataset, fingerprint)
    for data in (base, full):
        data.metadata["fingerprint"] = fingerprint
    facts = {
        "dataset": key,
        "name": dataset.name,
        "source": _portable_source(str(dataset.source)),
        "fingerprint": fingerprint,
        "task": dataset.task,
        "n_rows": dataset.shape[0],
        "n_rows_used": base.shape[0],
        "n_rows_full": full.shape[0],
        "n_features": dataset.shape[1],
        "n_classes": base.n_classes,
        "dropped_classes": base.metadata.get("dropped_classes", []),
        "sketch": sketch,
    }
    if drop:
        facts["dropped_columns"] = list(drop)
    separating = []
    if dataset.task == "classification":
        separating = separating_columns(dataset.X, dataset.y)
    if separating:
        facts["separating_columns"] = separating
        logger.warning(
            "dataset %s: columns %s alone separate the classes; if they copy the target or "
            "identify rows or objects (a name coded as a number, the row number of a file "
            "sorted by class), they give the labels away: leave them out with drop_columns=",
            key,
            separating[:10],
        )
    write_json(facts, layout.dataset_part(key))
    return dataset, base, full


def _check_drop_columns(
    drop_columns: Mapping[str, Sequence[str]] | None, dataset_map: Mapping[str, Any]
) -> dict[str, list[str]]:
    """``drop_columns`` as ``{dataset id: [column, ...]}``, checked against the datasets."""
    if drop_columns is None:
        return {}
    if not isinstance(drop_columns, Mapping):
        raise TypeError(
            "drop_columns maps dataset ids to the columns to leave out, e.g. "
            f"{{'pmlb:clean1': ['molecule_name']}}; got {type(drop_columns).__name__}"
        )
    checked: dict[str, list[str]] = {}
    for key, columns in drop_columns.items():
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise TypeError(
                f"drop_columns[{key!r}] must be a list of column names; got {columns!r}"
            )
        checked[str(key)] = list(columns)
    unknown = sorted(set(checked) - set(dataset_map))
    if unknown:
        raise ValueError(
            f"drop_columns names datasets {unknown} that are not among the {len(dataset_map)} "
            f"datasets of this build (ids such as {list(dataset_map)[:3]})"
        )
    return checked


def _without_columns(key: str, dataset: Dataset, columns: Sequence[str]) -> Dataset:
    """``dataset`` without the feature ``columns`` (all of which it must have)."""
    if not columns:
        return dataset
    missing = [c for c in columns if c not in dataset.X.columns]
    if missing:
        raise ValueError(
            f"drop_columns[{key!r}] names columns {missing} that the dataset does not have "
            f"(its columns: {list(map(str, dataset.X.columns[:20]))})"
        )
    return replace(
        dataset,
        X=dataset.X.drop(columns=list(columns)),
        metadata={**dataset.metadata, "dropped_columns": list(columns)},
    )


def _recorded_facts(layout: _Layout, key: str) -> dict[str, Any]:
    """What an earlier run recorded about dataset ``key`` (empty when nothing)."""
    part = layout.dataset_part(key)
    return json.loads(part.read_text()) if part.is_file() else {}


def _check_same_data(
    layout: _Layout, key: str, dataset: Dataset, fingerprint: str | None = None
) -> None:
    """Raise ``ValueError`` when the parts of ``key`` in ``layout`` were made on other data.

    A rerun that gave an id to changed data would otherwise keep the earlier results and add
    new ones of the changed data under the same id.
    """
    facts = _recorded_facts(layout, key)
    recorded = facts.get("fingerprint")
    if recorded is None:
        return
    name = _safe_name(key)
    parts = [
        *layout.evaluations.glob(f"{name}__*.parquet"),
        *layout.metafeatures.glob(f"{name}.parquet"),
    ]
    if not parts:
        return
    fingerprint = dataset.fingerprint if fingerprint is None else fingerprint
    if fingerprint == recorded:
        return
    raise ValueError(
        f"{layout.root} holds results of dataset {key!r} made on other data (fingerprint "
        f"{recorded}, {facts.get('n_rows')} rows, source {facts.get('source')!r}); the data "
        f"given now has fingerprint {fingerprint} ({dataset.shape[0]} rows). Give the changed "
        f"data a new id (a mapping such as {{'{key}-v2': data}}), or delete the files named "
        f"{name}* under {layout.root / 'parts'} to evaluate it again"
    )


def _sketch(dataset: Dataset) -> Any:
    """The dataset's content sketch for group detection (``None`` where unavailable)."""
    from metaopt import datasets

    sketch_dataset = getattr(datasets, "sketch_dataset", None)
    if sketch_dataset is None:
        return None
    record = sketch_dataset(dataset).to_dict()
    if isinstance(record.get("source"), str):  # no machine paths in what the build keeps
        record["source"] = _portable_source(record["source"])
    return record


def _store(
    layout: _Layout, unit: _Unit, result: Any, seconds: float, counts: dict[str, int]
) -> None:
    if isinstance(result, BaseException):
        counts["unit_errors"] += 1
        logger.warning("unit %s/%s failed: %r", unit.dataset_id, unit.space or unit.kind, result)
        record = {
            "dataset": unit.dataset_id,
            "unit": unit.space or unit.kind,
            "fidelity": unit.fidelity,
            "error": f"{type(result).__name__}: {result}",
            "time": datetime.now(UTC).isoformat(),
        }
        write_json(record, layout.failures / f"{unit.path.stem}.json")
        return
    rows = result
    if unit.extends:  # the earlier rows stay as they were; the new ones join them
        earlier = pd.read_parquet(unit.path)
        rows = pd.concat([earlier, result], ignore_index=True).sort_values(
            "config_id", kind="stable", ignore_index=True
        )
    write_parquet(rows, unit.path)
    # A unit that failed in an earlier run and succeeded now: its failure record is history.
    (layout.failures / f"{unit.path.stem}.json").unlink(missing_ok=True)
    if unit.kind == "evaluate":
        counts["configs"] += len(result)
        counts["failed"] += int((result["status"] != "ok").sum())


def _source_collection(source: str) -> str:
    """Where a dataset came from, without its own name: a folder or a scheme."""
    if ":" in source and not source.startswith("$"):
        return source.split(":", 1)[0]
    return str(Path(source).parent)


def _known_links(layout: _Layout, sketches: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Pairs of built datasets that share a group recorded in ``known_groups.json``."""
    if not layout.known_groups.is_file():
        return []
    members: dict[str, list[str]] = {}
    for key, group in json.loads(layout.known_groups.read_text()).items():
        if key in sketches:
            members.setdefault(group, []).append(key)
    return [pair for keys in members.values() for pair in itertools.pairwise(sorted(keys))]


def dataset_groups(
    sketches: Mapping[str, Any], links: Sequence[tuple[str, str]] = ()
) -> dict[str, str]:
    """Each dataset's group from the stored content sketches (itself where it has none), with
    ``links`` (pairs known to be one group) joined."""
    from metaopt import datasets

    known = {k: v for k, v in sketches.items() if v is not None}
    groups = {k: k for k in sketches}
    group_datasets = getattr(datasets, "group_datasets", None)
    sketch_from_dict = getattr(datasets, "DatasetSketch", None)
    if known and group_datasets is not None and sketch_from_dict is not None:
        parsed = {}
        for key, value in known.items():
            try:
                parsed[key] = sketch_from_dict.from_dict(value)
            except ValueError as error:  # a sketch of another version: the dataset is alone
                logger.warning("no group for %s: %s (rerun the build to resketch)", key, error)
        groups.update(group_datasets(parsed, links=[p for p in links if set(p) <= set(parsed)]))
    return dict(sorted(groups.items()))


def consolidate(
    work_dir: str | Path,
    *,
    output: str | Path | None = None,
    command: str | None = None,
    wall_time_s: float | None = None,
) -> KnowledgeBase:
    """Gather the parts of a build into one :class:`KnowledgeBase` (and save it to ``output``).

    A build with ``metafeatures=False`` saves without descriptions; one that describes some of
    its datasets must describe all of them to be saved (see :meth:`KnowledgeBase.save`).
    """
    layout = _Layout(Path(work_dir).expanduser())
    if not layout.settings.is_file():
        raise ValueError(f"{work_dir} holds no build (no build.json)")
    settings = json.loads(layout.settings.read_text())
    evaluation_parts = sorted(layout.evaluations.glob("*.parquet"))
    frames = [pd.read_parquet(p) for p in evaluation_parts]
    if frames:
        evaluations = pd.concat(frames, ignore_index=True)
    else:
        evaluations = pd.DataFrame({c: pd.Series(dtype=object) for c in RESERVED_COLUMNS})
    evaluations = evaluations.sort_values(
        ["dataset", "space", "fidelity", "config_id"], ignore_index=True
    )
    metafeature_parts = sorted(layout.metafeatures.glob("*.parquet"))
    if metafeature_parts:
        parts = [pd.read_parquet(p) for p in metafeature_parts]
        if len({tuple(p.columns) for p in parts}) > 1:
            raise ValueError(
                f"metafeature parts in {layout.metafeatures} have different columns (the "
                "extractor changed during the build): delete that folder and rerun the build "
                "to recompute them"
            )
        metafeatures = pd.concat(parts).sort_index()
        metafeatures = metafeatures.astype(float)
    else:
        metafeatures = pd.DataFrame(index=pd.Index([], name="dataset", dtype=object))
    for path in sorted(layout.datasets.glob("*.json")):
        _resketch_if_stale(path)
    facts = [json.loads(p.read_text()) for p in sorted(layout.datasets.glob("*.json"))]
    sketches = {f["dataset"]: f.pop("sketch", None) for f in facts}
    counts = evaluations.groupby("space").size().to_dict() if len(evaluations) else {}
    provenance = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "libraries": _library_versions(),
        "settings": {
            **settings,
            "secondary_metric": SECONDARY_METRIC,
            "row_cap_sampling": "stratified by class (classification), uniform (regression), "
            "seeded; classes with fewer than cv rows dropped",
        },
        "n_evaluations": int(len(evaluations)),
        "evaluations_per_space": {str(k): int(v) for k, v in counts.items()},
        "n_datasets": int(evaluations["dataset"].nunique()) if len(evaluations) else 0,
        "sources": sorted({_source_collection(f["source"]) for f in facts if "source" in f}),
        "datasets": {f["dataset"]: f for f in facts},
        "groups": dataset_groups(sketches, _known_links(layout, sketches)),
    }
    if wall_time_s is not None:
        provenance["last_run_wall_time_s"] = round(float(wall_time_s), 1)
    kb = KnowledgeBase(evaluations, metafeatures, provenance)
    if output is not None:
        kb.save(output)  # refuses, listing why, a base that could not be read back
    return kb
