"""The knowledge base and fitted meta-models that suggest and MetaSampler share, cached.

Fitting a model takes about a second; a process that asks for suggestions (or runs a sampler)
many times fits each (model, knowledge base, space) once.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from metaopt.metamodel._base import MetaModel
from metaopt.metamodel._registry import DEFAULT_MODEL, make_model

_logger = logging.getLogger("metaopt.metamodel")
_lock = threading.Lock()
_fitted: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], MetaModel]] = (
    weakref.WeakKeyDictionary()
)


@lru_cache(maxsize=4)
def _load_knowledge(path: str | None) -> Any:
    from metaopt import knowledge

    return knowledge.load(path)


def resolve_knowledge(knowledge: Any = None) -> Any:
    """``knowledge`` itself, the knowledge base saved in a directory, or the shipped one."""
    if knowledge is None:
        return _load_knowledge(None)
    if isinstance(knowledge, str | os.PathLike):
        return _load_knowledge(str(Path(knowledge).resolve()))
    if hasattr(knowledge, "evaluations") and hasattr(knowledge, "metafeatures"):
        return knowledge
    raise TypeError(
        "knowledge must be a metaopt.knowledge.KnowledgeBase, a directory holding one, or None "
        f"for the shipped one; got {type(knowledge).__name__}"
    )


def fitted_model(model: str | MetaModel | None, knowledge: Any, space: str) -> MetaModel:
    """A meta-model fitted on ``knowledge`` for ``space``, reusing an earlier fit.

    A model instance that is already fitted on ``space`` is used as it is; an unfitted one is
    fitted on ``space`` (in place). A name gives a cached fitted instance.
    """
    if isinstance(model, MetaModel):
        fitted_spaces = getattr(model, "spaces_", None)
        if fitted_spaces is None or space not in fitted_spaces:
            model.fit(knowledge, space)
        return model
    name = DEFAULT_MODEL if model is None else str(model)
    with _lock:
        try:
            per_kb = _fitted.setdefault(knowledge, {})
        except TypeError:  # not weak-referenceable: no caching
            per_kb = {}
        key = (name, space)
        if key not in per_kb:
            per_kb[key] = make_model(model).fit(knowledge, space)
        return per_kb[key]


def dataset_metafeatures(dataset: Any) -> pd.Series:
    """The dataset's metafeatures, by :func:`metaopt.metafeatures.describe_dataset`."""
    from metaopt.metafeatures import describe_dataset

    return describe_dataset(dataset)
