"""The resumable, parallel builder of a knowledge base.

Work is split into units: the metafeatures of one dataset, and the evaluations of every
configuration of one space on one dataset. Each finished unit is written to its own part file
(atomically: temporary file, then rename) under ``<work_dir>/parts/``; a rerun skips units whose
part exists, so a build killed at any moment loses at most the units in flight and never writes
one twice. Units run through :class:`joblib.Parallel`, so the same code runs in local processes
or, inside ``joblib.parallel_backend("dask")``, on a Dask cluster. The parent process loads each
dataset once (lazily, as units are dispatched), caps its rows and writes every part, so workers
need no shared file system.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from metaopt import spaces as space_registry
from metaopt.datasets import Dataset
from metaopt.knowledge._base import (
    RESERVED_COLUMNS,
    SCHEMA_VERSION,
    KnowledgeBase,
    normalise_parameter_column,
    write_json,
    write_parquet,
)
from metaopt.spaces import SearchSpace, cv_splits, evaluate, prepare
from metaopt.spaces._objective import DEFAULT_METRIC, SECONDARY_METRIC, _check_metric

logger = logging.getLogger("metaopt.knowledge")

#: Settings that must match between a build and its resumption.
_FIXED_SETTINGS = ("schema_version", "n_configs", "cv", "max_rows", "seed", "timeout", "metric")


@dataclass(frozen=True)
class _Unit:
    kind: str  # "evaluate" or "metafeatures"
    dataset_id: str
    space: str | None
    path: Path


def dataset_id(dataset: Any) -> str:
    """A stable id such as ``"openml:31"`` or ``"pmlb:analcatdata_boxing1"``.

    Sources with a scheme (``openml:``, ``sklearn:``) are kept; an OpenML task becomes its
    dataset; a file becomes ``<folder>:<name>``, except files of an OpenML mirror folder with a
    known dataset id, which become ``openml:<did>``.
    """
    source = str(getattr(dataset, "source", ""))
    name = str(getattr(dataset, "name", "") or "dataset")
    did = getattr(dataset, "dataset_id", None)
    if did is None:
        did = (getattr(dataset, "metadata", None) or {}).get("openml_did")
    if source.startswith(("openml:", "sklearn:")):
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


def _safe_name(text: str) -> str:
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', text)[:80]}-{digest}"


def _as_dataset_map(datasets: Any) -> dict[str, Any]:
    """``{id: Dataset or loadable entry}`` from a mapping, a sequence or a suite."""
    if isinstance(datasets, Mapping):
        return {str(k): v for k, v in datasets.items()}
    if isinstance(datasets, Dataset | str):
        datasets = [datasets]
    mapping: dict[str, Any] = {}
    for item in datasets:
        if isinstance(item, str):
            from metaopt.datasets import load_dataset

            item = load_dataset(item)
        if not isinstance(item, Dataset) and not hasattr(item, "load"):
            raise TypeError(
                "datasets must be Dataset objects, suite entries (with .load()), source "
                f"strings, or a mapping of id to those; got {type(item).__name__}"
            )
        key = dataset_id(item)
        if key in mapping:
            raise ValueError(f"two datasets share the id {key!r}; pass a mapping of unique ids")
        mapping[key] = item
    return mapping


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
        resolved.append(key)
    return resolved


def configurations(space: SearchSpace, n_configs: int, seed: int) -> list[dict[str, Any]]:
    """Config 0 is the space's default, then ``n_configs - 1`` seeded Sobol configurations.

    The same configurations are used on every dataset, so scores compare across datasets.
    """
    return [dict(space.default), *space.sample(n_configs - 1, seed=seed)]


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
    n_configs: int,
    cv: int,
    seed: int,
    metric: str,
    timeout: float | None,
) -> pd.DataFrame:
    """Evaluate every configuration of one space on one (prepared) dataset; runs in a worker."""
    with threadpool_limits(1):
        if space_name == "mlp":
            import torch

            torch.set_num_threads(1)
        space = space_registry.get(space_name, data.task)
        splits = cv_splits(data.y, data.task, cv, seed)
        cache: dict[Any, Any] = {}
        rows = []
        for config_id, params in enumerate(configurations(space, n_configs, seed)):
            result = evaluate(
                space, data.X, data.y, params, splits, metric=metric, timeout=timeout, cache=cache
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
                    **params,
                }
            )
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if column not in RESERVED_COLUMNS:
            frame[column] = normalise_parameter_column(frame[column])
    return frame


def _metafeature_unit(
    dataset_key: str, data: Dataset, seed: int, budget_s: float | None
) -> pd.DataFrame:
    """The metafeatures of one prepared dataset as a one-row frame indexed by ``dataset``."""
    from metaopt.metafeatures import extract_metafeatures

    with threadpool_limits(1):
        values = extract_metafeatures(data, budget_s=budget_s, random_state=seed)
    frame = pd.DataFrame([values.astype(float).to_numpy()], columns=list(values.index))
    frame.index = pd.Index([dataset_key], name="dataset")
    return frame


def _run_unit(unit: _Unit, data: Dataset, settings: dict[str, Any]) -> tuple[_Unit, Any, float]:
    start = time.perf_counter()
    try:
        if unit.kind == "metafeatures":
            result: Any = _metafeature_unit(
                unit.dataset_id, data, settings["seed"], settings["metafeature_budget_s"]
            )
        else:
            result = _evaluate_unit(
                unit.dataset_id,
                data,
                str(unit.space),
                settings["n_configs"],
                settings["cv"],
                settings["seed"],
                settings["metric"][data.task],
                settings["timeout"],
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

    def evaluation_part(self, key: str, space: str) -> Path:
        return self.evaluations / f"{_safe_name(key)}__{space}.parquet"

    def metafeature_part(self, key: str) -> Path:
        return self.metafeatures / f"{_safe_name(key)}.parquet"

    def dataset_part(self, key: str) -> Path:
        return self.datasets / f"{_safe_name(key)}.json"


def _check_settings(layout: _Layout, settings: dict[str, Any]) -> None:
    if layout.settings.is_file():
        previous = json.loads(layout.settings.read_text())
        changed = {
            k: (previous.get(k), settings.get(k))
            for k in _FIXED_SETTINGS
            if previous.get(k) != settings.get(k)
        }
        if changed:
            raise ValueError(
                f"{layout.root} holds a build with other settings {changed} (was, now); resume "
                "with the same settings or use a new work_dir"
            )
        return
    write_json({k: settings[k] for k in _FIXED_SETTINGS}, layout.settings)


def build(
    datasets: Any,
    spaces: Any,
    *,
    n_configs: int = 64,
    work_dir: str | Path,
    output: str | Path | None = None,
    cv: int = 3,
    max_rows: int | None = 1000,
    seed: int = 0,
    timeout: float | None = 60.0,
    metric: Mapping[str, str] | None = None,
    metafeatures: bool = True,
    metafeature_budget_s: float | None = 30.0,
    n_jobs: int | None = None,
    budget_s: float | None = None,
    progress: bool = True,
    command: str | None = None,
) -> KnowledgeBase:
    """Evaluate the default and ``n_configs - 1`` Sobol configurations of spaces on datasets.

    Resumable: finished units are kept under ``work_dir`` and skipped by a rerun with the same
    settings. Parallel: units go through :class:`joblib.Parallel` with ``n_jobs``; inside
    ``joblib.parallel_backend("dask")`` they run on the Dask cluster. A configuration that fails
    or times out is recorded with its status, never dropped; a unit that fails as a whole (e.g.
    metafeature extraction) is logged, recorded under ``parts/unit_failures`` and retried by the
    next run.

    Args:
        datasets: :class:`~metaopt.datasets.Dataset` objects, suite entries (anything with a
            ``.load()``, loaded lazily), source strings, or a mapping of id to any of those.
        spaces: Space names (or :class:`~metaopt.spaces.SearchSpace` of registered names).
        n_configs: Configurations per (dataset, space), the default included.
        work_dir: Folder of the resumable parts.
        output: When given, the consolidated knowledge base is also saved there.
        cv: Folds of the fixed, seeded (stratified) cross-validation.
        max_rows: Rows above this cap are subsampled (stratified, seeded); ``None`` for no cap.
        seed: Seed of the subsample, the splits and the Sobol sequence.
        timeout: Seconds allowed per configuration (all folds); ``None`` for no limit.
        metric: Primary metric per task, default ``balanced_accuracy`` / ``r2``.
        metafeatures: Also compute the metafeatures of every dataset (on the capped rows).
        metafeature_budget_s: Time budget passed to the metafeature extractor.
        n_jobs: Parallel workers (joblib semantics; ``None`` follows the active backend).
        budget_s: Stop dispatching new datasets after this many seconds (units in flight
            finish); a rerun continues with the rest.
        progress: Show a progress bar with counts and ETA.
        command: The command line recorded in the provenance.

    Returns:
        The knowledge base of everything in ``work_dir`` (this run's units and earlier ones).
    """
    if not isinstance(n_configs, int) or n_configs < 1:
        raise ValueError(f"n_configs must be a positive int, got {n_configs!r}")
    layout = _Layout(Path(work_dir))
    settings: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "n_configs": n_configs,
        "cv": cv,
        "max_rows": max_rows,
        "seed": seed,
        "timeout": timeout,
        "metric": {**DEFAULT_METRIC, **(metric or {})},
        "metafeature_budget_s": metafeature_budget_s,
    }
    for task, name in settings["metric"].items():
        _check_metric(name, task)
    _check_settings(layout, settings)
    dataset_map = _as_dataset_map(datasets)
    space_names = _resolve_spaces(spaces)
    pending = _pending_units(layout, dataset_map, space_names, metafeatures)
    total = sum(len(units) for units in pending.values())
    logger.info("%d units pending over %d datasets", total, len(pending))
    start = time.perf_counter()
    bar = tqdm(total=total, desc="knowledge units", unit="unit", disable=not progress)
    counts = {"configs": 0, "failed": 0, "unit_errors": 0}

    def tasks() -> Iterator[Any]:
        for key, units in pending.items():
            if budget_s is not None and time.perf_counter() - start > budget_s:
                logger.info("budget of %.0f s spent; stopping before dataset %s", budget_s, key)
                return
            data = _load_prepared(key, dataset_map[key], layout, settings)
            if data is None:
                bar.update(len(units))
                continue
            for unit in units:
                yield joblib.delayed(_run_unit)(unit, data, settings)

    if total:
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        for unit, result, seconds in parallel(tasks()):
            _store(layout, unit, result, seconds, counts)
            bar.update(1)
            bar.set_postfix(counts, refresh=False)
    bar.close()
    elapsed = time.perf_counter() - start
    logger.info("built %d units in %.0f s (%s)", total, elapsed, counts)
    kb = consolidate(work_dir, command=command, wall_time_s=elapsed)
    if output is not None:
        kb.validate(require_metafeatures=metafeatures).save(output)
    return kb


def _pending_units(
    layout: _Layout, dataset_map: dict[str, Any], space_names: list[str], metafeatures: bool
) -> dict[str, list[_Unit]]:
    pending: dict[str, list[_Unit]] = {}
    for key in dataset_map:
        units = [
            _Unit("evaluate", key, space, layout.evaluation_part(key, space))
            for space in space_names
        ]
        if metafeatures:
            units.append(_Unit("metafeatures", key, None, layout.metafeature_part(key)))
        todo = [u for u in units if not u.path.is_file()]
        if todo:
            pending[key] = todo
    return pending


def _load_prepared(
    key: str, item: Any, layout: _Layout, settings: dict[str, Any]
) -> Dataset | None:
    """Load and cap one dataset and record its facts; ``None`` (logged) when it is unusable."""
    try:
        dataset = item if isinstance(item, Dataset) else item.load()
        fingerprint = dataset.fingerprint
        data = prepare(
            dataset, max_rows=settings["max_rows"], cv=settings["cv"], seed=settings["seed"]
        )
    except (ValueError, OSError) as exc:
        logger.warning("skipping dataset %s: %s", key, exc)
        write_json(
            {"dataset": key, "skipped": f"{type(exc).__name__}: {exc}"}, layout.dataset_part(key)
        )
        return None
    data.metadata["fingerprint"] = fingerprint
    facts = {
        "dataset": key,
        "name": dataset.name,
        "source": dataset.source,
        "fingerprint": fingerprint,
        "task": dataset.task,
        "n_rows": dataset.shape[0],
        "n_rows_used": data.shape[0],
        "n_features": dataset.shape[1],
        "n_classes": data.n_classes,
        "dropped_classes": data.metadata.get("dropped_classes", []),
    }
    write_json(facts, layout.dataset_part(key))
    return data


def _store(
    layout: _Layout, unit: _Unit, result: Any, seconds: float, counts: dict[str, int]
) -> None:
    if isinstance(result, BaseException):
        counts["unit_errors"] += 1
        logger.warning("unit %s/%s failed: %r", unit.dataset_id, unit.space or unit.kind, result)
        record = {
            "dataset": unit.dataset_id,
            "unit": unit.space or unit.kind,
            "error": f"{type(result).__name__}: {result}",
            "time": datetime.now(timezone.utc).isoformat(),
        }
        write_json(record, layout.failures / f"{unit.path.stem}.json")
        return
    write_parquet(result, unit.path)
    if unit.kind == "evaluate":
        counts["configs"] += len(result)
        counts["failed"] += int((result["status"] != "ok").sum())


def consolidate(
    work_dir: str | Path,
    *,
    output: str | Path | None = None,
    command: str | None = None,
    wall_time_s: float | None = None,
) -> KnowledgeBase:
    """Gather the parts of a build into one :class:`KnowledgeBase` (and save it to ``output``)."""
    layout = _Layout(Path(work_dir))
    if not layout.settings.is_file():
        raise ValueError(f"{work_dir} holds no build (no build.json)")
    settings = json.loads(layout.settings.read_text())
    evaluation_parts = sorted(layout.evaluations.glob("*.parquet"))
    frames = [pd.read_parquet(p) for p in evaluation_parts]
    if frames:
        evaluations = pd.concat(frames, ignore_index=True)
    else:
        evaluations = pd.DataFrame({c: pd.Series(dtype=object) for c in RESERVED_COLUMNS})
    evaluations = evaluations.sort_values(["dataset", "space", "config_id"], ignore_index=True)
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
    facts = [json.loads(p.read_text()) for p in sorted(layout.datasets.glob("*.json"))]
    counts = evaluations.groupby("space").size().to_dict() if len(evaluations) else {}
    provenance = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
        "sources": sorted({str(Path(f["source"]).parent) for f in facts if "source" in f}),
        "datasets": {f["dataset"]: f for f in facts},
    }
    if wall_time_s is not None:
        provenance["last_run_wall_time_s"] = round(float(wall_time_s), 1)
    kb = KnowledgeBase(evaluations, metafeatures, provenance)
    if output is not None:
        kb.validate().save(output)
    return kb
