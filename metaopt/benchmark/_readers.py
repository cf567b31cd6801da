"""Readers of external meta-datasets: OpenML run exports (ARFF) and long-format tables."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import arff
import numpy as np
import pandas as pd

from metaopt.benchmark._metadataset import (
    RESERVED_COLUMNS,
    MetaDataset,
    infer_distributions,
)

logger = logging.getLogger("metaopt.benchmark")

# OpenML evaluation measures where lower is better; their sign is flipped into ``score``.
_LOWER_IS_BETTER = ("error", "loss", "time", "absolute", "squared", "brier")


def read_openml_runs(
    path: str | Path, *, measure: str | None = None, log: Mapping[str, bool] | None = None
) -> MetaDataset:
    """Read an OpenML run export in ARFF (one row per run of one flow on one task).

    The first comment line holds JSON naming the columns: ``col_parameters`` (the flow's
    hyperparameters) and ``col_measures`` (evaluation measures), plus ``flow_id``. Each run row
    also has a ``task_id``. Datasets are named ``"openml-task:<task id>"``. Nominal columns whose
    labels are all numbers become numeric; the label ``None`` means "not set" (NaN); parameters
    that never vary are dropped.

    Args:
        path: The ``.arff`` file, e.g. ``openml-pimp-random-forest.arff``.
        measure: Which of ``col_measures`` is the score; default the first. Measures where lower
            is better (errors, losses, times) are negated so that higher is always better.
        log: Per parameter name, whether it lives on a log scale; default: read from how the
            recorded values are spread (:func:`~metaopt.benchmark.infer_distributions`).

    Returns:
        The meta-dataset, named ``"openml-flow-<flow id>"``.

    Example:
        >>> meta = read_openml_runs("../shared/metadata/openml-pimp-random-forest.arff")
        ... # doctest: +SKIP
        >>> meta.name, len(meta.dataset_names)  # doctest: +SKIP
        ('openml-flow-6969', 85)
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"OpenML run export {str(path)!r} does not exist.")
    header = _header_json(path)
    for key in ("col_parameters", "col_measures"):
        if key not in header:
            raise ValueError(
                f"{path.name}: the JSON comment in the ARFF header has no {key!r}; got keys "
                f"{sorted(header)}. Expected an OpenML run export (openml-pimp format)."
            )
    with path.open(encoding="utf-8") as handle:
        content = arff.load(handle)
    columns = [name for name, _ in content["attributes"]]
    frame = pd.DataFrame(content["data"], columns=columns)
    measures = list(header["col_measures"])
    chosen = measure or measures[0]
    if chosen not in frame.columns:
        raise ValueError(f"measure {chosen!r} is not a column of {path.name}; got {measures}.")
    task_column = "task_id" if "task_id" in frame.columns else None
    if task_column is None:
        raise ValueError(f"{path.name} has no 'task_id' column; got {columns}.")
    params = [p for p in header["col_parameters"] if p in frame.columns]
    for name in params:
        frame[name] = _decode_nominal(frame[name])
    score = pd.to_numeric(frame[chosen], errors="coerce").astype(float)
    if any(token in chosen.lower() for token in _LOWER_IS_BETTER):
        score = -score
    task_ids = pd.to_numeric(frame[task_column]).astype(int)
    evaluations = pd.DataFrame({"dataset": "openml-task:" + task_ids.astype(str), "score": score})
    distributions = infer_distributions(frame, params, log)
    for name in distributions:
        evaluations[name] = frame[name].to_numpy()
    datasets = pd.DataFrame(
        {"openml_tid": task_ids.to_numpy()}, index=pd.Index(evaluations["dataset"], name="dataset")
    )
    datasets = datasets[~datasets.index.duplicated()]
    datasets["source"] = "openml-task:" + datasets["openml_tid"].astype(str)
    flow = header.get("flow_id", path.stem)
    return MetaDataset(
        name=f"openml-flow-{flow}",
        evaluations=evaluations,
        distributions=distributions,
        datasets=datasets,
        task="classification",
    )


def read_long_format(
    path: str | Path,
    *,
    metafeatures: str | Path | pd.DataFrame | None = None,
    name: str | None = None,
    task: str = "classification",
    log: Mapping[str, bool] | None = None,
) -> MetaDataset:
    """Read a long-format meta-dataset (CSV or parquet).

    The table has a ``dataset`` column, one column per hyperparameter and a ``score`` column
    where higher is better; optional columns ``fingerprint`` and ``openml_did`` identify
    duplicates, and the other knowledge-base columns (``config_id``, ``status``, ...) are
    honoured when present (only ``status == "ok"`` rows are kept).

    Args:
        path: ``.csv``, ``.tsv`` or ``.parquet`` file.
        metafeatures: Metafeature table indexed by ``dataset`` (file or DataFrame; a file's
            first column, or its ``dataset`` column, is the index).
        name: Name used in reports; default the file's stem.
        task: ``"classification"`` or ``"regression"``.
        log: Per parameter name, whether it lives on a log scale; default: read from how the
            recorded values are spread (:func:`~metaopt.benchmark.infer_distributions`).

    Returns:
        The meta-dataset.
    """
    path = Path(path)
    frame = _read_table(path)
    for column in ("dataset", "score"):
        if column not in frame.columns:
            raise ValueError(
                f"{path.name}: a long-format meta-dataset needs a {column!r} column; got "
                f"{list(frame.columns)}."
            )
    if "status" in frame.columns:
        frame = frame[frame["status"].astype(str) == "ok"]
    params = [c for c in frame.columns if c not in RESERVED_COLUMNS]
    distributions = infer_distributions(frame, params, log)
    keep = ["dataset", "score", *(["config_id"] if "config_id" in frame.columns else [])]
    evaluations = frame[keep + list(distributions)].copy()
    evaluations["dataset"] = evaluations["dataset"].astype(str)
    facts = [c for c in ("fingerprint", "openml_did") if c in frame.columns]
    datasets = (
        frame.assign(dataset=frame["dataset"].astype(str))
        .groupby("dataset", sort=False)[facts]
        .first()
        if facts
        else pd.DataFrame()
    )
    table = None
    if metafeatures is not None:
        table = (
            metafeatures
            if isinstance(metafeatures, pd.DataFrame)
            else _read_metafeatures(Path(metafeatures))
        )
        table.index = table.index.astype(str)
    meta = MetaDataset(
        name=name or path.stem.split(".")[0],
        evaluations=evaluations,
        distributions=distributions,
        datasets=datasets,
        task=task,
    )
    return meta.with_metafeatures(table) if table is not None else meta


def from_knowledge(knowledge: object, space: str, *, task: str | None = None) -> MetaDataset:
    """The evaluations of one registered space in a :class:`metaopt.knowledge.KnowledgeBase`.

    Args:
        knowledge: The knowledge base.
        space: Space name, e.g. ``"random_forest"``.
        task: Keep only this task's datasets; default the task with most datasets.

    Returns:
        The meta-dataset named ``"kb-<space>"`` (``"kb-<space>-regression"`` for regression),
        with the space's own distributions and the knowledge base's metafeatures.
    """
    from metaopt import spaces

    evaluations = knowledge.for_space(space)  # type: ignore[attr-defined]
    if evaluations.empty:
        raise ValueError(f"the knowledge base has no ok evaluations of space {space!r}.")
    if task is None:
        task = str(evaluations.groupby("task")["dataset"].nunique().idxmax())
    tasks = sorted(set(evaluations["task"]))
    evaluations = evaluations[evaluations["task"] == task]
    if evaluations.empty:
        raise ValueError(
            f"the knowledge base has no ok evaluations of space {space!r} for task {task!r}; "
            f"it has {tasks}."
        )
    search_space = spaces.get(space, task)
    distributions = dict(search_space.distributions)
    missing = [p for p in distributions if p not in evaluations.columns]
    if missing:
        raise ValueError(
            f"knowledge-base evaluations of {space!r} lack parameter columns {missing}."
        )
    columns = ["dataset", "config_id", "score", *distributions]
    table = evaluations[columns].copy()
    datasets = evaluations.groupby("dataset", sort=False)[["fingerprint"]].first()
    groups = getattr(knowledge, "groups", {})
    datasets["group"] = [groups.get(d, d) for d in datasets.index]
    metafeatures = knowledge.metafeatures  # type: ignore[attr-defined]
    suffix = "" if task == "classification" else f"-{task}"
    meta = MetaDataset(
        name=f"kb-{space}{suffix}",
        evaluations=table,
        distributions=distributions,
        datasets=datasets,
        task=task,
        space=space,
    )
    return meta.with_metafeatures(metafeatures)


def _header_json(path: Path) -> dict[str, object]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            stripped = line.strip()
            if stripped.startswith("%"):
                text = stripped.lstrip("%").strip()
                if text.startswith("{"):
                    try:
                        return json.loads(text)
                    except json.JSONDecodeError as error:
                        raise ValueError(
                            f"{path.name}: the header comment is not valid JSON ({error})."
                        ) from error
            elif stripped.upper().startswith("@DATA"):
                break
    raise ValueError(
        f"{path.name}: no JSON comment line ('% {{...}}') before @DATA; an OpenML run export "
        "names its parameter and measure columns there."
    )


def _decode_nominal(values: pd.Series) -> pd.Series:
    """ARFF nominal labels to numbers where all are numeric; ``"None"`` to NaN."""
    cleaned = values.map(lambda v: np.nan if v is None or v == "None" else v)
    numeric = pd.to_numeric(cleaned, errors="coerce")
    if numeric.notna().sum() == cleaned.notna().sum():
        return numeric.astype(float)
    return cleaned


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError(f"meta-dataset file {str(path)!r} does not exist.")
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".parquet"):
        return pd.read_parquet(path)
    if suffixes.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path)
    if suffixes.endswith((".tsv", ".tsv.gz")):
        return pd.read_csv(path, sep="\t")
    raise ValueError(f"{path.name}: expected a .csv, .tsv or .parquet file; got {suffixes!r}.")


def _read_metafeatures(path: Path) -> pd.DataFrame:
    table = _read_table(path)
    if "dataset" in table.columns:
        table = table.set_index("dataset")
    else:
        table = table.set_index(table.columns[0])
    table.index.name = "dataset"
    return table.astype(float)
