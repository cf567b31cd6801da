"""Reading a knowledge table into the rows one meta-model needs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

REQUIRED_COLUMNS: tuple[str, ...] = ("dataset", "task", "space", "params", "score")


def as_tables(
    knowledge: Any, metafeatures: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(evaluations, metafeatures)`` from a KnowledgeBase or a raw evaluations frame.

    Args:
        knowledge: A :class:`metaopt.knowledge.KnowledgeBase` (anything with ``evaluations`` and
            ``metafeatures`` frames) or the evaluations DataFrame itself.
        metafeatures: Required with a raw evaluations frame: one row per dataset, index = the
            ``dataset`` ids of the evaluations.

    Raises:
        TypeError: for anything else.
        ValueError: for missing columns or datasets without metafeatures.
    """
    if isinstance(knowledge, pd.DataFrame):
        evaluations = knowledge
        if metafeatures is None:
            raise ValueError(
                "a raw evaluations DataFrame needs metafeatures=<DataFrame indexed by dataset>; "
                "or pass a metaopt.knowledge.KnowledgeBase"
            )
    elif hasattr(knowledge, "evaluations") and hasattr(knowledge, "metafeatures"):
        evaluations = knowledge.evaluations
        metafeatures = knowledge.metafeatures if metafeatures is None else metafeatures
    else:
        raise TypeError(
            "knowledge must be a metaopt.knowledge.KnowledgeBase or an evaluations DataFrame, "
            f"got {type(knowledge).__name__}"
        )
    if not isinstance(metafeatures, pd.DataFrame):
        raise TypeError(f"metafeatures must be a DataFrame, got {type(metafeatures).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in evaluations.columns]
    if missing:
        raise ValueError(
            f"the evaluations table lacks the columns {missing}; "
            f"it needs at least {list(REQUIRED_COLUMNS)}"
        )
    if len(evaluations) == 0:
        raise ValueError("the knowledge table holds no evaluations")
    # Dataset ids are compared as strings, so ids such as OpenML's integers work as well.
    if not _all_strings(evaluations["dataset"]):
        evaluations = evaluations.assign(dataset=evaluations["dataset"].astype(str))
    if not _all_strings(metafeatures.index):
        metafeatures = metafeatures.set_axis(metafeatures.index.astype(str), axis=0)
    duplicated = sorted(set(metafeatures.index[metafeatures.index.duplicated()]))
    if duplicated:
        raise ValueError(
            f"the metafeatures hold several rows for {len(duplicated)} datasets, e.g. "
            f"{duplicated[:3]}; one row per dataset is accepted"
        )
    if not _all_strings(evaluations["params"]):
        evaluations = evaluations.assign(
            params=[p if isinstance(p, str) else params_text(p) for p in evaluations["params"]]
        )
    unknown = sorted(set(evaluations["dataset"]) - set(metafeatures.index))
    if unknown:
        raise ValueError(
            f"{len(unknown)} datasets of the evaluations have no metafeatures row, "
            f"e.g. {unknown[:3]}"
        )
    numeric = metafeatures.apply(pd.to_numeric, errors="coerce").astype(float)
    return evaluations, numeric


def _all_strings(values: pd.Series | pd.Index) -> bool:
    if values.dtype == object:  # in C, ~50x faster than the loop below on large tables
        return len(values) == 0 or pd.api.types.infer_dtype(values, skipna=False) == "string"
    return bool(all(isinstance(v, str) for v in values))


def params_text(params: Any) -> str:
    """A configuration given as a mapping, as the JSON text of the ``params`` column."""
    return json.dumps(parse_params(params), default=str)


def select_rows(evaluations: pd.DataFrame, space: str, task: str) -> pd.DataFrame:
    """Rows of one space and task, with a ``config_key`` (canonical JSON of the params)."""
    rows = evaluations[(evaluations["space"] == space) & (evaluations["task"] == task)]
    rows = rows.copy()
    keys = {p: canonical_key(parse_params(p)) for p in rows["params"].unique()}
    rows["config_key"] = rows["params"].map(keys)
    return rows.reset_index(drop=True)


def space_tasks(evaluations: pd.DataFrame, space: str | None) -> list[tuple[str, str]]:
    """The ``(space, task)`` pairs present, restricted to ``space`` when given."""
    pairs = evaluations[["space", "task"]].drop_duplicates()
    if space is not None:
        if not isinstance(space, str):
            raise TypeError(f"space must be a str or None, got {type(space).__name__}")
        pairs = pairs[pairs["space"] == space]
        if len(pairs) == 0:
            known = sorted(evaluations["space"].unique())
            raise ValueError(
                f"the knowledge table has no rows for space {space!r}; known: {known}"
            )
    return sorted((str(s), str(t)) for s, t in pairs.itertuples(index=False))


def parse_params(params: Any) -> dict[str, Any]:
    """A parameter dict from the ``params`` column (a JSON string or a mapping)."""
    if isinstance(params, str):
        value = json.loads(params)
    elif isinstance(params, Mapping):
        value = dict(params)
    else:
        raise TypeError(f"params must be a JSON string or a dict, got {type(params).__name__}")
    if not isinstance(value, dict):
        raise ValueError(f"params must encode a JSON object, got {params!r}")
    return plain(value)


def plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with numpy scalars turned into the matching Python types."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        out[str(key)] = value
    return out


def canonical_key(params: Mapping[str, Any]) -> str:
    """A string that is equal for equal configurations (sorted-key JSON)."""
    return json.dumps(plain(params), sort_keys=True, default=str)


def resolve_task(fitted_tasks: list[str], task: str | None, space: str) -> str:
    """The task to rank for: ``task`` when given, else the only one fitted for ``space``."""
    if task is not None:
        if task not in fitted_tasks:
            raise ValueError(
                f"no knowledge for space {space!r} and task {task!r}; fitted tasks: {fitted_tasks}"
            )
        return task
    if len(fitted_tasks) == 1:
        return fitted_tasks[0]
    raise ValueError(f"space {space!r} was fitted for several tasks {fitted_tasks}; pass task=")
