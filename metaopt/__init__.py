"""metaopt: meta-learning for hyperparameter optimization.

Describe a dataset by its metafeatures, learn across many real datasets which hyperparameters
work where, and warm-start Optuna searches with that knowledge.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from metaopt._suggest import Explanation, suggest
from metaopt.datasets import Dataset, load_dataset
from metaopt.metafeatures import MetafeatureExtractor, extract_metafeatures
from metaopt.samplers import MetaSampler

__version__ = "0.1.0"

# Imported on first use: the learned optimizer needs torch, which takes seconds to import.
_LAZY = {"LSTMOptimizer": "metaopt.optim"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'metaopt' has no attribute {name!r}")


logging.getLogger("metaopt").addHandler(logging.NullHandler())

__all__ = [
    "Dataset",
    "Explanation",
    "LSTMOptimizer",
    "MetaSampler",
    "MetafeatureExtractor",
    "__version__",
    "extract_metafeatures",
    "load_dataset",
    "suggest",
]
