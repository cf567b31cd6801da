"""Fixtures shared by the optimizer tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metaopt.optim import LSTMOptimizerNet


@pytest.fixture()
def net() -> LSTMOptimizerNet:
    # Random (non-zero) heads so that the learned paths, not only the Adam path, are exercised.
    torch.manual_seed(0)
    network = LSTMOptimizerNet(hidden_size=4, mlp_hidden=3)
    for layer in (network.head, network.coord_out):
        nn.init.normal_(layer.weight, std=0.5)
        nn.init.normal_(layer.bias, std=0.5)
    return network
