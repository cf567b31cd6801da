"""The extractor: runs the group registries in a fixed order over one prepared dataset."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from metaopt.datasets import Dataset, load_dataset
from metaopt.metafeatures import (
    _general,
    _info_theory,
    _landmarking,
    _model_based,
    _statistical,
)
from metaopt.metafeatures._preprocess import PreparedData, Undefined, prepare
from metaopt.metafeatures._summary import FeatureFunction

logger = logging.getLogger("metaopt.metafeatures")

#: Group name -> registry (feature name -> function), in output order.
REGISTRY: dict[str, dict[str, FeatureFunction]] = {
    "general": _general.FEATURES,
    "statistical": _statistical.FEATURES,
    "info_theory": _info_theory.FEATURES,
    "landmarking": _landmarking.FEATURES,
    "model_based": _model_based.FEATURES,
}
GROUPS: tuple[str, ...] = tuple(REGISTRY)
#: Groups that ``budget_s`` may cut short; the others always complete.
BUDGETED_GROUPS: tuple[str, ...] = ("landmarking", "model_based")


def _resolve_groups(groups: str | Iterable[str] | None) -> tuple[str, ...]:
    if groups is None:
        return GROUPS
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, Iterable):
        raise TypeError(
            "groups must be a group name, an iterable of group names or None (all of "
            f"{list(GROUPS)}); got {type(groups).__name__}."
        )
    requested = list(groups)
    unknown = [g for g in requested if g not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown metafeature group(s) {unknown}; accepted: {list(GROUPS)}.")
    if not requested:
        raise ValueError(f"groups must name at least one of {list(GROUPS)}; got an empty list.")
    return tuple(g for g in GROUPS if g in requested)


def feature_names(groups: str | Iterable[str] | None = None) -> list[str]:
    """Names of the metafeatures of ``groups`` (default: all), in the fixed output order.

    Example:
        >>> from metaopt.metafeatures import feature_names
        >>> feature_names("general")[:3]
        ['general.n_instances', 'general.n_features', 'general.log_n_instances']
    """
    return [name for group in _resolve_groups(groups) for name in REGISTRY[group]]


class MetafeatureExtractor:
    """Computes a fixed, named vector of metafeatures for any tabular dataset.

    Args:
        groups: Groups to compute, any of ``"general"``, ``"statistical"``, ``"info_theory"``,
            ``"landmarking"``, ``"model_based"``; ``None`` for all (the default set).
        budget_s: Soft cap on the extraction time in seconds. General, statistical and
            information-theoretic features always complete; landmarking and model-based
            features not started before the cap are ``NaN`` (reason recorded).
        random_state: Seed of the row subsamples, the cross-validation splits and the trees.
        max_rows_statistics: Rows (seeded uniform sample) used by the statistical and
            information-theoretic groups; ``None`` for all rows.
        max_rows_models: Rows (seeded sample keeping every class) used by the landmarking and
            model-based groups; ``None`` for all rows.
        max_columns_pairs: Numeric columns (seeded sample) used by correlation, covariance and
            PCA when there are more.

    Attributes:
        metafeatures_: The last result (a float ``Series`` indexed by feature name).
        nan_reasons_: Feature name -> why it is ``NaN``, for every ``NaN`` in ``metafeatures_``.
        timings_: Seconds spent per group in the last extraction.
        task_: ``"classification"`` or ``"regression"`` of the last dataset.

    Example:
        >>> import numpy as np
        >>> from metaopt.metafeatures import MetafeatureExtractor
        >>> rng = np.random.default_rng(0)
        >>> X, y = rng.normal(size=(200, 5)), rng.integers(0, 2, 200)
        >>> extractor = MetafeatureExtractor(groups=["general", "statistical"]).fit(X, y)
        >>> extractor.metafeatures_["general.n_instances"]
        np.float64(200.0)
    """

    def __init__(
        self,
        groups: str | Iterable[str] | None = None,
        *,
        budget_s: float | None = None,
        random_state: int = 0,
        max_rows_statistics: int | None = 100_000,
        max_rows_models: int | None = 2_000,
        max_columns_pairs: int = 500,
    ) -> None:
        self.groups = groups
        self.budget_s = budget_s
        self.random_state = random_state
        self.max_rows_statistics = max_rows_statistics
        self.max_rows_models = max_rows_models
        self.max_columns_pairs = max_columns_pairs

    def _validate(self) -> tuple[str, ...]:
        groups = _resolve_groups(self.groups)
        if self.budget_s is not None and not (
            isinstance(self.budget_s, (int, float, np.integer, np.floating))
            and not isinstance(self.budget_s, (bool, np.bool_))
            and self.budget_s > 0
        ):
            raise ValueError(f"budget_s must be a positive number or None; got {self.budget_s!r}.")
        for name in ("max_rows_statistics", "max_rows_models"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, np.integer)) and value >= 10):
                raise ValueError(f"{name} must be an int >= 10 or None; got {value!r}.")
        if not (
            isinstance(self.max_columns_pairs, (int, np.integer)) and self.max_columns_pairs >= 2
        ):
            raise ValueError(
                f"max_columns_pairs must be an int >= 2; got {self.max_columns_pairs!r}."
            )
        return groups

    def feature_names(self) -> list[str]:
        """Names this extractor produces, in order."""
        return feature_names(self.groups)

    def fit(self, X: Any, y: Any = None, *, task: str | None = None) -> MetafeatureExtractor:
        """Compute the metafeatures of ``X`` (a ``Dataset``, DataFrame or array) and ``y``.

        Args:
            X: A ``metaopt.datasets.Dataset`` (then ``y`` is ``None``), a DataFrame (numeric,
                boolean, categorical/string/object columns; ``NaN`` for missing) or a 2-D array.
            y: Target aligned with ``X``. Rows with a missing target are dropped.
            task: ``"classification"`` or ``"regression"``; inferred when ``None`` (a
                ``Dataset``'s own task, else ``metaopt.datasets.infer_task``: categorical,
                string, boolean or few distinct integers mean classification).

        Returns:
            ``self``, with ``metafeatures_``, ``nan_reasons_``, ``timings_`` and ``task_`` set.

        Raises:
            ValueError: For input that cannot be described (no rows, no columns, a target that
                is entirely missing or misaligned, invalid settings).
            TypeError: For an unsupported type of ``X``.
        """
        groups = self._validate()
        start = time.monotonic()
        if y is None and isinstance(X, (str, Path, tuple)):
            X = load_dataset(X)  # any source load_dataset accepts: "sklearn:iris", a path, ...
        data = prepare(X, y, task=task, random_state=self.random_state)
        data.max_rows_statistics = self.max_rows_statistics
        data.max_rows_models = self.max_rows_models
        data.max_columns_pairs = int(self.max_columns_pairs)
        if self.budget_s is not None:
            data.deadline = start + float(self.budget_s)
        values: dict[str, float] = {}
        reasons: dict[str, str] = {}
        timings: dict[str, float] = {"prepare": time.monotonic() - start}
        # The matrices are small or thin: multi-threaded BLAS only adds overhead, and on a
        # busy machine its spinning threads slow everything down (seconds for one LDA fit).
        with _blas_controller().limit(limits=1):
            for group in groups:
                group_start = time.monotonic()
                for name, function in REGISTRY[group].items():
                    values[name], reason = _evaluate(function, data)
                    if reason is not None:
                        reasons[name] = reason
                timings[group] = time.monotonic() - group_start
        skipped = sum("budget_s" in reason for reason in reasons.values())
        if skipped:
            logger.info("budget_s=%s was spent: %d features skipped (NaN)", self.budget_s, skipped)
        logger.debug("metafeature timings (s): %s", timings)
        name = X.name if isinstance(X, Dataset) else None
        series = pd.Series(values, dtype=float, name=name)
        series.attrs["nan_reasons"] = dict(reasons)
        series.attrs["task"] = data.task
        self.metafeatures_ = series
        self.nan_reasons_ = reasons
        self.timings_ = timings
        self.task_ = data.task
        return self

    def extract(self, X: Any, y: Any = None, *, task: str | None = None) -> pd.Series:
        """``fit(X, y, task=task)`` and return a copy of ``metafeatures_``."""
        result = self.fit(X, y, task=task).metafeatures_.copy()
        result.attrs["nan_reasons"] = dict(self.nan_reasons_)
        result.attrs["task"] = self.task_
        return result


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """One controller for the process: creating one scans the loaded libraries (~10 ms)."""
    return ThreadpoolController()


def _evaluate(function: FeatureFunction, data: PreparedData) -> tuple[float, str | None]:
    try:
        # Overflow and 0/0 surface as non-finite values, reported below, not as warnings.
        with np.errstate(all="ignore"):
            value = float(function(data))
    except Undefined as undefined:
        return float("nan"), undefined.reason
    if not np.isfinite(value):
        # A non-finite value is an undefined one (e.g. an overflow); report it as such.
        return float("nan"), "not finite (numerical overflow or division by zero)"
    return value, None


def extract_metafeatures(
    dataset_or_X: Any,
    y: Any = None,
    *,
    groups: str | Iterable[str] | None = None,
    budget_s: float | None = None,
    random_state: int = 0,
    task: str | None = None,
) -> pd.Series:
    """Describe a dataset by a fixed, named vector of float metafeatures.

    Args:
        dataset_or_X: A ``metaopt.datasets.Dataset`` or anything else ``metaopt.load_dataset``
            accepts (``"sklearn:iris"``, a file path, ...), or the features as a
            DataFrame/2-D array.
        y: The target when ``dataset_or_X`` is not a ``Dataset``.
        groups: Groups to compute (see :class:`MetafeatureExtractor`); ``None`` for all.
        budget_s: Soft cap on the extraction time; cheap groups always complete.
        random_state: Seed of every random choice (subsamples, folds, trees).
        task: ``"classification"`` or ``"regression"``; inferred when ``None``.

    Returns:
        A float Series indexed by :func:`feature_names` (``groups``), in that order. ``NaN``
        marks an undefined feature; ``series.attrs["nan_reasons"]`` maps each ``NaN`` feature
        to the reason, and ``series.attrs["task"]`` holds the task.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from metaopt.metafeatures import extract_metafeatures
        >>> X, y = load_iris(return_X_y=True, as_frame=True)
        >>> mf = extract_metafeatures(X, y.astype("category"))
        >>> mf["general.n_classes"], round(mf["info_theory.class_entropy"], 3)
        (np.float64(3.0), 1.585)
    """
    extractor = MetafeatureExtractor(groups, budget_s=budget_s, random_state=random_state)
    return extractor.extract(dataset_or_X, y, task=task)


def describe_dataset(dataset: Any) -> pd.Series:
    """The metafeatures by which metaopt compares datasets: one rule, at build and query time.

    The knowledge builder describes every dataset it records with this function, on the data as
    loaded (before any row cap of its evaluations), and :func:`metaopt.suggest` and
    :class:`metaopt.MetaSampler` describe the user's dataset with it, so a dataset of the
    knowledge base queried by its own file is at distance 0 from itself. The result never
    depends on the machine: no time budget, seed 0, and the expensive groups are capped by rows
    instead (statistics on a seeded sample of at most 100,000 rows, landmarking and model-based
    features on at most 2,000 rows keeping every class). Counts such as ``n_instances`` always
    describe the full data, also for a dataset larger than anything the knowledge base
    evaluated.

    Args:
        dataset: A :class:`metaopt.datasets.Dataset` (or anything :func:`extract_metafeatures`
            accepts).

    Example:
        >>> import metaopt
        >>> from metaopt.metafeatures import describe_dataset
        >>> iris = metaopt.load_dataset("sklearn:iris")
        >>> describe_dataset(iris).equals(describe_dataset(iris))
        True
    """
    return extract_metafeatures(dataset, random_state=0)
