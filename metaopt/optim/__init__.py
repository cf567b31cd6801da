"""Learned optimizers: a meta-trained coordinatewise LSTM that trains PyTorch models.

- :class:`LSTMOptimizer`: the ``torch.optim.Optimizer`` users train with (pretrained weights ship
  with the package).
- :class:`LSTMOptimizerNet`: the meta-parameters (the LSTM network).
- :func:`meta_train`: the outer loop that trains new weights on a task family.
- :class:`TabularTaskFamily`, :class:`MLPSpec`, :class:`Task`, :func:`load_tabular`: task families
  of MLPs on real tabular datasets.
"""

from __future__ import annotations

from metaopt.optim._meta_train import MetaTrainResult, meta_train, run_trajectory
from metaopt.optim._network import LSTMOptimizerNet, preprocess_gradient
from metaopt.optim._optimizer import LSTMOptimizer
from metaopt.optim._tasks import (
    MLPSpec,
    TabularData,
    TabularTaskFamily,
    Task,
    TaskMixture,
    load_tabular,
)
from metaopt.optim._weights import DEFAULT_WEIGHTS, load_weights, save_weights

__all__ = [
    "DEFAULT_WEIGHTS",
    "LSTMOptimizer",
    "LSTMOptimizerNet",
    "MLPSpec",
    "MetaTrainResult",
    "TabularData",
    "TabularTaskFamily",
    "Task",
    "TaskMixture",
    "load_tabular",
    "load_weights",
    "meta_train",
    "preprocess_gradient",
    "run_trajectory",
    "save_weights",
]
