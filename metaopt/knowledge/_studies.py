"""Knowledge from a user's own Optuna studies (``metaopt.knowledge.from_studies``)."""

from __future__ import annotations

import datetime
import difflib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from metaopt.knowledge._base import (
    RESERVED_COLUMNS,
    SCHEMA_VERSION,
    KnowledgeBase,
    canonical_evaluations,
    normalise_parameter_column,
)

_METAFEATURES = "metaopt:metafeatures"
_DATASET = "metaopt:dataset"
_TASK = "metaopt:task"
_SPACE = "metaopt:space"
_METRIC = "metaopt:metric"
_STATUS = {TrialState.COMPLETE: "ok", TrialState.FAIL: "failed", TrialState.PRUNED: "failed"}


def from_studies(
    storage: str | optuna.storages.BaseStorage | None,
    study_names: str | optuna.Study | Iterable[str | optuna.Study],
) -> KnowledgeBase:
    """A knowledge base made of finished Optuna studies that carry their dataset's metafeatures.

    Studies optimised with :class:`metaopt.MetaSampler` carry the metafeatures, task and space
    as study user attributes (``"metaopt:metafeatures"``, ``"metaopt:task"``,
    ``"metaopt:space"``); any other study can be made usable by setting them itself (the values
    of :func:`metaopt.metafeatures.extract_metafeatures` as a dict, and the task). The study
    becomes one dataset ``"study:<name>"``; its space is ``"metaopt:space"`` when set,
    otherwise ``"study:<name>"``. Completed trials become ``ok`` rows with the objective as
    ``score`` (negated for a minimised study, so higher is always better); failed and pruned
    trials become ``failed`` rows. Multi-objective studies are not supported.

    Args:
        storage: An Optuna storage or its URL (``"sqlite:///studies.db"``, ...); may be
            ``None`` when every study is given as an :class:`optuna.Study`.
        study_names: Study names (in ``storage``) or :class:`optuna.Study` objects, one or
            several.

    Raises:
        ValueError: for a missing study, a study given twice, a multi-objective study, a
            study without metafeatures or task, a study without finished trials, or parameters
            named like the knowledge base's own columns (:data:`RESERVED_COLUMNS`).

    Example:
        >>> import optuna
        >>> import metaopt.knowledge
        >>> storage = optuna.storages.InMemoryStorage()
        >>> study = optuna.create_study(storage=storage, study_name="mine")
        >>> study.set_user_attr("metaopt:metafeatures", {"general.n_instances": 100.0})
        >>> study.set_user_attr("metaopt:task", "classification")
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)
        >>> kb = metaopt.knowledge.from_studies(storage, "mine")
        >>> kb.spaces, len(kb.evaluations), bool(kb.evaluations["score"].max() <= 0)
        (['study:mine'], 3, True)
    """
    if isinstance(study_names, str | optuna.Study):
        items: list[Any] = [study_names]
    elif isinstance(study_names, Iterable):
        items = list(study_names)
    else:
        raise TypeError(
            "study_names must be a study name, an optuna.Study or an iterable of them, got "
            f"{type(study_names).__name__} {study_names!r}"
        )
    if not items:
        raise ValueError("study_names is empty: name at least one study")
    wrong = [item for item in items if not isinstance(item, str | optuna.Study)]
    if wrong:
        raise TypeError(
            "study_names must hold study names (str) or optuna.Study objects, got "
            f"{type(wrong[0]).__name__} {wrong[0]!r}"
        )
    if isinstance(storage, str):
        storage = _open_storage(storage)
    elif storage is not None and not isinstance(storage, optuna.storages.BaseStorage):
        raise TypeError(
            "storage must be an Optuna storage, a database URL such as "
            f"'sqlite:///studies.db', or None, got {type(storage).__name__} {storage!r}"
        )
    rows: list[dict[str, Any]] = []
    metafeatures: dict[str, pd.Series] = {}
    names = []
    for item in items:
        if isinstance(item, optuna.Study):
            study = item
        elif storage is None:
            raise ValueError(
                f"study {item!r} is given by name: pass the storage that holds it, or the "
                "optuna.Study object itself"
            )
        else:
            try:
                study = optuna.load_study(study_name=str(item), storage=storage)
            except KeyError as error:
                existing = optuna.get_all_study_names(storage)
                close = difflib.get_close_matches(str(item), existing, n=3)
                hint = f" (did you mean {close}?)" if close else ""
                raise ValueError(
                    f"no study named {item!r} in the storage{hint}; it holds the studies "
                    f"{sorted(existing)}"
                ) from error
        name = study.study_name
        if name in names:
            raise ValueError(f"study {name!r} is given twice; each study is one dataset")
        names.append(name)
        dataset = f"study:{name}"
        study_rows, features = _study_rows(study, dataset)
        rows.extend(study_rows)
        metafeatures[dataset] = features
    evaluations = pd.DataFrame(rows)
    parameters = [c for c in evaluations.columns if c not in RESERVED_COLUMNS]
    for column in parameters:
        evaluations[column] = normalise_parameter_column(evaluations[column])
    evaluations = canonical_evaluations(evaluations)  # adds the fidelity columns
    evaluations = evaluations[list(RESERVED_COLUMNS) + parameters]
    frame = pd.DataFrame(metafeatures).T.astype(float)
    frame.index.name = "dataset"
    provenance = {
        "schema_version": SCHEMA_VERSION,
        "sources": [f"study:{n}" for n in names],
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "optuna": optuna.__version__,
        "command": "metaopt.knowledge.from_studies",
    }
    return KnowledgeBase(evaluations.reset_index(drop=True), frame, provenance)


def _open_storage(url: str) -> optuna.storages.BaseStorage:
    """The storage at ``url``; a clear error for a malformed URL or a database that is absent.

    An SQLite file is not created by reading it: a misspelled name is an error, not a new,
    empty database.
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")).expanduser()
        if not path.is_file():
            raise ValueError(f"storage {url!r}: there is no SQLite file {str(path)!r}")
    try:
        return optuna.storages.get_storage(url)
    except Exception as error:  # sqlalchemy's errors for a URL it cannot use
        raise ValueError(
            f"storage {url!r} cannot be opened ({type(error).__name__}: {error}); pass an "
            "Optuna storage or a database URL such as 'sqlite:///studies.db'"
        ) from error


def _study_rows(study: optuna.Study, dataset: str) -> tuple[list[dict[str, Any]], pd.Series]:
    name = study.study_name
    if len(study.directions) != 1:
        raise ValueError(
            f"study {name!r} is multi-objective; only single-objective studies "
            "can be used as knowledge"
        )
    attrs = study.user_attrs
    features = attrs.get(_METAFEATURES)
    if not isinstance(features, dict) or not features:
        raise ValueError(
            f"study {name!r} has no metafeatures: optimise it with metaopt.MetaSampler or set "
            f"the study user attribute {_METAFEATURES!r} to "
            "metaopt.metafeatures.extract_metafeatures(dataset).to_dict()"
        )
    task = attrs.get(_TASK)
    if task not in ("classification", "regression"):
        raise ValueError(
            f"study {name!r} has no valid task: set the study user attribute {_TASK!r} to "
            f"'classification' or 'regression' (got {task!r})"
        )
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
    space = attrs.get(_SPACE) or f"study:{name}"
    info = attrs.get(_DATASET) if isinstance(attrs.get(_DATASET), dict) else {}
    fingerprint = str(info.get("fingerprint", dataset))
    metric = str(attrs.get(_METRIC, "objective" if sign > 0 else "negated objective"))
    trials = study.get_trials(deepcopy=False, states=tuple(_STATUS))
    clashes = sorted({p for t in trials for p in t.params} & set(RESERVED_COLUMNS))
    if clashes:
        raise ValueError(
            f"study {name!r} has parameters named like the knowledge base's own columns "
            f"{clashes}; those names are reserved ({list(RESERVED_COLUMNS)}): rename them in "
            "the objective (e.g. 'n_estimators' for 'n_trees') to learn from the study"
        )
    rows = []
    for trial in trials:
        status = _STATUS[trial.state]
        value = trial.value if status == "ok" else None
        if value is None or not math.isfinite(value):
            status, score = "failed", math.nan
        else:
            score = sign * float(value)
        duration = trial.duration.total_seconds() if trial.duration is not None else math.nan
        rows.append(
            {
                "dataset": dataset,
                "fingerprint": fingerprint,
                "task": task,
                "space": space,
                "config_id": trial.number,
                "params": json.dumps(trial.params, sort_keys=True),
                "score": score,
                "fold_scores": [] if math.isnan(score) else [score],
                "metric": metric,
                "secondary_score": math.nan,
                "fit_time": duration,
                "status": status,
                "error": None if status == "ok" else trial.state.name.lower(),
                "source": f"study:{name}",
                **trial.params,
            }
        )
    if not any(r["status"] == "ok" for r in rows):
        raise ValueError(f"study {name!r} has no completed trial to learn from")
    return rows, _metafeature_values(name, features)


def _metafeature_values(name: str, features: dict[str, Any]) -> pd.Series:
    """The metafeatures of study ``name`` as floats (``None`` is missing, NaN)."""
    bad = {key: value for key, value in features.items() if not _is_number(value)}
    if bad:
        raise ValueError(
            f"study {name!r}: the study user attribute {_METAFEATURES!r} must map names to "
            f"numbers (None or NaN when unknown), got {dict(list(bad.items())[:5])!r}; set it "
            "to metaopt.metafeatures.extract_metafeatures(dataset).to_dict()"
        )
    return pd.Series(features, dtype=float)


def _is_number(value: Any) -> bool:
    """Whether ``value`` reads as one float (``None`` counts, as a missing value)."""
    if value is None:
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
