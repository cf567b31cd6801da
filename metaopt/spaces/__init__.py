"""Named hyperparameter search spaces, shared by Optuna objectives and the knowledge base.

Example:
    >>> import metaopt.spaces
    >>> metaopt.spaces.names()[:3]
    ['hist_gradient_boosting', 'random_forest', 'extra_trees']
    >>> space = metaopt.spaces.get("random_forest")
    >>> space.build(space.default).steps[-1][0]
    'model'
"""

from __future__ import annotations

from metaopt.spaces._mlp import TorchMLPClassifier, TorchMLPRegressor
from metaopt.spaces._objective import (
    DEFAULT_METRIC,
    SECONDARY_METRIC,
    Evaluation,
    check_metric,
    cv_splits,
    evaluate,
    objective,
    prepare,
)
from metaopt.spaces._preprocessing import scaled_pipeline, tree_pipeline
from metaopt.spaces._registry import get, names, register
from metaopt.spaces._space import SearchSpace

__all__ = [
    "DEFAULT_METRIC",
    "SECONDARY_METRIC",
    "Evaluation",
    "SearchSpace",
    "TorchMLPClassifier",
    "TorchMLPRegressor",
    "check_metric",
    "cv_splits",
    "evaluate",
    "get",
    "names",
    "objective",
    "prepare",
    "register",
    "scaled_pipeline",
    "tree_pipeline",
]
