"""The :class:`KnowledgeBase`: evaluations of configurations on datasets, plus metafeatures."""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from metaopt.exceptions import warn_fallback

logger = logging.getLogger("metaopt.knowledge")

#: Version of the on-disk layout; bumped whenever columns or their meaning change.
#: 2: the fidelity of each evaluation (``fidelity``, ``n_rows``, ``n_trees``) and dataset groups.
SCHEMA_VERSION = 2
EVALUATIONS_FILE = "evaluations.parquet"
METAFEATURES_FILE = "metafeatures.parquet"
PROVENANCE_FILE = "provenance.json"
#: Columns every evaluations table has, in this order; no parameter may use these names.
RESERVED_COLUMNS = (
    "dataset",
    "fingerprint",
    "task",
    "space",
    "config_id",
    "params",
    "score",
    "fold_scores",
    "metric",
    "secondary_score",
    "fit_time",
    "status",
    "error",
    "source",
    "fidelity",
    "n_rows",
    "n_trees",
)
STATUSES = ("ok", "failed", "timeout")
#: ``fidelity`` values: every configuration on rows capped at the build's base cap (and cheaper
#: forests), or a subset of configurations at the dataset's own size (up to the full cap).
FIDELITIES = ("base", "full")
#: What ``for_space`` and the meta-models read: each dataset at its own size where every
#: configuration was evaluated there, else at the base fidelity (:func:`own_size_rows`).
OWN_SIZE = "own_size"
#: The columns that identify one evaluation.
KEY_COLUMNS = ["dataset", "space", "config_id", "source", "fidelity"]


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(temp_path)`` then rename onto ``path``, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temp))
        os.chmod(temp, 0o644)  # mkstemp creates owner-only files; these are shared data
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` atomically."""
    _atomic_write(path, lambda temp: frame.to_parquet(temp))


def write_json(data: Mapping[str, Any], path: Path) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str)
    _atomic_write(path, lambda temp: temp.write_text(text + "\n"))


def own_size_rows(evaluations: pd.DataFrame) -> pd.DataFrame:
    """Each (dataset, space, task) at its own size where the full fidelity holds every one of
    its base configurations, else at the base fidelity.

    A dataset's metafeatures describe it at its own size, so those are the scores that match
    them; a full fidelity that holds only a few configurations (mostly the base's best, which
    score higher with more rows) would make those look better than the ones never measured
    there, so such a dataset keeps its base rows. A table without a ``fidelity`` column is all
    base.
    """
    if "fidelity" not in evaluations.columns:
        return evaluations
    fidelity = evaluations["fidelity"].fillna("base")
    base, full = evaluations[fidelity == "base"], evaluations[fidelity == "full"]
    if full.empty:
        return base
    keys = ["dataset", "space", "task"]
    # Only groups with at least as many full rows as base rows can be complete (cheap first).
    sizes = pd.concat(
        [base.groupby(keys).size().rename("base"), full.groupby(keys).size().rename("full")],
        axis=1,
    )
    candidates = sizes.index[sizes["full"] >= sizes["base"]]
    if len(candidates) == 0:
        return base
    wanted = base[pd.MultiIndex.from_frame(base[keys]).isin(candidates)]
    wanted = wanted[[*keys, "params"]].drop_duplicates()
    have = full[[*keys, "params"]].drop_duplicates().assign(_at_full=True)
    covered = wanted.merge(have, on=[*keys, "params"], how="left")
    complete = covered.groupby(keys)["_at_full"].count() == wanted.groupby(keys)["params"].count()
    complete_keys = complete[complete].index
    if len(complete_keys) == 0:
        return base
    at_full = pd.MultiIndex.from_frame(full[keys]).isin(complete_keys)
    replaced = pd.MultiIndex.from_frame(base[keys]).isin(complete_keys)
    return pd.concat([base[~replaced], full[at_full]]).sort_index()


def parameter_columns(evaluations: pd.DataFrame) -> list[str]:
    """The parameter columns of an evaluations table (every non-reserved column)."""
    return [c for c in evaluations.columns if c not in RESERVED_COLUMNS]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _as_strings(values: pd.Series) -> pd.Series:
    """``values`` as ``object`` strings, ``None`` where missing."""
    if isinstance(values.dtype, pd.StringDtype) or (
        isinstance(values.dtype, pd.ArrowDtype) and pd.api.types.is_string_dtype(values.dtype)
    ):  # already strings (a parquet file's columns): no Python loop over the rows
        return values.astype(object).where(values.notna(), None)
    return pd.Series(
        [None if _is_missing(v) else str(v) for v in values], index=values.index, dtype=object
    )


def normalise_parameter_column(values: pd.Series) -> pd.Series:
    """One dtype per parameter column: float for numbers, boolean, or str; missing if inactive."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return values.astype("boolean")
    if pd.api.types.is_numeric_dtype(dtype):
        return values.astype(float)
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return _as_strings(values) if values.notna().any() else values.astype(float)
    present = [v for v in values if not _is_missing(v)]
    if not present:
        return values.astype(float)
    if all(isinstance(v, bool | np.bool_) for v in present):
        return values.astype("boolean")
    if all(isinstance(v, int | float | np.integer | np.floating) for v in present):
        return values.astype(float)
    return _as_strings(values)


_STRING_COLUMNS = (
    "dataset",
    "fingerprint",
    "task",
    "space",
    "params",
    "metric",
    "status",
    "fidelity",
)
#: pandas 3 always copies on write (earlier versions only when the option is set).
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3
_FLOAT_COLUMNS = ("score", "secondary_score", "fit_time", "n_rows", "n_trees")
#: Values of the fidelity columns for tables made without them (e.g. from Optuna studies):
#: a base evaluation on an unknown number of rows.
_FIDELITY_DEFAULTS = {"fidelity": "base", "n_rows": math.nan, "n_trees": math.nan}


def canonical_evaluations(evaluations: pd.DataFrame) -> pd.DataFrame:
    """A copy with the schema's dtypes, so tables compare equal however they were produced.

    Strings are ``object`` (``None`` when missing), scores, times and sizes ``float64``,
    ``config_id`` ``int64``, ``fold_scores`` lists of floats, parameters as
    :func:`normalise_parameter_column`. Missing fidelity columns are added (a base evaluation
    on an unknown number of rows).
    """
    # Every column is replaced below. With copy-on-write (always on from pandas 3) a shallow
    # copy cannot let the caller's frame and this one change each other: copying all the data
    # first is wasted (a large part of converting the shipped base).
    frame = evaluations.copy(deep=not _COPY_ON_WRITE)
    for column, value in _FIDELITY_DEFAULTS.items():
        if column not in frame.columns and "dataset" in frame.columns:
            frame[column] = value
    for column in frame.columns:
        if column in _STRING_COLUMNS or column in ("error", "source"):
            frame[column] = _as_strings(frame[column])
        elif column in _FLOAT_COLUMNS:
            frame[column] = frame[column].astype(float)
        elif column == "config_id":
            frame[column] = frame[column].astype("int64")
        elif column == "fold_scores":
            frame[column] = _fold_score_lists(frame[column])
        else:
            frame[column] = normalise_parameter_column(frame[column])
    return frame


def _is_float_lists(dtype: pa.DataType) -> bool:
    """Whether ``dtype`` is an Arrow list of floats (what fold scores are saved as)."""
    lists = pa.types.is_list(dtype) or pa.types.is_large_list(dtype)
    return lists and dtype.value_type in (pa.float32(), pa.float64())


def _fold_score_lists(values: pd.Series) -> list[list[float]]:
    """Each cell as a list of floats: ``[]`` for a missing cell, NaN for a missing score."""
    if isinstance(values.dtype, pd.ArrowDtype) and _is_float_lists(values.dtype.pyarrow_dtype):
        # Arrow lists (KnowledgeBase.read): all scores to floats at once, cut at the offsets,
        # instead of a float() per score of ~100,000 cells.
        lists = pa.array(values.array)
        if isinstance(lists, pa.ChunkedArray):  # as older pyarrow versions return
            lists = lists.combine_chunks()
        scores = pc.list_flatten(lists).cast(pa.float64()).fill_null(math.nan)
        flat = scores.to_numpy(zero_copy_only=False).tolist()
        lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
        ends = np.cumsum(lengths).tolist()
        return [flat[start:end] for start, end in zip([0, *ends][:-1], ends, strict=True)]
    # Parquet stores a part whose fold scores are all NaN as nulls: read them as NaN.
    return [[] if v is None else [math.nan if x is None else float(x) for x in v] for v in values]


def _read_evaluations(path: Path) -> pd.DataFrame:
    """The evaluations table saved at ``path`` as ``pd.read_parquet`` reads it, fold scores aside.

    ``pd.read_parquet`` makes a numpy array of every fold-score cell, which
    :func:`canonical_evaluations` then converts cell by cell; left an Arrow list column, they
    are converted all at once.
    """
    table = pq.read_table(path)
    folds = table.schema.get_field_index("fold_scores")
    if folds < 0 or not _is_float_lists(table.schema.field(folds).type):
        frame = table.to_pandas()
    else:
        frame = table.remove_column(folds).to_pandas()
        # Index columns saved by pandas are not columns of the frame.
        index = (table.schema.pandas_metadata or {}).get("index_columns", [])
        position = sum(name not in index for name in table.column_names[:folds])
        scores = pd.arrays.ArrowExtensionArray(table.column(folds))
        frame.insert(position, "fold_scores", pd.Series(scores, index=frame.index))
    attrs = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")  # as pd.read_parquet restores
    if attrs:
        frame.attrs = json.loads(attrs)
    return frame


def build_parts(provenance: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The provenance of each build merged into ``provenance`` (itself when it is one build).

    Merged bases (``KnowledgeBase.concat``) list their builds under ``"parts"``; a base merged
    again stays one flat list of builds.
    """
    if "parts" not in provenance:
        return [dict(provenance)]
    return [part for item in provenance["parts"] for part in build_parts(item)]


class KnowledgeBase:
    """How configurations of the search spaces performed on many datasets.

    Args:
        evaluations: One row per (dataset, space, configuration); see
            ``docs/knowledge.md`` for the columns.
        metafeatures: One row per dataset, indexed by ``dataset``, one float column per
            metafeature in the extractor's order.
        provenance: How it was built: ``schema_version``, library versions, date, sources,
            command, settings.

    Example:
        >>> import metaopt.knowledge
        >>> kb = metaopt.knowledge.load()
        >>> "hist_gradient_boosting" in kb.spaces
        True
        >>> knn = kb.for_space("knn")
        >>> sorted(knn["metric"].unique())  # r2 (regression) can be negative
        ['balanced_accuracy', 'r2']
        >>> bool(knn.query("metric == 'balanced_accuracy'")["score"].between(0, 1).all())
        True
    """

    def __init__(
        self,
        evaluations: pd.DataFrame,
        metafeatures: pd.DataFrame,
        provenance: Mapping[str, Any],
    ) -> None:
        if not isinstance(evaluations, pd.DataFrame) or not isinstance(metafeatures, pd.DataFrame):
            raise TypeError(
                "evaluations and metafeatures must be pandas DataFrames, got "
                f"{type(evaluations).__name__} and {type(metafeatures).__name__}"
            )
        self.evaluations = canonical_evaluations(evaluations)
        self.metafeatures = metafeatures
        self.provenance: dict[str, Any] = dict(provenance)

    def __repr__(self) -> str:
        return (
            f"KnowledgeBase(datasets={len(self.datasets)}, spaces={self.spaces}, "
            f"evaluations={len(self.evaluations)})"
        )

    def __len__(self) -> int:
        return len(self.evaluations)

    @property
    def spaces(self) -> list[str]:
        """Names of the spaces with at least one successful evaluation, sorted.

        A space whose every evaluation failed is refused: it is not listed, and
        :meth:`for_space` raises for it.
        """
        ok = self.evaluations["status"] == "ok"
        return sorted(self.evaluations.loc[ok, "space"].dropna().unique().tolist())

    @property
    def groups(self) -> dict[str, str]:
        """Every dataset's group: datasets that are the same data under other names share one.

        Copies of one table across sources (an OpenML file and its PMLB re-export, a class
        subset, another target column of it) form a group, named after one member, as the
        build recorded them; datasets with the same content fingerprint always share one. A
        dataset with no copy is its own group. Leave-one-out evaluations leave whole groups out
        (:meth:`without_group_of`).
        """
        recorded = self.provenance.get("groups") or {}
        groups = {d: str(recorded.get(d, d)) for d in self.datasets}
        # The same rows under two ids (bases merged with concat, studies of one dataset) are
        # one group whatever was recorded: their content fingerprints are equal.
        for members in self._shared_fingerprints():
            joined = {groups[m] for m in members}
            name = min(joined)
            groups = {d: name if g in joined else g for d, g in groups.items()}
        return groups

    def _shared_fingerprints(self) -> list[list[str]]:
        """Sets of datasets with one content fingerprint (cached per evaluations table)."""
        key = (id(self.evaluations), len(self.evaluations))
        cached = getattr(self, "_fingerprint_cache", None)
        if cached is None or cached[0] != key:
            fingerprints = self.evaluations.groupby("dataset")["fingerprint"].first().dropna()
            shared = [
                sorted(map(str, members))
                for members in fingerprints.groupby(fingerprints).groups.values()
                if len(members) > 1
            ]
            self._fingerprint_cache = (key, shared)
        return self._fingerprint_cache[1]

    def group_members(self, dataset: str) -> list[str]:
        """``dataset`` and every dataset of the knowledge base in its group, sorted."""
        groups = self.groups
        group = groups.get(dataset, dataset)
        return sorted({d for d, g in groups.items() if g == group} | {dataset})

    def without_group_of(self, datasets: Iterable[str]) -> KnowledgeBase:
        """A new knowledge base without ``datasets`` and every dataset in their groups."""
        unwanted = {m for d in _as_ids(datasets) for m in self.group_members(d)}
        return self.without(unwanted)

    @property
    def datasets(self) -> list[str]:
        """Ids of the datasets with evaluations, sorted."""
        return sorted(self.evaluations["dataset"].dropna().unique().tolist())

    def check_covers(self, space: str, task: str | None = None) -> None:
        """Raise ``ValueError`` unless ``space`` has evaluations (on ``task`` datasets, if given).

        Example:
            >>> from metaopt import knowledge
            >>> knowledge.load().check_covers("svm", "regression")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            ValueError: the knowledge base has no regression evaluations of space 'svm'; ...
        """
        if space not in self.spaces:
            raise ValueError(f"unknown space {space!r}: the knowledge base holds {self.spaces}")
        _check_task(task)
        if task is None:
            return
        ok = self.evaluations[self.evaluations["status"] == "ok"]
        covered = ok.groupby(["space", "task"])["dataset"].nunique()
        if (space, task) in covered.index:
            return
        listing = ", ".join(f"{s} ({t}, {n} datasets)" for (s, t), n in covered.items())
        raise ValueError(
            f"the knowledge base has no {task} evaluations of space {space!r}; it covers: "
            f"{listing}"
        )

    def space_matches(self, names: Iterable[str], task: str | None = None) -> pd.DataFrame:
        """How well each space's parameter names match ``names`` (an objective's), best first.

        Ranked by the Jaccard overlap of the name sets (a forest objective shares
        ``max_features`` with gradient boosting too, but all of its names only with the forest
        spaces), then by the number of successful evaluations (``random_forest`` and
        ``extra_trees`` have the same names; the better-known space wins), then by name.

        Returns:
            Columns ``space``, ``shared`` (names in common), ``jaccard`` and ``evaluations``.

        Example:
            >>> from metaopt import knowledge
            >>> knowledge.load().space_matches(["C", "gamma"])["space"].iloc[0]
            'svm'
        """
        if isinstance(names, str):
            raise TypeError(f"names must be a list of parameter names, got the str {names!r}")
        _check_task(task)
        wanted = set(names)
        ok = self.evaluations[self.evaluations["status"] == "ok"]
        if task is not None:
            ok = ok[ok["task"] == task]
        counts = ok["space"].value_counts()
        rows = []
        for space in sorted(counts.index):
            known = set(self.param_names(space, task))
            union = wanted | known
            rows.append(
                {
                    "space": space,
                    "shared": len(wanted & known),
                    "jaccard": len(wanted & known) / len(union) if union else 0.0,
                    "evaluations": int(counts[space]),
                }
            )
        frame = pd.DataFrame(rows, columns=["space", "shared", "jaccard", "evaluations"])
        return frame.sort_values(
            ["jaccard", "evaluations", "space"], ascending=[False, False, True], kind="stable"
        ).reset_index(drop=True)

    def _check_space(self, space: str) -> None:
        if space not in self.spaces:
            raise ValueError(f"no evaluations for space {space!r}; available: {self.spaces}")

    def param_names(self, space: str, task: str | None = None) -> list[str]:
        """Parameter names of ``space`` (its registered distributions when it is registered).

        Args:
            space: The space.
            task: Only this task's parameters; ``None``: those of every task the space was
                evaluated for (a classification forest has ``criterion``, a regression one not).
        """
        self._check_space(space)
        rows = self.evaluations[self.evaluations["space"] == space]
        if task is not None:
            rows = rows[rows["task"] == task]
            if rows.empty:
                tasks = set(self.evaluations.loc[self.evaluations["space"] == space, "task"])
                raise ValueError(
                    f"no evaluations of space {space!r} for task {task!r}; "
                    f"available: {sorted(tasks)}"
                )
        from metaopt import spaces as registry

        if space in registry.names():
            names: list[str] = []
            for each in sorted(set(rows["task"])):
                distributions = registry.get(space, str(each)).distributions
                names += [n for n in distributions if n not in names]
            return names
        columns = parameter_columns(rows)
        return [c for c in columns if rows[c].notna().any()]

    def for_space(self, space: str, fidelity: str | None = "base") -> pd.DataFrame:
        """The successful evaluations of ``space``, with only its own parameter columns.

        Args:
            space: The space.
            fidelity: ``"base"`` (every configuration, the default), ``"full"`` (the subset
                evaluated at the dataset's own size), ``"own_size"`` (each dataset at its own
                size where every configuration was evaluated there, else at the base: what
                the meta-models learn from, :func:`own_size_rows`) or ``None`` for all rows.
        """
        self._check_space(space)
        accepted = (*FIDELITIES, OWN_SIZE)
        if fidelity is not None and fidelity not in accepted:
            raise ValueError(f"fidelity must be one of {accepted} or None, got {fidelity!r}")
        evaluations = self.evaluations[self.evaluations["space"] == space]
        if fidelity == OWN_SIZE:
            evaluations = own_size_rows(evaluations)
        elif fidelity is not None:
            evaluations = evaluations[evaluations["fidelity"] == fidelity]
        rows = evaluations[evaluations["status"] == "ok"]
        params = [c for c in self.param_names(space) if c in rows.columns]
        keep = [c for c in RESERVED_COLUMNS if c in rows.columns] + params
        return rows[keep].reset_index(drop=True)

    def subset(self, datasets: Iterable[str]) -> KnowledgeBase:
        """A new knowledge base with only ``datasets``.

        Raises:
            ValueError: when a dataset is not in the knowledge base (a misspelled id would
                otherwise select nothing); the message names the closest known ids.
        """
        wanted = _as_ids(datasets)
        known = set(self.datasets)
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(_unknown_datasets_message(unknown, sorted(known)))
        return self._selected(self.evaluations["dataset"].isin(wanted))

    def without(self, datasets: Iterable[str]) -> KnowledgeBase:
        """A new knowledge base without ``datasets`` (e.g. for leave-one-dataset-out).

        Ids the base does not hold are ignored, so a dataset can be left out whether or not
        the base has it (unlike :meth:`subset`, which refuses unknown ids). To leave out a
        dataset with its copies, use :meth:`without_group_of`.
        """
        return self._selected(~self.evaluations["dataset"].isin(_as_ids(datasets)))

    def _selected(self, rows: pd.Series) -> KnowledgeBase:
        """The rows ``rows`` of this (already canonical) table, without re-validating types."""
        kept = set(self.evaluations.loc[rows, "dataset"])
        selected = KnowledgeBase.__new__(KnowledgeBase)
        selected.evaluations = self.evaluations[rows].reset_index(drop=True)
        selected.metafeatures = self.metafeatures[self.metafeatures.index.isin(kept)]
        selected.provenance = dict(self.provenance)
        if "parts" in self.provenance:
            # A merged base keeps the record of only the builds that made what is kept (a build
            # part that does not list its datasets is kept: nothing says it is not needed).
            selected.provenance["parts"] = [
                part
                for part in build_parts(self.provenance)
                if not part.get("datasets") or kept & set(part["datasets"])
            ]
        return selected

    def concat(self, other: KnowledgeBase) -> KnowledgeBase:
        """Both knowledge bases in one; metafeatures of a dataset in both come from ``self``.

        Two bases whose datasets are described by different metafeatures (built with other
        metaopt versions, or a study that recorded only a few) merge with the union of the
        columns, missing (NaN) where a base lacks one, and a
        :class:`~metaopt.exceptions.FallbackWarning` naming them.

        Raises:
            ValueError: when both hold the same (dataset, space, config_id, source, fidelity)
                row, or one dataset id names other data (another content fingerprint) in each.
        """
        if not isinstance(other, KnowledgeBase):
            raise TypeError(f"can only concat a KnowledgeBase, got {type(other).__name__}")
        _check_same_data(self.evaluations, other.evaluations)
        evaluations = pd.concat([self.evaluations, other.evaluations], ignore_index=True)
        keys = KEY_COLUMNS
        duplicated = evaluations.duplicated(keys)
        if duplicated.any():
            example = evaluations.loc[duplicated, keys].iloc[0].to_dict()
            raise ValueError(
                f"{int(duplicated.sum())} evaluations are in both knowledge bases, e.g. {example}"
            )
        for column in parameter_columns(evaluations):
            evaluations[column] = normalise_parameter_column(evaluations[column])
        extra = other.metafeatures[~other.metafeatures.index.isin(self.metafeatures.index)]
        _warn_other_metafeatures(self.metafeatures, extra)
        metafeatures = pd.concat([self.metafeatures, extra]) if len(extra) else self.metafeatures
        parts: list[dict[str, Any]] = []
        for part in [*build_parts(self.provenance), *build_parts(other.provenance)]:
            if part not in parts:  # two pieces of one build keep one record of it
                parts.append(part)
        provenance: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "parts": parts}
        # What readers look up by dataset stays at the top: groups keep leave-one-group-out
        # whole, and the datasets' sources keep the data findable.
        for key in ("datasets", "groups"):
            merged = {**(other.provenance.get(key) or {}), **(self.provenance.get(key) or {})}
            if key == "datasets":
                # A subset keeps its build's facts of every dataset: those of a dataset only
                # the other base holds (say, evaluated again since) come from that base.
                theirs = other.provenance.get(key) or {}
                merged.update(
                    {d: theirs[d] for d in set(other.datasets) - set(self.datasets) if d in theirs}
                )
            if merged:
                provenance[key] = merged
        return KnowledgeBase(evaluations, metafeatures, provenance)

    def validate(self, *, require_metafeatures: bool = True) -> KnowledgeBase:
        """Check the schema; return ``self`` or raise ``ValueError`` listing every problem.

        Args:
            require_metafeatures: Also require a metafeature row for every dataset.
        """
        problems = validation_problems(self, require_metafeatures=require_metafeatures)
        if problems:
            raise ValueError("invalid knowledge base:\n- " + "\n- ".join(problems))
        return self

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``evaluations.parquet``, ``metafeatures.parquet`` and ``provenance.json``.

        Each file is written atomically. Returns the directory.

        Raises:
            ValueError: The base is one :meth:`read` would refuse (see :meth:`validate`; a
                base may describe all of its datasets or none).
        """
        problems = validation_problems(self, require_metafeatures=not self.metafeatures.empty)
        if problems:
            raise ValueError("not saved, it could not be read back:\n- " + "\n- ".join(problems))
        directory = Path(directory).expanduser()
        evaluations = self.evaluations.copy()
        evaluations["fold_scores"] = evaluations["fold_scores"].map(
            lambda v: [float(x) for x in v] if v is not None else []
        )
        write_parquet(evaluations, directory / EVALUATIONS_FILE)
        write_parquet(self.metafeatures, directory / METAFEATURES_FILE)
        provenance = {**self.provenance, "schema_version": SCHEMA_VERSION}
        write_json(provenance, directory / PROVENANCE_FILE)
        return directory

    @classmethod
    def read(cls, directory: str | os.PathLike[str]) -> KnowledgeBase:
        """Read a knowledge base written by :meth:`save`.

        Raises:
            ValueError: for a missing or corrupted file or another schema version.
        """
        directory = Path(directory).expanduser()
        if directory.exists() and not directory.is_dir():
            raise ValueError(
                f"knowledge base at {directory}: not a directory; pass the directory that "
                f"KnowledgeBase.save wrote ({EVALUATIONS_FILE}, {METAFEATURES_FILE}, "
                f"{PROVENANCE_FILE})"
            )
        paths = [directory / n for n in (EVALUATIONS_FILE, METAFEATURES_FILE, PROVENANCE_FILE)]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise ValueError(f"knowledge base at {directory} lacks {missing}")
        try:
            provenance = json.loads(paths[2].read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"corrupted {paths[2]}: {exc}") from exc
        version = provenance.get("schema_version") if isinstance(provenance, dict) else None
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"knowledge base at {directory} has schema_version {version!r}; this version of "
                f"metaopt reads schema_version {SCHEMA_VERSION}: rebuild it with "
                "metaopt.knowledge.build or experiments/build_knowledge.py"
            )
        frames = []
        for path, reader in zip(paths[:2], (_read_evaluations, pd.read_parquet), strict=True):
            try:
                frames.append(reader(path))
            except Exception as exc:  # pyarrow raises several types for damaged files
                raise ValueError(f"corrupted {path}: {type(exc).__name__}: {exc}") from exc
        evaluations, metafeatures = frames
        missing_columns = [c for c in RESERVED_COLUMNS if c not in evaluations.columns]
        if missing_columns:
            raise ValueError(f"{paths[0]} lacks the columns {missing_columns}")
        try:
            kb = cls(evaluations, metafeatures, provenance)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{paths[0]} has values of the wrong type: {exc}") from exc
        # A base built without descriptions (build(metafeatures=False)) is readable; one that
        # describes some datasets must describe them all (as save checks).
        problems = validation_problems(kb, require_metafeatures=not kb.metafeatures.empty)
        if problems:
            raise ValueError(f"invalid knowledge base at {directory}:\n- " + "\n- ".join(problems))
        return kb


def _check_same_data(first: pd.DataFrame, second: pd.DataFrame) -> None:
    """Raise ``ValueError`` when a dataset id of both tables names other data in each."""
    # Unknown fingerprints (e.g. datasets from Optuna studies) cannot be compared.
    ours = first.groupby("dataset")["fingerprint"].first().dropna()
    theirs = second.groupby("dataset")["fingerprint"].first().dropna()
    shared = ours.index.intersection(theirs.index)
    differ = [d for d in shared if ours[d] != theirs[d]]
    if differ:
        examples = ", ".join(f"{d!r} ({ours[d]} and {theirs[d]})" for d in differ[:3])
        raise ValueError(
            f"{len(differ)} dataset ids name other data in each knowledge base (their content "
            f"fingerprints differ): {examples}; give the datasets of one base other ids "
            "(rebuild it with a mapping of new ids) or drop them with .without(...)"
        )


def _warn_other_metafeatures(ours: pd.DataFrame, extra: pd.DataFrame) -> None:
    """Warn when ``extra`` (another base's datasets) is described by other metafeatures."""
    if ours.empty or extra.empty or list(ours.columns) == list(extra.columns):
        return
    lacking = [c for c in ours.columns if c not in extra.columns]
    added = [c for c in extra.columns if c not in ours.columns]
    if not lacking and not added:
        return  # the same metafeatures in another order: pd.concat aligns them
    said = []
    if lacking:
        said.append(
            f"{len(lacking)} metafeatures of the first (e.g. {lacking[:3]}) are missing (NaN) "
            f"for the {len(extra)} datasets the second adds"
        )
    if added:
        said.append(
            f"{len(added)} metafeatures only the second has (e.g. {added[:3]}) are missing "
            f"(NaN) for the {len(ours)} datasets of the first"
        )
    warn_fallback(
        logger,
        "the merged knowledge bases describe their datasets by other metafeatures: "
        + "; ".join(said)
        + " (describe every dataset with one metaopt version to compare them on all)",
        stacklevel=4,
    )


def _check_task(task: str | None) -> None:
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be 'classification', 'regression' or None, got {task!r}")


def _unknown_datasets_message(unknown: list[str], known: list[str]) -> str:
    """Which ``unknown`` datasets were asked for, and the known ids closest to them."""
    if not known:
        return f"unknown datasets {unknown}: the knowledge base holds no dataset"
    close = sorted({m for u in unknown for m in difflib.get_close_matches(u, known, n=3)})
    listing = known if len(known) <= 10 else [*known[:10], "..."]
    hint = f" (did you mean {close}?)" if close else ""
    return (
        f"unknown datasets {unknown}{hint}; the knowledge base holds {len(known)} datasets "
        f"(KnowledgeBase.datasets): {listing}"
    )


def _as_ids(datasets: Iterable[str]) -> set[str]:
    if isinstance(datasets, str):
        return {datasets}
    return {str(d) for d in datasets}


def validation_problems(kb: KnowledgeBase, *, require_metafeatures: bool = True) -> list[str]:
    """Every schema problem of ``kb`` as a sentence (empty when valid)."""
    problems: list[str] = []
    ev = kb.evaluations
    missing = [c for c in RESERVED_COLUMNS if c not in ev.columns]
    if missing:
        return [f"evaluations lack columns {missing}"]
    bad_status = sorted(set(ev["status"].dropna()) - set(STATUSES))
    if bad_status or ev["status"].isna().any():
        problems.append(f"status must be one of {STATUSES}, found {bad_status or [None]}")
    ok = ev["status"] == "ok"
    if ev.loc[ok, "score"].isna().any():
        problems.append(f"{int(ev.loc[ok, 'score'].isna().sum())} ok rows have no score")
    if ev.loc[~ok, "score"].notna().any():
        problems.append("failed or timed-out rows must have score NaN")
    if not ev["fidelity"].isin(FIDELITIES).all():
        problems.append(f"fidelity must be one of {FIDELITIES}")
    if (ev["n_rows"] < 1).any():
        problems.append("n_rows must be a positive number of rows (or NaN when unknown)")
    if not ev["task"].isin(["classification", "regression"]).all():
        problems.append("task must be 'classification' or 'regression'")
    keys = KEY_COLUMNS
    if ev.duplicated(keys).any():
        problems.append(f"{int(ev.duplicated(keys).sum())} duplicated {keys} rows")
    for column in ("dataset", "fingerprint", "space", "params", "metric", "source"):
        if ev[column].isna().any():
            problems.append(f"column {column!r} has missing values")
    try:  # the same configurations recur on every dataset: parse each once
        parsed = pd.Series(pd.unique(ev["params"].dropna())).map(json.loads)
    except (TypeError, ValueError) as exc:
        problems.append(f"params must be JSON objects: {exc}")
    else:
        if not parsed.map(lambda p: isinstance(p, dict)).all():
            problems.append("params must be JSON objects")
        else:
            columns = set(parameter_columns(ev))
            unknown = set().union(*parsed.map(set)) - columns if len(parsed) else set()
            if unknown:
                problems.append(f"params name parameters without a column: {sorted(unknown)}")
    mf = kb.metafeatures
    if mf.index.name != "dataset":
        problems.append(f"metafeatures index must be named 'dataset', got {mf.index.name!r}")
    if mf.index.duplicated().any():
        problems.append("metafeatures has duplicated datasets")
    non_float = [c for c in mf.columns if not pd.api.types.is_float_dtype(mf[c])]
    if non_float:
        problems.append(f"metafeature columns must be float, not {non_float[:5]}")
    if require_metafeatures:
        lacking = sorted(set(ev["dataset"]) - set(mf.index))
        if lacking:
            problems.append(f"{len(lacking)} datasets lack metafeatures, e.g. {lacking[:3]}")
    if kb.provenance.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        problems.append(f"provenance schema_version is not {SCHEMA_VERSION}")
    return problems
