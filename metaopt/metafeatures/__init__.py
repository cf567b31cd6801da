"""Metafeatures: a fixed, named vector of numbers describing a tabular dataset.

Five groups, each a module with an explicit registry of feature name -> function:
``general``, ``statistical``, ``info_theory``, ``landmarking`` and ``model_based``. See
``docs/metafeatures.md`` for every feature's definition and its pymfe/OpenML counterpart.
"""

from __future__ import annotations

from metaopt.metafeatures._extractor import (
    BUDGETED_GROUPS,
    GROUPS,
    REGISTRY,
    MetafeatureExtractor,
    describe_dataset,
    extract_metafeatures,
    feature_names,
)
from metaopt.metafeatures._general import at_rows

__all__ = [
    "BUDGETED_GROUPS",
    "GROUPS",
    "REGISTRY",
    "MetafeatureExtractor",
    "at_rows",
    "describe_dataset",
    "extract_metafeatures",
    "feature_names",
]
