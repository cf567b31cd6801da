"""Learned optimizers: a meta-trained network (per-coordinate MLP, per-tensor LSTM) for PyTorch.

- :class:`LSTMOptimizer`: the ``torch.optim.Optimizer`` users train with (pretrained weights ship
  with the package).
- :class:`LSTMOptimizerNet`: the meta-parameters (the network); :class:`Segments` says which
  coordinates of a flat vector form which tensor.
- :func:`meta_train`: the outer loop that trains new weights on a task family.
- :class:`TabularTaskFamily`, :class:`MLPSpec`, :class:`Task`, :func:`load_tabular`: task families
  of MLPs on real tabular datasets.
"""

from __future__ import annotations

from metaopt._extras import require

require("torch", "metaopt.optim (the learned LSTM optimizer)")

from metaopt.optim._meta_train import MetaTrainResult, meta_train, run_trajectory
from metaopt.optim._network import LSTMOptimizerNet, Segments, ValidationSignal
from metaopt.optim._optimizer import LSTMOptimizer
from metaopt.optim._tasks import (
    ConvSpec,
    MLPSpec,
    TabularData,
    TabularTaskFamily,
    Task,
    TaskMixture,
    load_tabular,
)
from metaopt.optim._weights import DEFAULT_WEIGHTS, load_weights, save_weights

__all__ = [
    "ConvSpec",
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
    "run_trajectory",
    "save_weights",
    "Segments",
    "ValidationSignal",
]
