"""metaopt: meta-learning for hyperparameter optimization.

Describe a dataset by its metafeatures, learn across many real datasets which hyperparameters
work where, and warm-start Optuna searches with that knowledge.
"""

from __future__ import annotations

import logging

from metaopt._suggest import Explanation, suggest
from metaopt.datasets import Dataset, load_dataset
from metaopt.metafeatures import MetafeatureExtractor, extract_metafeatures
from metaopt.samplers import MetaSampler

__version__ = "0.1.0"

logging.getLogger("metaopt").addHandler(logging.NullHandler())

__all__ = [
    "Dataset",
    "Explanation",
    "MetaSampler",
    "MetafeatureExtractor",
    "__version__",
    "extract_metafeatures",
    "load_dataset",
    "suggest",
]
