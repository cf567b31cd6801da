"""What every meta-model shares: reading the knowledge table, scaling metafeatures, ranking."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from metaopt.metamodel._data import (
    as_tables,
    base_fidelity,
    resolve_task,
    select_rows,
    space_tasks,
)
from metaopt.metamodel._normalize import NORMALIZATIONS, normalize_scores
from metaopt.metamodel._scaling import MetafeatureScaler


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
        """
        normalization = getattr(self, "normalization", "rank")
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {list(NORMALIZATIONS)}, got {normalization!r}"
            )
        evaluations, mf = as_tables(knowledge, metafeatures)
        evaluations = base_fidelity(evaluations)
        pairs = space_tasks(evaluations, space)
        evaluations = evaluations[evaluations["space"].isin({s for s, _ in pairs})]
        evaluations = evaluations.assign(
            normalized_score=normalize_scores(evaluations, method=normalization).to_numpy()
        )
        used = mf.loc[sorted(set(evaluations["dataset"]))]
        self.scaler_ = MetafeatureScaler().fit(used)
        self.scaled_metafeatures_ = pd.DataFrame(
            self.scaler_.transform(used), index=used.index, columns=self.scaler_.columns_
        )
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
            metafeatures: The dataset's metafeatures (as from
                :func:`metaopt.metafeatures.extract_metafeatures`).
            n: How many configurations.
            space: Which space; may be omitted when the model was fitted on one space.
            task: ``"classification"`` or ``"regression"``; may be omitted when the space was
                fitted for one task only.
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
        if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        key = self._key(space, task)
        target = self._target(metafeatures)
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
        key = self._key(space, task)
        target = self._scaled(metafeatures, fill=False)
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
        nearest = float(self.neighbors(metafeatures, 1, space=space, task=task)["distance"][0])
        typical = self.typical_distance_[self._key(space, task)]
        return nearest / typical if typical > 0 else (0.0 if nearest == 0 else float("inf"))

    def _typical_distance(self, datasets: list[str]) -> float:
        known = self._known_scaled(datasets)
        if len(known) < 2:
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

    def _key(self, space: str | None, task: str | None) -> tuple[str, str]:
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
                f"{type(self).__name__} needs the dataset's metafeatures as a pandas Series "
                f"(from metaopt.metafeatures.extract_metafeatures), got "
                f"{type(metafeatures).__name__}"
            )
        values = pd.to_numeric(metafeatures, errors="coerce").astype(float)
        shared = [c for c in self.scaler_.columns_ if c in values.index]
        if not shared or values.reindex(shared).isna().all():
            raise ValueError(
                "the metafeatures share no known, non-missing metafeature with the knowledge "
                f"base (it uses e.g. {self.scaler_.columns_[:5]})"
            )
        return self.scaler_.transform(values, fill=fill)[0]

    def _fit_space(
        self, rows: pd.DataFrame, metafeatures: pd.DataFrame, space: str, task: str
    ) -> Any:
        raise NotImplementedError

    def _explain_space(self, state: Any, target: np.ndarray | None, n: int) -> pd.DataFrame:
        raise NotImplementedError
