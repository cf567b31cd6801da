"""Loading the knowledge base shipped with metaopt."""

from __future__ import annotations

import os
from pathlib import Path

from metaopt.knowledge._base import KnowledgeBase

#: Where the shipped knowledge base lives inside the package.
SHIPPED_DIR = Path(__file__).resolve().parent / "data"


def load(path: str | os.PathLike[str] | None = None) -> KnowledgeBase:
    """The shipped knowledge base, or the one saved in the directory ``path``.

    Raises:
        ValueError: for a missing or corrupted file or a schema version this metaopt cannot
            read.

    Example:
        >>> import metaopt.knowledge
        >>> kb = metaopt.knowledge.load()
        >>> kb.metafeatures.index.name
        'dataset'
    """
    if path is not None and not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"path must be a directory (str or path) or None for the shipped knowledge base, "
            f"got {type(path).__name__}"
        )
    return KnowledgeBase.read(SHIPPED_DIR if path is None else Path(path).expanduser())
