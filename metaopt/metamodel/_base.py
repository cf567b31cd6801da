"""What every meta-model shares: reading the knowledge table, scaling metafeatures, ranking."""

from __future__ import annotations

import logging
import math
import numbers
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from metaopt.exceptions import warn_fallback
from metaopt.knowledge._base import own_size_rows
from metaopt.metamodel._data import (
    as_tables,
    resolve_task,
    select_rows,
    space_tasks,
)
from metaopt.metamodel._normalize import NORMALIZATIONS, normalize_scores
from metaopt.metamodel._scaling import MetafeatureScaler

_logger = logging.getLogger("metaopt.metamodel")
_PACKAGE = str(Path(__file__).resolve().parent)

#: The tasks a knowledge table holds.
TASKS: tuple[str, ...] = ("classification", "regression")

#: What ``fit`` sets; a fit that raises removes them, so the model is left unfitted.
FITTED_ATTRIBUTES: tuple[str, ...] = (
    "scaler_",
    "scaled_metafeatures_",
    "metafeature_names_",
    "models_",
    "datasets_",
    "typical_distance_",
    "spaces_",
)


def warn_user(message: str) -> None:
    """:func:`~metaopt.exceptions.warn_fallback`, pointing at the first caller outside here."""
    frame = sys._getframe(1)
    level = 3  # warn_fallback -> warn_user -> its caller
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    warn_fallback(_logger, message, stacklevel=level)


def check_int(
    value: Any, name: str, minimum: int, *, wrong_type: type[Exception] = ValueError
) -> None:
    """Raise unless ``value`` is an integer (a NumPy one included, not a bool) >= ``minimum``.

    An option of the wrong type is a ValueError, as scikit-learn's are; an argument's
    (``wrong_type=TypeError``) a TypeError.
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool | np.bool_):
        raise wrong_type(
            f"{name} must be an int >= {minimum}, got {type(value).__name__} {value!r}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def check_number(value: Any, name: str, *, positive: bool = False) -> None:
    """Raise ValueError unless ``value`` is a finite real number, > 0 (``positive``) or >= 0."""
    accepted = "a finite number > 0" if positive else "a finite number >= 0"
    if not isinstance(value, numbers.Real) or isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be {accepted}, got {type(value).__name__} {value!r}")
    if not math.isfinite(float(value)) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {accepted}, got {value!r}")


def check_bool(value: Any, name: str) -> None:
    """Raise ValueError unless ``value`` is True or False."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {type(value).__name__} {value!r}")


def as_query(metafeatures: Any, *, describe: bool) -> tuple[Any, str | None]:
    """The metafeatures to rank for, and the dataset's task when they tell it.

    A :class:`metaopt.datasets.Dataset` is described by
    :func:`metaopt.metafeatures.describe_dataset` (the rule the knowledge base was built by)
    when ``describe``; its task is its own. Metafeatures from
    :func:`~metaopt.metafeatures.extract_metafeatures` carry the task in ``attrs["task"]``.
    """
    from metaopt.datasets import Dataset

    if isinstance(metafeatures, Dataset):
        task = str(metafeatures.task)
        if not describe:
            return None, task
        from metaopt.metafeatures import describe_dataset

        return describe_dataset(metafeatures), task
    if isinstance(metafeatures, pd.Series):
        task = metafeatures.attrs.get("task")
        return metafeatures, task if task in TASKS else None
    return metafeatures, None


class MetaModel(BaseEstimator):
    """Base class: ranks the configurations of a space for a dataset's metafeatures.

    Subclasses implement ``_fit_space(rows, metafeatures, space, task)``, returning any state,
    and ``_explain_space(state, target, n)``, returning a frame with columns ``params``,
    ``score`` and ``source``. ``target`` is the scaled metafeature row with NaN where the
    dataset's metafeature is missing (or ``None`` when the model does not use metafeatures).
    """

    #: Whether ``rank`` needs metafeatures (the portfolio does not).
    uses_metafeatures: bool = True

    def fit(
        self,
        knowledge: Any,
        space: str | None = None,
        *,
        metafeatures: pd.DataFrame | None = None,
    ) -> MetaModel:
        """Learn from a knowledge table.

        Args:
            knowledge: A :class:`metaopt.knowledge.KnowledgeBase`, or the raw evaluations
                DataFrame together with ``metafeatures``.
            space: Fit only this space (faster); ``None`` fits every space in the table.
            metafeatures: Metafeatures indexed by dataset id, for a raw evaluations frame (or to
                override the knowledge base's own).

        Returns:
            self

        Raises:
            TypeError: for a knowledge table of the wrong type.
            ValueError: for an invalid option, a table without the needed columns or
                metafeatures, an unknown space, or a space where every evaluation failed.
                A fit that raises leaves the model unfitted.

        A dataset whose every evaluation in a space failed is left out of that space, with a
        :class:`~metaopt.exceptions.FallbackWarning`. Dataset ids are compared as strings.
        """
        try:
            self._check_params()
            return self._fit(knowledge, space, metafeatures)
        except BaseException:
            for name in FITTED_ATTRIBUTES:  # a failed (re)fit leaves no half-fitted state
                self.__dict__.pop(name, None)
            raise

    def _check_params(self) -> None:
        """Validate the constructor's options (``fit`` calls it before anything else)."""
        normalization = getattr(self, "normalization", "rank")
        if not isinstance(normalization, str) or normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {list(NORMALIZATIONS)}, got {normalization!r}"
            )

    def _fit(self, knowledge: Any, space: str | None, metafeatures: Any) -> MetaModel:
        normalization = getattr(self, "normalization", "rank")
        evaluations, mf = as_tables(knowledge, metafeatures)
        evaluations = own_size_rows(evaluations)
        pairs = space_tasks(evaluations, space)
        evaluations = evaluations[evaluations["space"].isin({s for s, _ in pairs})]
        evaluations = _without_failed_datasets(_failed_as_nan(evaluations), pairs)
        evaluations = evaluations.assign(
            normalized_score=normalize_scores(evaluations, method=normalization).to_numpy()
        )
        used = mf.loc[sorted(set(evaluations["dataset"]))]
        self.scaler_: MetafeatureScaler | None = None
        if self.uses_metafeatures or np.isfinite(used.to_numpy(dtype=float)).any():
            self.scaler_ = MetafeatureScaler().fit(used)
        else:  # a model that ranks without metafeatures needs none
            _logger.info("%s: no usable metafeature; fitted without", type(self).__name__)
        columns = [] if self.scaler_ is None else self.scaler_.columns_
        scaled = np.zeros((len(used), 0)) if self.scaler_ is None else self.scaler_.transform(used)
        self.scaled_metafeatures_ = pd.DataFrame(scaled, index=used.index, columns=columns)
        self.metafeature_names_ = list(mf.columns)
        self.models_: dict[tuple[str, str], Any] = {}
        self.datasets_: dict[tuple[str, str], list[str]] = {}
        self.typical_distance_: dict[tuple[str, str], float] = {}
        for space_name, task in pairs:
            rows = select_rows(evaluations, space_name, task)
            datasets = sorted(set(rows["dataset"]))
            self.datasets_[(space_name, task)] = datasets
            self.typical_distance_[(space_name, task)] = self._typical_distance(datasets)
            self.models_[(space_name, task)] = self._fit_space(rows, used, space_name, task)
        self.spaces_ = sorted({s for s, _ in pairs})
        return self

    def rank(
        self,
        metafeatures: pd.Series | None,
        n: int = 5,
        *,
        space: str | None = None,
        task: str | None = None,
    ) -> list[dict[str, Any]]:
        """The ``n`` configurations to try first on the dataset, best first.

        Args:
            metafeatures: The dataset's metafeatures (a Series or dict, as from
                :func:`metaopt.metafeatures.describe_dataset`), or the
                :class:`metaopt.datasets.Dataset` itself (described that way); ``None`` for a
                model that ranks without them (:attr:`uses_metafeatures` false). Metafeatures
                the knowledge base has and these lack are skipped, with a
                :class:`~metaopt.exceptions.FallbackWarning`; missing (NaN) values are skipped.
            n: How many configurations; more than the model knows gives all it knows.
            space: Which space; may be omitted when the model was fitted on one space.
            task: ``"classification"`` or ``"regression"``; may be omitted when the space was
                fitted for one task only, or when the dataset tells it (a Dataset, or
                metafeatures whose ``attrs["task"]`` is set, as extract_metafeatures sets it).

        Raises:
            sklearn.exceptions.NotFittedError: before :meth:`fit`.
            TypeError: for ``n`` that is not an int, or metafeatures of another type.
            ValueError: for a negative ``n``, an unfitted space or task, or metafeatures that
                share no known metafeature with the knowledge base.
        """
        return list(self.explain(metafeatures, n, space=space, task=task)["params"])

    def explain(
        self,
        metafeatures: pd.Series | None,
        n: int = 5,
        *,
        space: str | None = None,
        task: str | None = None,
    ) -> pd.DataFrame:
        """Like :meth:`rank`, as a frame with the predicted ``score`` and ``source`` of each."""
        check_is_fitted(self, "models_")
        check_int(n, "n", 0, wrong_type=TypeError)
        query, hint = as_query(metafeatures, describe=self.uses_metafeatures)
        key = self._key(space, task, hint)
        target = self._target(query)
        frame = self._explain_space(self.models_[key], target, int(n))
        return frame.reset_index(drop=True)

    def neighbors(
        self,
        metafeatures: pd.Series,
        k: int = 5,
        *,
        space: str | None = None,
        task: str | None = None,
    ) -> pd.DataFrame:
        """The ``k`` known datasets nearest to ``metafeatures`` (L1 on scaled metafeatures).

        Returns:
            A frame with columns ``dataset`` and ``distance`` (mean absolute difference per
            metafeature), nearest first.
        """
        check_is_fitted(self, "models_")
        check_int(k, "k", 0, wrong_type=TypeError)
        query, hint = as_query(metafeatures, describe=True)
        key = self._key(space, task, hint)
        return self._neighbors(self._scaled(query, fill=False), key, int(k))

    def _neighbors(self, target: np.ndarray, key: tuple[str, str], k: int) -> pd.DataFrame:
        datasets = self.datasets_[key]
        distances = self._distances(target, datasets)
        order = np.argsort(distances, kind="stable")[:k]
        return pd.DataFrame(
            {"dataset": [datasets[i] for i in order], "distance": distances[order]}
        )

    def novelty(
        self,
        metafeatures: pd.Series,
        *,
        space: str | None = None,
        task: str | None = None,
    ) -> float:
        """How unlike the known datasets ``metafeatures`` are.

        The distance to the nearest known dataset divided by the median nearest-neighbour
        distance among the known datasets: about 1 for a typical dataset, much larger for one
        unlike anything known.
        """
        check_is_fitted(self, "models_")
        query, hint = as_query(metafeatures, describe=True)
        key = self._key(space, task, hint)
        nearest = float(self._neighbors(self._scaled(query, fill=False), key, 1)["distance"][0])
        typical = self.typical_distance_[key]
        return nearest / typical if typical > 0 else (0.0 if nearest == 0 else float("inf"))

    def _typical_distance(self, datasets: list[str]) -> float:
        known = self._known_scaled(datasets)
        if len(known) < 2 or known.shape[1] == 0:
            return 0.0
        pairwise = np.abs(known[:, None, :] - known[None, :, :]).mean(axis=2)
        np.fill_diagonal(pairwise, np.inf)
        return float(np.median(pairwise.min(axis=1)))

    def _distances(self, target: np.ndarray, datasets: list[str]) -> np.ndarray:
        """Mean absolute difference over the metafeatures the target has (NaN ones skipped)."""
        known = self._known_scaled(datasets)
        present = np.isfinite(target)
        if not present.any():
            return np.zeros(len(datasets))
        return np.abs(known[:, present] - target[None, present]).mean(axis=1)

    def _known_scaled(self, datasets: list[str]) -> np.ndarray:
        return self.scaled_metafeatures_.loc[datasets].to_numpy()

    def _key(
        self, space: str | None, task: str | None, hint: str | None = None
    ) -> tuple[str, str]:
        """The fitted ``(space, task)`` to rank in; ``hint`` is the dataset's own task."""
        check_is_fitted(self, "models_")
        if space is None:
            if len(self.spaces_) != 1:
                raise ValueError(
                    f"the model was fitted on several spaces; pass space= one of {self.spaces_}"
                )
            space = self.spaces_[0]
        tasks = sorted(t for s, t in self.models_ if s == space)
        if not tasks:
            raise ValueError(
                f"the model was not fitted on space {space!r}; fitted: {self.spaces_}"
            )
        if task is None and hint is not None:
            if hint not in tasks:
                raise ValueError(
                    f"the dataset is a {hint} dataset, but space {space!r} was fitted for "
                    f"{tasks} only; pass task= to rank for another task on purpose"
                )
            task = hint
        return space, resolve_task(tasks, task, space)

    def _target(self, metafeatures: pd.Series | None) -> np.ndarray | None:
        if not self.uses_metafeatures:
            return None
        return self._scaled(metafeatures, fill=False)

    def _scaled(self, metafeatures: pd.Series | None, *, fill: bool = True) -> np.ndarray:
        if isinstance(metafeatures, dict):
            metafeatures = pd.Series(metafeatures, dtype=float)
        if not isinstance(metafeatures, pd.Series):
            raise TypeError(
                f"{type(self).__name__} needs the dataset's metafeatures as a pandas Series or "
                "dict (from metaopt.metafeatures.describe_dataset), or the "
                f"metaopt.datasets.Dataset itself; got {type(metafeatures).__name__}"
            )
        if self.scaler_ is None:
            raise ValueError(
                f"{type(self).__name__} was fitted on datasets without usable metafeatures, so "
                "it cannot compare a dataset with them; rank with metafeatures=None"
            )
        values = pd.to_numeric(metafeatures, errors="coerce").astype(float)
        known = self.scaler_.columns_
        shared = [c for c in known if c in values.index]
        if not shared or values.reindex(shared).isna().all():
            raise ValueError(
                "the metafeatures share no known, non-missing metafeature with the knowledge "
                f"base (it uses e.g. {known[:5]})"
            )
        if len(shared) < len(known):
            missing = [c for c in known if c not in values.index]
            warn_user(
                f"the metafeatures lack {len(missing)} of the {len(known)} metafeatures the "
                f"datasets are compared by (e.g. {missing[:3]}); they are skipped, so the "
                f"comparison rests on the other {len(shared)}. Describe the dataset with "
                "metaopt.metafeatures.describe_dataset to compare by all of them"
            )
        return self.scaler_.transform(values, fill=fill)[0]

    def _fit_space(
        self, rows: pd.DataFrame, metafeatures: pd.DataFrame, space: str, task: str
    ) -> Any:
        raise NotImplementedError

    def _explain_space(self, state: Any, target: np.ndarray | None, n: int) -> pd.DataFrame:
        raise NotImplementedError


def _failed_as_nan(evaluations: pd.DataFrame) -> pd.DataFrame:
    """``score`` as floats, NaN for a failed evaluation (a ``status`` other than ``"ok"``)."""
    score = pd.to_numeric(evaluations["score"], errors="coerce").astype(float)
    if "status" in evaluations.columns:
        score = score.where(evaluations["status"].fillna("ok").eq("ok"))
    return evaluations.assign(score=score.to_numpy())


def _without_failed_datasets(
    evaluations: pd.DataFrame, pairs: list[tuple[str, str]]
) -> pd.DataFrame:
    """The rows of datasets with a successful evaluation in their space (others warned of).

    A dataset on which every configuration failed says nothing about which is better: as a
    neighbour it would offer an arbitrary one.
    """
    ok = np.isfinite(evaluations["score"].to_numpy(dtype=float))
    keys = [evaluations["space"], evaluations["task"], evaluations["dataset"]]
    usable = pd.Series(ok, index=evaluations.index).groupby(keys).transform("any")
    if usable.all():
        return evaluations
    dropped = evaluations.loc[~usable, ["space", "task", "dataset"]].drop_duplicates()
    kept = evaluations[usable.to_numpy()]
    left = set(zip(kept["space"], kept["task"], strict=True))
    empty = [pair for pair in pairs if pair not in left]
    if empty:
        raise ValueError(
            f"every evaluation failed (a status other than 'ok', or a missing or non-finite "
            f"score) in {', '.join(f'space {s!r} ({t})' for s, t in empty)}: nothing to learn "
            "from there; fit another space or a table with successful evaluations"
        )
    for (space, task), group in dropped.groupby(["space", "task"], sort=True):
        names = sorted(group["dataset"])
        warn_user(
            f"{len(names)} datasets of space {space!r} ({task}) have no successful evaluation, "
            f"e.g. {names[:3]}; they are left out of the knowledge for that space"
        )
    return kept
