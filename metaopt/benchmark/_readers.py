"""Readers of external meta-datasets: OpenML run exports (ARFF) and long-format tables."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from pathlib import Path

import arff
import numpy as np
import pandas as pd
from optuna.distributions import CategoricalDistribution

from metaopt.benchmark._metadataset import (
    RESERVED_COLUMNS,
    MetaDataset,
    infer_distributions,
)
from metaopt.exceptions import warn_fallback
from metaopt.knowledge._base import STATUSES

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
    categorical: Collection[str] = (),
    score: str = "score",
    higher_is_better: bool = True,
) -> MetaDataset:
    """Read a long-format meta-dataset (CSV, TSV or parquet).

    The table has a ``dataset`` column, one column per hyperparameter and a ``score`` column
    where higher is better; optional columns ``fingerprint`` and ``openml_did`` identify
    duplicates, and the other knowledge-base columns (``config_id``, ``status``, ...) are
    honoured when present. Rows are cleaned, never silently (each case is counted in
    :attr:`MetaDataset.dropped_rows`, shown in the report, and warned about with a
    :class:`~metaopt.exceptions.FallbackWarning`):

    * only rows whose ``status`` is ``ok`` (any case) are kept;
    * rows without a dataset name, or whose score is missing or infinite (a failed
      configuration), are left out;
    * rows of one dataset with the same parameter values are one configuration: their mean
      score is used (e.g. repeated seeds).

    Surrounding spaces in column names are ignored; a ``dataset`` column of whole numbers
    (``3`` or ``3.0``) names the datasets ``"3"``.

    Args:
        path: ``.csv``, ``.tsv`` or ``.parquet`` file.
        metafeatures: Metafeature table indexed by ``dataset`` (file or DataFrame; a file's
            ``dataset`` column, or else its first column, is the index). Datasets without a row
            in it are skipped (and reported); none at all is an error.
        name: Name used in reports; default the file's stem.
        task: ``"classification"`` or ``"regression"``.
        log: Per parameter name, whether it lives on a log scale; default: read from how the
            recorded values are spread (:func:`~metaopt.benchmark.infer_distributions`).
        categorical: Parameters whose numbers are labels, searched as categorical choices.
        score: The column holding the score.
        higher_is_better: ``False`` for an error or loss: the column is negated, so that the
            benchmark's ``score`` is higher-is-better.

    Returns:
        The meta-dataset.

    Raises:
        ValueError: When the file is empty or unreadable, lacks the ``dataset`` or score
            column, has no row with status ``ok`` or no parameter column with two or more
            values, or when no dataset is in ``metafeatures``.
    """
    path = Path(path)
    frame = _read_table(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    if score != "score" and "score" in frame.columns and score in frame.columns:
        frame = frame.drop(columns="score")
    for column, role in (("dataset", "dataset names"), (score, "scores, higher is better")):
        if column not in frame.columns:
            near = [c for c in frame.columns if c.lower() == column.lower()]
            hint = f" (column names are case-sensitive: found {near[0]!r})" if near else ""
            if column == score and not near:
                hint = (
                    "; name another column with score= (--score-column), and pass "
                    "higher_is_better=False (--lower-is-better) for an error or loss"
                )
            raise ValueError(
                f"{path.name}: a long-format meta-dataset needs a {column!r} column of {role}; "
                f"got {list(frame.columns)}{hint}."
            )
    if frame.empty:
        raise ValueError(
            f"{path.name}: the table has a header but no rows; expected one row per dataset "
            "and configuration."
        )
    if score != "score":
        frame = frame.rename(columns={score: "score"})
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
    if not higher_is_better:
        frame["score"] = -frame["score"]
    label = name or path.stem.split(".")[0]
    dropped: dict[str, int] = {}
    frame = _ok_rows(frame, path, label, dropped)
    unnamed = frame["dataset"].isna()
    if unnamed.any():
        dropped["no dataset name"] = int(unnamed.sum())
        warn_fallback(
            logger,
            f"{label}: {int(unnamed.sum())} rows have no dataset name and are left out.",
        )
        frame = frame[~unnamed]
        if frame.empty:
            raise ValueError(f"{path.name}: no row has a dataset name.")
    frame = frame.assign(dataset=_names(frame["dataset"]))
    params = [c for c in frame.columns if c not in RESERVED_COLUMNS]
    distributions = infer_distributions(frame, params, log, categorical)
    if not distributions:
        reserved = sorted(c for c in frame.columns if c not in params)
        raise ValueError(
            f"{path.name}: no parameter column with at least two distinct values; "
            + (
                f"the parameter columns {params} have one value each (nothing to choose)"
                if params
                else "every column is a reserved one"
            )
            + f", besides the reserved columns {reserved}. Expected one column per "
            "hyperparameter beside 'dataset' and the score."
        )
    for param, dist in distributions.items():
        if not isinstance(dist, CategoricalDistribution):  # numbers written as text
            frame[param] = pd.to_numeric(frame[param], errors="coerce").astype(float)
    frame = _merge_repeats(frame, list(distributions), label, dropped)
    keep = ["dataset", "score", *(["config_id"] if "config_id" in frame.columns else [])]
    evaluations = frame[keep + list(distributions)].copy()
    facts = [c for c in ("fingerprint", "openml_did") if c in frame.columns]
    datasets = frame.groupby("dataset", sort=False)[facts].first() if facts else pd.DataFrame()
    table = None
    if metafeatures is not None:
        if isinstance(metafeatures, pd.DataFrame):
            table = metafeatures.copy()
            if "dataset" in table.columns:
                table = table.set_index("dataset")
        else:
            table = _read_metafeatures(Path(metafeatures))
        table.index = _names(pd.Series(table.index, dtype=object)).to_numpy()
        table.index.name = "dataset"
        duplicated = sorted(set(table.index[table.index.duplicated()]))
        if duplicated:
            raise ValueError(
                f"the metafeature table has several rows for datasets {duplicated[:5]}; "
                "expected one row per dataset."
            )
    meta = MetaDataset(
        name=label,
        evaluations=evaluations,
        distributions=distributions,
        datasets=datasets,
        task=task,
        dropped_rows=dropped,
    )
    return meta.with_metafeatures(table) if table is not None else meta


def _ok_rows(frame: pd.DataFrame, path: Path, label: str, dropped: dict[str, int]) -> pd.DataFrame:
    """The rows whose ``status`` is ``ok`` (any case, surrounding spaces ignored)."""
    if "status" not in frame.columns:
        return frame
    status = frame["status"].astype(str).str.strip().str.lower()
    ok = status == "ok"
    if not ok.any():
        raise ValueError(
            f"{path.name}: no row has status 'ok'; got statuses "
            f"{sorted(set(frame['status'].astype(str)))[:10]}. Only rows with status 'ok' "
            "(any case) are used: rename the status of finished evaluations, or drop the "
            "column."
        )
    if not ok.all():
        counts = status[~ok].value_counts()
        dropped["status not ok"] = int((~ok).sum())
        message = f"{label}: {int((~ok).sum())} rows whose status is not 'ok' are left out (" + (
            ", ".join(f"{value!r}: {count}" for value, count in counts.items()) + ")."
        )
        if set(counts.index) <= set(STATUSES):  # failed or timed-out evaluations, as documented
            logger.info(message)
        else:
            warn_fallback(logger, message)
    return frame[ok]


def _names(values: pd.Series) -> pd.Series:
    """Dataset names as strings: whole numbers (``3`` or ``3.0``) become ``"3"``."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and len(values) and np.all(np.mod(numeric, 1) == 0):
        return numeric.astype("int64").astype(str).astype(object)
    return values.map(lambda v: str(v).strip()).astype(object)


def _merge_repeats(
    frame: pd.DataFrame, params: list[str], label: str, dropped: dict[str, int]
) -> pd.DataFrame:
    """One row per (dataset, parameter values): repeated evaluations get their mean score."""
    keys = ["dataset", *params]
    repeated = frame.duplicated(keys, keep="first")
    if not repeated.any():
        return frame
    n = int(repeated.sum())
    dropped["repeated configuration (mean score used)"] = n
    warn_fallback(
        logger,
        f"{label}: {n} rows repeat a configuration already recorded for their dataset; each "
        "configuration counts once in its pool, with the mean score of its rows.",
    )
    means = frame.groupby(keys, dropna=False, sort=False)["score"].transform("mean")
    return frame.assign(score=means)[~repeated]


def from_knowledge(knowledge: object, space: str, *, task: str | None = None) -> MetaDataset:
    """The evaluations of one registered space in a :class:`metaopt.knowledge.KnowledgeBase`.

    Args:
        knowledge: The knowledge base.
        space: Space name, e.g. ``"random_forest"``.
        task: Keep only this task's datasets; default the task with most datasets.

    Returns:
        The meta-dataset named ``"kb-<space>"`` (``"kb-<space>-regression"`` for regression),
        with the space's own distributions and the knowledge base's metafeatures. Each
        dataset is at its own size where every configuration was evaluated there, else at the
        base fidelity: the rows the meta-models learn from.
    """
    from metaopt import spaces

    evaluations = knowledge.for_space(space, fidelity="own_size")  # type: ignore[attr-defined]
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
    # The rows each score was measured on: what the size term of a meta-model compares.
    sizes = ["n_rows"] if "n_rows" in evaluations.columns else []
    columns = ["dataset", "config_id", "score", *distributions, *sizes]
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
    try:
        if suffixes.endswith(".parquet"):
            return pd.read_parquet(path)
        # Spaces after a separator ("d1, 0.5") are not part of the value.
        if suffixes.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path, skipinitialspace=True)
        if suffixes.endswith((".tsv", ".tsv.gz")):
            return pd.read_csv(path, sep="\t", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path.name} is empty; expected a table with a header line of column names."
        ) from None
    except (pd.errors.ParserError, OSError) as error:
        raise ValueError(f"{path.name} could not be read as {suffixes!r}: {error}") from error
    raise ValueError(f"{path.name}: expected a .csv, .tsv or .parquet file; got {suffixes!r}.")


def _read_metafeatures(path: Path) -> pd.DataFrame:
    table = _read_table(path)
    table.columns = [str(c).strip() for c in table.columns]
    if table.shape[1] < 2:
        raise ValueError(
            f"{path.name}: a metafeature table needs a 'dataset' column and at least one "
            f"metafeature column; got {list(table.columns)}."
        )
    if "dataset" in table.columns:
        table = table.set_index("dataset")
    else:
        table = table.set_index(table.columns[0])
    table.index.name = "dataset"
    numeric = table.apply(pd.to_numeric, errors="coerce")
    text = [c for c in table.columns if numeric[c].isna().sum() > table[c].isna().sum()]
    if text:
        raise ValueError(
            f"{path.name}: metafeatures must be numbers (missing values are fine); columns "
            f"{text[:5]} hold text, e.g. {table[text[0]].dropna().iloc[0]!r}. Drop or encode "
            "them."
        )
    return numeric.astype(float)
