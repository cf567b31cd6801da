"""ProtoNet, RelationNet and MAML with metaopt's learned LSTMOptimizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from metaopt.fewshot import FewShotTasks, ProtoNet, RelationNet, split_classes
from metaopt.maml import MAML


@pytest.fixture
def lstm_optimizer():
    """The learned optimizer class, or a skip when its shipped weights cannot be loaded."""
    from metaopt.optim import LSTMOptimizer

    try:
        LSTMOptimizer([torch.zeros(1, requires_grad=True)])
    except ValueError as error:  # weights missing or of another format version
        pytest.skip(f"the shipped LSTMOptimizer weights cannot be loaded: {error}")
    return LSTMOptimizer


def episodes(blobs):
    data = blobs(seed=2)
    train_classes, test_classes = split_classes(data, n_test=6, seed=0)
    train = FewShotTasks(data, n_way=5, k_shot=1, n_query=10, classes=train_classes, seed=0)
    test = FewShotTasks(data, n_way=5, k_shot=1, n_query=10, classes=test_classes, seed=1)
    return train, test.sample(60)


@pytest.mark.parametrize("kind", ["proto", "relation"])
def test_metric_learners_train_with_the_lstm_optimizer(blobs, lstm_optimizer, kind) -> None:
    train, test_tasks = episodes(blobs)
    torch.manual_seed(0)
    if kind == "proto":
        learner = ProtoNet(nn.Linear(20, 8), optimizer=lambda p: lstm_optimizer(p, lr=1.0))
    else:
        learner = RelationNet(
            nn.Sequential(nn.Linear(20, 16), nn.ReLU()),
            embedding_dim=16,
            hidden=16,
            optimizer=lambda p: lstm_optimizer(p, lr=1.0),
        )
    assert isinstance(learner.optimizer, lstm_optimizer)
    before = float(learner.evaluate(test_tasks).mean())
    losses = learner.meta_train(train, 200, progress=False)
    after = float(learner.evaluate(test_tasks).mean())
    assert np.isfinite(losses).all()
    assert np.mean(losses[-40:]) < np.mean(losses[:40])
    assert after > before


def test_maml_with_the_lstm_optimizer_as_outer_optimizer(blobs, lstm_optimizer) -> None:
    train, test_tasks = episodes(blobs)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 5))
    maml = MAML(
        net,
        inner_lr=0.3,
        loss_fn=nn.functional.cross_entropy,
        meta_optimizer=lambda p: lstm_optimizer(p, lr=1.0),
    )
    assert isinstance(maml.meta_optimizer, lstm_optimizer)
    before = float(maml.meta_loss(test_tasks).detach())
    for _ in range(100):
        maml.meta_step(train.sample(4))
    after = float(maml.meta_loss(test_tasks).detach())
    assert after < before
