"""The knowledge base and fitted meta-models that suggest and MetaSampler share, cached.

Fitting a model takes about a second; a process that asks for suggestions (or runs a sampler)
many times fits each (model, knowledge base, space) once.
"""

from __future__ import annotations

import copy
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
def _load_knowledge(path: str | None, stamp: tuple[tuple[str, int, int], ...] = ()) -> Any:
    from metaopt import knowledge

    return knowledge.load(path)


def _stamp(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of each file in ``directory``.

    Part of the cache key, so a base saved again in the same place is read again.
    """
    try:
        files = sorted(f for f in directory.iterdir() if f.is_file())
        return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    except OSError:
        return ()  # knowledge.load says what is wrong with the path


def resolve_knowledge(knowledge: Any = None) -> Any:
    """``knowledge`` itself, the knowledge base saved in a directory, or the shipped one."""
    if knowledge is None:
        return _load_knowledge(None)
    if isinstance(knowledge, str | os.PathLike):
        directory = Path(knowledge).expanduser().resolve()
        return _load_knowledge(str(directory), _stamp(directory))
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


# Dataset -> its description, so that suggest (for several spaces) and MetaSampler on one
# Dataset describe it once (seconds on large data). A Dataset is a frozen value (its fingerprint
# is cached on it too); an entry goes when its Dataset does.
_described: weakref.WeakKeyDictionary[Any, pd.Series] = weakref.WeakKeyDictionary()


def dataset_metafeatures(dataset: Any) -> pd.Series:
    """The dataset's metafeatures, by :func:`metaopt.metafeatures.describe_dataset`.

    A :class:`metaopt.datasets.Dataset` is described once; each call returns a copy.
    """
    from metaopt.datasets import Dataset
    from metaopt.metafeatures import describe_dataset

    if not isinstance(dataset, Dataset):
        return describe_dataset(dataset)
    with _lock:
        described = _described.get(dataset)
    if described is None:
        described = describe_dataset(dataset)
        with _lock:
            _described[dataset] = described
    result = described.copy()
    result.attrs = copy.deepcopy(described.attrs)
    return result
