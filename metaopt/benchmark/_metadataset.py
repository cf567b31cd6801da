"""Recorded evaluations of one search space on many datasets: the pools pool mode draws from."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from metaopt.exceptions import warn_fallback
from metaopt.knowledge._base import RESERVED_COLUMNS as KNOWLEDGE_RESERVED_COLUMNS

logger = logging.getLogger("metaopt.benchmark")

# Columns of a long-format table that are never hyperparameters: the knowledge-base schema's
# reserved names plus a few common extras of external meta-datasets.
RESERVED_COLUMNS = frozenset(KNOWLEDGE_RESERVED_COLUMNS) | {
    "task_id",
    "dataset_id",
    "openml_did",
    "seed",
}

_OPENML_ID = re.compile(r"^openml:(\d+)$")


@dataclass(frozen=True, eq=False)
class MetaDataset:
    """Recorded scores of configurations of one search space on many datasets.

    Each dataset's rows form its *pool*: in pool mode a method may only pick configurations from
    the pool of the dataset it is evaluated on, and the pool's best and worst scores define the
    normalised regret.

    Attributes:
        name: Short name used in file names and reports, e.g. ``"kb-random_forest"``.
        evaluations: One row per (dataset, configuration): columns ``dataset`` (str),
            ``config_id`` (int), ``score`` (float, higher is better) and one column per parameter
            (NaN where the parameter is inactive); optionally ``n_rows``, the rows each score
            was measured on.
        distributions: Optuna distribution of every parameter (the flat search space).
        datasets: Facts per dataset, indexed by ``dataset``: ``fingerprint`` and ``openml_did``
            (either may be missing) used to find duplicates, plus optional ``source`` (what
            :func:`metaopt.load_dataset` takes) and ``name``.
        metafeatures: Metafeatures indexed by ``dataset`` (``None`` until computed).
        task: ``"classification"`` or ``"regression"``.
        space: Name of the registered :mod:`metaopt.spaces` space the configurations come from,
            or ``None`` for an external search space.
        skipped: Datasets dropped before benchmarking, mapped to the reason.
        dropped_rows: Rows of the input left out (or merged) before benchmarking, counted by
            reason, e.g. ``{"missing or infinite score": 3}``; the report lists them.

    Example:
        >>> import pandas as pd
        >>> from optuna.distributions import FloatDistribution
        >>> evaluations = pd.DataFrame(
        ...     {"dataset": ["a", "a", "b"], "config_id": [0, 1, 0],
        ...      "score": [0.7, 0.9, 0.5], "x": [0.1, 0.9, 0.5]}
        ... )
        >>> meta = MetaDataset("toy", evaluations, {"x": FloatDistribution(0.0, 1.0)})
        >>> meta.dataset_names, len(meta.pool("a"))
        (['a', 'b'], 2)
    """

    name: str
    evaluations: pd.DataFrame
    distributions: dict[str, BaseDistribution]
    datasets: pd.DataFrame = field(default_factory=pd.DataFrame)
    metafeatures: pd.DataFrame | None = None
    task: str = "classification"
    space: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    dropped_rows: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = {"dataset", "score"} - set(self.evaluations.columns)
        if missing:
            raise ValueError(
                f"evaluations need the columns 'dataset' and 'score'; missing {sorted(missing)}."
            )
        unknown = [p for p in self.distributions if p not in self.evaluations.columns]
        if unknown:
            raise ValueError(f"parameters {unknown} have a distribution but no column.")
        evaluations = self.evaluations
        if "config_id" not in evaluations.columns:
            evaluations = evaluations.assign(
                config_id=evaluations.groupby("dataset", sort=False).cumcount()
            )
        unnamed = int(evaluations["dataset"].isna().sum())
        if unnamed:
            raise ValueError(
                f"{unnamed} of {len(evaluations)} evaluations of {self.name!r} have no dataset "
                "name (a missing value in the 'dataset' column); every row needs one."
            )
        evaluations = evaluations.assign(dataset=evaluations["dataset"].astype(str))
        evaluations = self._without_unscored(evaluations)
        object.__setattr__(self, "evaluations", evaluations.reset_index(drop=True))
        names = list(dict.fromkeys(self.evaluations["dataset"]))
        datasets = self.datasets
        if datasets.empty:
            datasets = pd.DataFrame(index=pd.Index(names, name="dataset"))
        datasets = datasets.reindex(names)
        for column in ("fingerprint", "openml_did"):
            if column not in datasets.columns:
                datasets[column] = None
        guessed = [_openml_id(d) for d in names]
        datasets["openml_did"] = [
            did if _present(did) else guess
            for did, guess in zip(datasets["openml_did"], guessed, strict=True)
        ]
        datasets.index.name = "dataset"
        object.__setattr__(self, "datasets", datasets)

    def _without_unscored(self, evaluations: pd.DataFrame) -> pd.DataFrame:
        """``evaluations`` without rows whose score is missing or infinite, counted and told.

        Such a row is a configuration without a usable result (e.g. a crashed fit): it cannot be
        a pool's best or worst, so it is left out, never silently. A dataset left with no row
        is listed in :attr:`skipped`.
        """
        try:
            scores = pd.to_numeric(evaluations["score"], errors="raise").to_numpy(dtype=float)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"the 'score' column of {self.name!r} must hold numbers (higher is better); "
                f"got {error}."
            ) from error
        finite = np.isfinite(scores)
        if not pd.api.types.is_numeric_dtype(evaluations["score"]):  # e.g. numbers as text
            evaluations = evaluations.assign(score=scores)
        if finite.all():
            return evaluations
        lost = sorted(set(evaluations["dataset"]) - set(evaluations.loc[finite, "dataset"]))
        n_bad = int((~finite).sum())
        dropped = dict(self.dropped_rows)
        dropped["missing or infinite score"] = dropped.get("missing or infinite score", 0) + n_bad
        object.__setattr__(self, "dropped_rows", dropped)
        skipped = dict(self.skipped)
        for dataset in lost:
            skipped.setdefault(dataset, "no evaluation with a finite score")
        object.__setattr__(self, "skipped", skipped)
        warn_fallback(
            logger,
            f"{self.name}: {n_bad} of {len(scores)} evaluations have a missing or infinite score "
            "and are left out of the pools"
            + (f"; {len(lost)} datasets have no other evaluation and are skipped" if lost else "")
            + " (a configuration that failed has no score to compare).",
            stacklevel=5,
        )
        return evaluations[finite]

    @property
    def param_names(self) -> list[str]:
        """Parameter names, in the order of :attr:`distributions`."""
        return list(self.distributions)

    @property
    def dataset_names(self) -> list[str]:
        """Datasets with at least one recorded evaluation, in first-seen order."""
        return list(self.datasets.index)

    def pool(self, dataset: str) -> pd.DataFrame:
        """The recorded evaluations of one dataset."""
        rows = self.evaluations[self.evaluations["dataset"] == dataset]
        if rows.empty:
            raise ValueError(f"dataset {dataset!r} has no evaluations in {self.name!r}.")
        return rows.reset_index(drop=True)

    def query_metafeatures(self, dataset: str) -> pd.Series:
        """The dataset's metafeatures as a method evaluated on its pool sees them: at the rows
        its pool was scored on when the evaluations record them (``n_rows``, as a knowledge
        base does; a large dataset's pool may be a subsample), else as given.

        Raises:
            ValueError: before :meth:`with_metafeatures`, or for a dataset without a row.
        """
        from metaopt.metafeatures import at_rows

        if self.metafeatures is None or dataset not in self.metafeatures.index:
            raise ValueError(f"{self.name!r} has no metafeatures of dataset {dataset!r}.")
        described = self.metafeatures.loc[dataset]
        if "n_rows" not in self.evaluations.columns:
            return described
        n_rows = float(self.pool(dataset)["n_rows"].median())
        return at_rows(described, n_rows) if np.isfinite(n_rows) else described

    def duplicates_of(self, dataset: str) -> set[str]:
        """``dataset`` and its group: the same fingerprint, OpenML dataset id or ``group``.

        A ``group`` fact (from :attr:`metaopt.knowledge.KnowledgeBase.groups`) joins copies of
        one table under other names, encodings, class subsets or targets.
        """
        if dataset not in self.datasets.index:
            return {dataset}
        row = self.datasets.loc[dataset]
        same = {dataset}
        columns = ["fingerprint", "openml_did"]
        if "group" in self.datasets.columns:
            columns.append("group")
        for column in columns:
            value = row[column]
            if _present(value):
                values = self.datasets[column]
                same |= set(self.datasets.index[values.map(lambda v, x=value: _same(v, x))])
        return same

    def without(self, datasets: set[str] | list[str]) -> MetaDataset:
        """A copy without the given datasets (their evaluations, facts and metafeatures)."""
        drop = set(datasets)
        keep = [d for d in self.dataset_names if d not in drop]
        return self.subset(keep)

    def subset(self, datasets: list[str]) -> MetaDataset:
        """A copy restricted to the given datasets, in their order."""
        wanted = [d for d in datasets if d in self.datasets.index]
        evaluations = self.evaluations[self.evaluations["dataset"].isin(wanted)]
        metafeatures = (
            None
            if self.metafeatures is None
            else self.metafeatures.loc[[d for d in wanted if d in self.metafeatures.index]]
        )
        return replace(
            self,
            evaluations=evaluations,
            datasets=self.datasets.loc[wanted],
            metafeatures=metafeatures,
        )

    def with_metafeatures(self, metafeatures: pd.DataFrame) -> MetaDataset:
        """A copy with metafeatures, keeping only datasets that have them.

        Datasets without a row in ``metafeatures`` are skipped and listed in :attr:`skipped`
        (with a :class:`~metaopt.exceptions.FallbackWarning` for those not skipped before).

        Raises:
            ValueError: When no dataset has a row in ``metafeatures``.
        """
        keep = [d for d in self.dataset_names if d in metafeatures.index]
        if not keep and self.dataset_names:
            raise ValueError(
                f"no dataset of {self.name!r} is in the metafeature table: its datasets are "
                f"{_some(self.dataset_names)}, the table's index (its 'dataset' column, else its "
                f"first column) has {_some(list(metafeatures.index))}."
            )
        skipped = dict(self.skipped)
        missing = [d for d in self.dataset_names if d not in metafeatures.index]
        new = [d for d in missing if d not in skipped]
        for dataset in missing:
            skipped.setdefault(dataset, "no metafeatures (not in the metafeature table)")
        if new:
            warn_fallback(
                logger,
                f"{self.name}: {len(new)} of {len(self.dataset_names)} datasets have no row in "
                f"the metafeature table and are skipped: {_some(new)}.",
            )
        reduced = replace(self, metafeatures=metafeatures.loc[keep], skipped=skipped)
        return reduced.subset(keep)

    def to_evaluations_table(self) -> pd.DataFrame:
        """The evaluations in the knowledge-base schema (``metaopt.knowledge``)."""
        frame = self.evaluations.copy()
        frame["fingerprint"] = frame["dataset"].map(self.datasets["fingerprint"]).astype(object)
        frame["fingerprint"] = [
            str(f) if _present(f) else f"unknown:{d}"
            for f, d in zip(frame["fingerprint"], frame["dataset"], strict=True)
        ]
        frame["task"] = self.task
        frame["space"] = self.space or self.name
        frame["params"] = [
            json.dumps(row, default=_json_default)
            for row in params_records(frame, self.param_names)
        ]
        for column, default in (
            ("fold_scores", None),
            ("metric", "score"),
            ("secondary_score", np.nan),
            ("fit_time", np.nan),
            ("status", "ok"),
            ("error", None),
            ("source", f"external:{self.name}"),
        ):
            if column not in frame.columns:
                frame[column] = (
                    [[] for _ in range(len(frame))] if column == "fold_scores" else (default)
                )
        return frame

    def to_knowledge_base(self) -> object:
        """This meta-dataset as a :class:`metaopt.knowledge.KnowledgeBase`."""
        from metaopt.knowledge import KnowledgeBase

        if self.metafeatures is None:
            raise ValueError(f"meta-dataset {self.name!r} has no metafeatures yet.")
        metafeatures = self.metafeatures.copy()
        metafeatures.index.name = "dataset"
        provenance = {
            "schema_version": _kb_schema_version(),
            "sources": [f"external:{self.name}"],
            "command": "metaopt.benchmark",
        }
        if "group" in self.datasets.columns:
            provenance["groups"] = {str(d): str(g) for d, g in self.datasets["group"].items()}
        return KnowledgeBase(self.to_evaluations_table(), metafeatures, provenance)


def params_records(frame: pd.DataFrame, names: list[str]) -> list[dict[str, object]]:
    """Rows as parameter dicts, leaving out inactive parameters.

    The exact values come from the JSON ``params`` column when there is one (so a categorical
    choice ``None`` stays distinct from an inactive parameter), otherwise from the parameter
    columns, where NaN means inactive.
    """
    if "params" in frame.columns:
        wanted = set(names)
        return [
            {k: v for k, v in json.loads(text).items() if k in wanted}
            for text in frame["params"].astype(str)
        ]
    columns = {name: frame[name].tolist() for name in names}
    records = []
    for i in range(len(frame)):
        row = {}
        for name in names:
            value = columns[name][i]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            row[name] = _python_value(value)
        records.append(row)
    return records


def infer_distributions(
    frame: pd.DataFrame,
    names: list[str],
    log: Mapping[str, bool] | None = None,
    categorical: Collection[str] = (),
) -> dict[str, BaseDistribution]:
    """Optuna distributions for parameter columns of an external meta-dataset.

    Numeric columns become :class:`~optuna.distributions.IntDistribution` when every value is an
    integer (``3.0`` included), otherwise :class:`~optuna.distributions.FloatDistribution`. The
    scale is read from how the recorded values are spread (:func:`sampled_on_log_scale`): a
    learning rate sampled log-uniformly between 0.01 and 2 is log, one sampled uniformly over the
    same range is not. ``log`` overrides that per parameter name. Other columns become
    categorical, as do boolean columns (missing values included) and the columns named in
    ``categorical`` (numbers used as labels, e.g. ``max_features`` chosen from 1, 2 and 4).
    Columns with fewer than two distinct values are left out: no method can choose anything
    there.
    """
    distributions: dict[str, BaseDistribution] = {}
    for name in names:
        values = frame[name].dropna()
        if values.nunique() < 2:
            logger.info("parameter %r has fewer than two distinct values: left out", name)
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        if (
            name not in categorical
            and numeric.notna().all()
            and not pd.api.types.is_bool_dtype(values)
            and not all(isinstance(v, (bool, np.bool_)) for v in values)
        ):
            low, high = float(numeric.min()), float(numeric.max())
            on_log = sampled_on_log_scale(numeric.to_numpy(dtype=float))
            if log is not None and name in log:
                on_log = bool(log[name]) and low > 0
            if np.allclose(numeric, np.round(numeric)):
                distributions[name] = IntDistribution(int(low), int(high), log=on_log)
            else:
                distributions[name] = FloatDistribution(low, high, log=on_log)
        else:
            choices = sorted({_python_value(v) for v in values}, key=str)
            distributions[name] = CategoricalDistribution(choices)
    return distributions


def sampled_on_log_scale(values: np.ndarray) -> bool:
    """Whether positive ``values`` look sampled uniformly in log space rather than linearly.

    Compares the Kolmogorov-Smirnov distance of the values to a uniform distribution over their
    range, in linear and in log space; the closer fit wins. A range under 10x, or any value at
    or below 0, is linear (a log scale changes little there, or is impossible); with only two
    distinct values, a range of three orders of magnitude or more is log.
    """
    values = np.sort(np.asarray(values, dtype=float))
    low, high = float(values[0]), float(values[-1])
    if low <= 0 or high / low < 10:
        return False
    if np.unique(values).size < 3:
        return high / low >= 1e3

    def distance(x: np.ndarray) -> float:
        unit = (x - x[0]) / (x[-1] - x[0])
        ranks = np.arange(1, len(x) + 1) / len(x)
        return float(np.max(np.maximum(ranks - unit, unit - (ranks - 1 / len(x)))))

    return distance(np.log(values)) < distance(values)


def _some(names: list[object], n: int = 5) -> str:
    """The first ``n`` of ``names`` for a message, and how many more there are."""
    shown = ", ".join(repr(str(x)) for x in names[:n])
    return f"[{shown}{f', ... ({len(names) - n} more)' if len(names) > n else ''}]"


def _python_value(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _openml_id(dataset: str) -> float:
    match = _OPENML_ID.match(dataset)
    return float(match.group(1)) if match else float("nan")


def _present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and value == "")


def _same(a: object, b: object) -> bool:
    if not _present(a) or not _present(b):
        return False
    try:
        return float(a) == float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(a) == str(b)


def _kb_schema_version() -> int:
    from metaopt.knowledge import SCHEMA_VERSION

    return int(SCHEMA_VERSION)
