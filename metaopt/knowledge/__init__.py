"""The knowledge base: how search-space configurations performed on many real datasets.

Example:
    >>> import metaopt.knowledge
    >>> kb = metaopt.knowledge.load()
    >>> len(kb.datasets) >= 100
    True
"""

from __future__ import annotations

from metaopt.knowledge._base import (
    FIDELITIES,
    RESERVED_COLUMNS,
    SCHEMA_VERSION,
    KnowledgeBase,
    build_parts,
    own_size_rows,
    validation_problems,
)
from metaopt.knowledge._builder import (
    build,
    configurations,
    consolidate,
    dataset_groups,
    dataset_id,
    full_fidelity_ids,
)
from metaopt.knowledge._load import SHIPPED_DIR, load
from metaopt.knowledge._studies import from_studies

__all__ = [
    "FIDELITIES",
    "RESERVED_COLUMNS",
    "SCHEMA_VERSION",
    "SHIPPED_DIR",
    "KnowledgeBase",
    "build",
    "build_parts",
    "configurations",
    "consolidate",
    "dataset_groups",
    "dataset_id",
    "from_studies",
    "full_fidelity_ids",
    "load",
    "own_size_rows",
    "validation_problems",
]
