"""metaopt: meta-learning for hyperparameter optimization.

Describe a dataset by its metafeatures, learn across many real datasets which hyperparameters
work where, and warm-start Optuna searches with that knowledge.

Every public name and every subpackage is imported on first use, so ``import metaopt`` is fast
(scikit-learn, pandas, Optuna and, for the learned optimizer, PyTorch load only when needed)::

    import metaopt

    metaopt.spaces.names()          # imports metaopt.spaces now
    metaopt.suggest                 # imports metaopt._suggest now
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import TYPE_CHECKING, Any

# The one place the version is set: pyproject.toml reads it from here (without importing).
__version__ = "0.1.0"

# Public name -> module that defines it, imported on first attribute access.
_LAZY: dict[str, str] = {
    "Dataset": "metaopt.datasets",
    "Explanation": "metaopt._suggest",
    "LSTMOptimizer": "metaopt.optim",
    "MetaSampler": "metaopt.samplers",
    "MetaSearchCV": "metaopt._search_cv",
    "MetafeatureExtractor": "metaopt.metafeatures",
    "extract_metafeatures": "metaopt.metafeatures",
    "load_dataset": "metaopt.datasets",
    "suggest": "metaopt._suggest",
}

#: Subpackages reachable as attributes (``metaopt.spaces``), imported on first access.
SUBMODULES: tuple[str, ...] = (
    "benchmark",
    "datasets",
    "exceptions",
    "fewshot",
    "knowledge",
    "maml",
    "metafeatures",
    "metamodel",
    "optim",
    "samplers",
    "spaces",
    "testing",
)

# Modules that need an optional extra, with the feature named in the error when it is missing.
_NEEDS = {
    "metaopt.optim": ("torch", "metaopt.optim (the learned LSTM optimizer)"),
    "metaopt.maml": ("torch", "metaopt.maml"),
    "metaopt.fewshot": ("torch", "metaopt.fewshot"),
}


def _import(module: str) -> Any:
    if module in _NEEDS:
        from metaopt._extras import require

        require(*_NEEDS[module])
    return importlib.import_module(module)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(_import(_LAZY[name]), name)
    elif name in SUBMODULES and importlib.util.find_spec(f"metaopt.{name}") is not None:
        value = _import(f"metaopt.{name}")
    else:
        raise AttributeError(f"module 'metaopt' has no attribute {name!r}")
    globals()[name] = value  # later accesses skip __getattr__
    return value


def __dir__() -> list[str]:
    present = [m for m in SUBMODULES if importlib.util.find_spec(f"metaopt.{m}") is not None]
    return sorted({*globals(), *_LAZY, *present})


if TYPE_CHECKING:  # static type checkers and IDEs see the real names and subpackages
    # Subpackages as attributes of metaopt (the redundant aliases mark them as re-exported).
    from metaopt import benchmark as benchmark
    from metaopt import datasets as datasets
    from metaopt import exceptions as exceptions
    from metaopt import fewshot as fewshot
    from metaopt import knowledge as knowledge
    from metaopt import maml as maml
    from metaopt import metafeatures as metafeatures
    from metaopt import metamodel as metamodel
    from metaopt import optim as optim
    from metaopt import samplers as samplers
    from metaopt import spaces as spaces
    from metaopt import testing as testing
    from metaopt._search_cv import MetaSearchCV
    from metaopt._suggest import Explanation, suggest
    from metaopt.datasets import Dataset, load_dataset
    from metaopt.metafeatures import MetafeatureExtractor, extract_metafeatures
    from metaopt.optim import LSTMOptimizer
    from metaopt.samplers import MetaSampler

logging.getLogger("metaopt").addHandler(logging.NullHandler())

__all__ = [
    "Dataset",
    "Explanation",
    "LSTMOptimizer",
    "MetaSampler",
    "MetaSearchCV",
    "MetafeatureExtractor",
    "__version__",
    "extract_metafeatures",
    "load_dataset",
    "suggest",
]
