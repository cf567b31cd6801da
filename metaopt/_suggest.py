"""``metaopt.suggest``: the configurations to try first on a dataset."""

from __future__ import annotations

import json
import logging
import math
import numbers
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from metaopt.exceptions import warn_fallback
from metaopt.metamodel._base import MetaModel
from metaopt.metamodel._default import dataset_metafeatures, fitted_model, resolve_knowledge

_logger = logging.getLogger("metaopt.suggest")


@dataclass
class Explanation:
    """Why :func:`suggest` proposed what it did.

    It iterates, indexes and has a length like the list of configurations ``suggest`` returns
    without ``explain=True``, so either result works in ``for config in ...``.

    Attributes:
        configs: The suggested configurations, best first.
        scores: The model's score for each: the expected normalised score in ``[0, 1]``
            (1 = best on a dataset) under the similarity-weighted known datasets for the
            transfer model (its source says how much each pick adds to the ones before), a
            predicted normalised score for the surrogate, the neighbour's normalised score for
            nearest datasets, the portfolio's mean best-so-far for the portfolio.
        sources: Where each configuration came from, in words.
        neighbors: The nearest known datasets (``dataset``, ``distance``), empty without
            metafeatures. They shaped the ranking only when ``uses_metafeatures`` is true.
        model: Name of the meta-model class that ranked.
        space: The search space.
        task: ``"classification"`` or ``"regression"``.
        novelty: Nearest-neighbour distance relative to the typical one (NaN when unknown):
            about 1 for a dataset as close to a known one as known datasets are to each other.
        fallback: Why the portfolio was used instead of the requested model, or ``None``.
        metafeatures: The dataset's metafeatures, as the model saw them (``None`` when none
            were extracted).
        uses_metafeatures: Whether the ranking depends on the dataset (false for the
            portfolio, which ranks the same for every dataset, and after a fallback to it).
    """

    configs: list[dict[str, Any]]
    scores: list[float]
    sources: list[str]
    neighbors: pd.DataFrame
    model: str
    space: str
    task: str
    novelty: float = math.nan
    fallback: str | None = None
    metafeatures: pd.Series | None = field(default=None, repr=False)
    uses_metafeatures: bool = True

    # It reads like the list ``suggest`` returns without ``explain=True``.
    def __len__(self) -> int:
        return len(self.configs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.configs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.configs[index]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary."""
        return {
            "space": self.space,
            "task": self.task,
            "model": self.model,
            "fallback": self.fallback,
            "novelty": None if math.isnan(self.novelty) else round(self.novelty, 4),
            "uses_metafeatures": self.uses_metafeatures,
            "suggestions": [
                {"params": c, "score": round(float(s), 4), "source": src}
                for c, s, src in zip(self.configs, self.scores, self.sources, strict=True)
            ],
            "nearest_datasets": [
                {"dataset": d, "distance": round(float(x), 4)}
                for d, x in zip(self.neighbors["dataset"], self.neighbors["distance"], strict=True)
            ],
        }

    def __str__(self) -> str:
        lines = [
            f"{len(self.configs)} suggestions for space {self.space!r} ({self.task}) "
            f"from {self.model}" + (f" (fallback: {self.fallback})" if self.fallback else "")
        ]
        for i, (config, score, source) in enumerate(
            zip(self.configs, self.scores, self.sources, strict=True), start=1
        ):
            lines.append(f"{i:>3}. score {score:.3f}  {json.dumps(config)}  [{source}]")
        if len(self.neighbors):
            lines.append(
                "nearest known datasets"
                + (
                    ""
                    if self.uses_metafeatures
                    else f" (not used: {self.model} ranks the same for every dataset)"
                )
                + ": "
                + ", ".join(
                    f"{d} ({x:.3f})"
                    for d, x in zip(
                        self.neighbors["dataset"], self.neighbors["distance"], strict=True
                    )
                )
            )
        return "\n".join(lines)


@overload
def suggest(
    dataset: Any,
    *,
    space: str = "hist_gradient_boosting",
    n: int = 5,
    knowledge: Any = None,
    model: str | MetaModel | None = None,
    explain: Literal[False] = ...,
    target: str | None = None,
    metafeatures: pd.Series | None = None,
) -> list[dict[str, Any]]: ...


@overload
def suggest(
    dataset: Any,
    *,
    space: str = "hist_gradient_boosting",
    n: int = 5,
    knowledge: Any = None,
    model: str | MetaModel | None = None,
    explain: Literal[True],
    target: str | None = None,
    metafeatures: pd.Series | None = None,
) -> Explanation: ...


@overload
def suggest(
    dataset: Any,
    *,
    space: str = "hist_gradient_boosting",
    n: int = 5,
    knowledge: Any = None,
    model: str | MetaModel | None = None,
    explain: bool,
    target: str | None = None,
    metafeatures: pd.Series | None = None,
) -> list[dict[str, Any]] | Explanation: ...


def suggest(
    dataset: Any,
    *,
    space: str = "hist_gradient_boosting",
    n: int = 5,
    knowledge: Any = None,
    model: str | MetaModel | None = None,
    explain: bool = False,
    target: str | None = None,
    metafeatures: pd.Series | None = None,
) -> list[dict[str, Any]] | Explanation:
    """The ``n`` configurations of ``space`` to try first on ``dataset``, best first.

    Args:
        dataset: Anything :func:`metaopt.load_dataset` accepts (a Dataset, ``(X, y)``, a file
            path with ``target=``, ``"openml:<id>"``, ...).
        space: A search-space name of :mod:`metaopt.spaces` (or a space of ``knowledge``).
        n: How many configurations (any integer, a NumPy one included); more than the model
            knows returns all it knows.
        knowledge: A :class:`metaopt.knowledge.KnowledgeBase`, a directory holding one, or
            ``None`` for the shipped knowledge base.
        model: A meta-model name (``"transfer"``, ``"surrogate"``, ``"nearest"``,
            ``"portfolio"``) or a :class:`metaopt.metamodel.MetaModel` instance; ``None`` for
            the default (:data:`metaopt.metamodel.DEFAULT_MODEL`, ``"transfer"``).
        explain: Return an :class:`Explanation` (scores, sources, nearest datasets) instead of
            the plain list.
        target: Target column, for a file or DataFrame ``dataset`` (a ``Dataset`` or an
            ``(X, y)`` pair already holds its target: ``target`` is then an error).
        metafeatures: The dataset's metafeatures when already computed.

    Returns:
        Plain parameter dicts that ``metaopt.spaces.get(space, task).build(params)`` accepts,
        or an :class:`Explanation` with ``explain=True``.

    Raises:
        ValueError: for an unknown space, a space the knowledge base holds no evaluations of
            for the dataset's task (classification or regression), bad ``n``, or ``target``
            with a dataset that already holds its target.
        TypeError: for ``n`` that is not an integer, or ``space`` that is not a str.

    Example:
        >>> import metaopt
        >>> configs = metaopt.suggest("sklearn:breast_cancer", space="random_forest", n=3)
        >>> len(configs)
        3
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, bool | np.bool_):
        raise TypeError(f"n must be a positive int, got {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    n = int(n)
    if not isinstance(space, str):
        raise TypeError(f"space must be a str, got {type(space).__name__}")
    data = _as_dataset(dataset, target)
    kb = resolve_knowledge(knowledge)
    _check_covers(kb, space, data.task)
    return _rank(data.task, metafeatures, data, kb, space, n, model, explain)


# Knowledge base -> {(space, task): the evaluations table that covered them}. A check scans
# the whole table (~0.1 s on the shipped one), so it is done once per table, not per call.
_covered: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Any]] = weakref.WeakKeyDictionary()
_covered_lock = threading.Lock()


def _check_covers(kb: Any, space: str, task: str) -> None:
    """``kb.check_covers(space, task)``, skipped when it passed before on the same table."""
    try:
        with _covered_lock:
            passed = _covered.setdefault(kb, {})
    except TypeError:  # not weak-referenceable: check every time
        passed = {}
    if passed.get((space, task)) is kb.evaluations:
        return
    kb.check_covers(space, task)
    passed[(space, task)] = kb.evaluations


def _as_dataset(dataset: Any, target: str | None) -> Any:
    from metaopt.datasets import load_dataset

    if target is not None and isinstance(dataset, tuple):
        # load_dataset refuses target= with a Dataset; an (X, y) pair holds its target too.
        raise ValueError(
            f"target={target!r} names the target column of a DataFrame or a file; an (X, y) "
            "pair already holds its target: drop target="
        )
    return load_dataset(dataset, target=target)


def _rank(
    task: str,
    metafeatures: pd.Series | None,
    data: Any,
    kb: Any,
    space: str,
    n: int,
    model: str | MetaModel | None,
    explain: bool,
) -> list[dict[str, Any]] | Explanation:
    chosen = fitted_model(model, kb, space)
    problem = None  # why the dataset's metafeatures cannot guide the ranking
    if chosen.uses_metafeatures or explain:
        if metafeatures is None:
            try:
                metafeatures = dataset_metafeatures(data)
            except Exception as error:  # any extraction failure: fall back, do not crash
                problem = f"metafeature extraction failed ({error})"
    novelty = math.nan
    neighbors = pd.DataFrame({"dataset": [], "distance": []})
    if metafeatures is not None:
        try:
            novelty = chosen.novelty(metafeatures, space=space, task=task)
            neighbors = chosen.neighbors(metafeatures, 5, space=space, task=task)
        except ValueError as error:
            problem = f"metafeatures unusable ({error})"
        # A novel dataset keeps the requested model: ranking the novel datasets by the
        # portfolio instead did not pay in nested leave-one-group-out (docs/metamodel.md).
    fallback = None
    if problem is not None and chosen.uses_metafeatures:
        # suggest -> _rank -> warn_fallback: the warning points at the user's call.
        warn_fallback(_logger, f"{problem}; using the portfolio", stacklevel=4)
        chosen, fallback = fitted_model("portfolio", kb, space), problem
    elif problem is not None:  # the ranking is the same; only the explanation lacks neighbours
        _logger.warning("%s; the explanation names no similar datasets", problem)
    ranked = chosen.explain(metafeatures, n, space=space, task=task)
    configs = [dict(c) for c in ranked["params"]]
    if not explain:
        return configs
    return Explanation(
        configs=configs,
        scores=[float(s) for s in ranked["score"]],
        sources=list(ranked["source"]),
        neighbors=neighbors,
        model=type(chosen).__name__,
        space=space,
        task=task,
        novelty=novelty,
        fallback=fallback,
        metafeatures=metafeatures,
        uses_metafeatures=chosen.uses_metafeatures,
    )
