"""MAML with the rest of metaopt: few-shot tasks from a dataset, other optimizers, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from metaopt.maml import MAML, FewShotTasks, SinusoidTasks

mse = nn.functional.mse_loss


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == target).float().mean()


def sinusoid_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1)
    )


def test_fine_tune_trains_a_copy_with_any_optimizer() -> None:
    maml = MAML(sinusoid_net(), loss_fn=mse)
    task = SinusoidTasks(seed=0).sample(1)[0]
    before = {k: v.clone() for k, v in maml.model.state_dict().items()}
    tuned = maml.fine_tune(
        task.support_x, task.support_y, lambda p: torch.optim.Adam(p, lr=1e-2), steps=100
    )
    assert tuned is not maml.model
    assert all(torch.equal(v, maml.model.state_dict()[k]) for k, v in before.items())
    with torch.no_grad():
        start = mse(maml.model(task.support_x), task.support_y)
        end = mse(tuned(task.support_x), task.support_y)
    assert end < 0.5 * start
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        maml.fine_tune(task.support_x, task.support_y, lambda p: "sgd")  # type: ignore[arg-type]


def test_maml_initialisation_fine_tuned_with_lstm_optimizer() -> None:
    from metaopt.optim import LSTMOptimizer

    try:
        LSTMOptimizer([torch.zeros(1, requires_grad=True)])
    except ValueError as error:  # weights missing or of another format version
        pytest.skip(f"the shipped LSTMOptimizer weights cannot be loaded: {error}")
    maml = MAML(
        sinusoid_net(),
        inner_lr=0.01,
        loss_fn=mse,
        meta_optimizer=lambda p: torch.optim.Adam(p, lr=3e-3),
    )
    train = SinusoidTasks(seed=1)
    for _ in range(200):
        maml.meta_step(train.sample(10))
    held_out = SinusoidTasks(query_size=50, seed=2).sample(20)
    start, end = [], []
    for task in held_out:
        tuned = maml.fine_tune(task.support_x, task.support_y, LSTMOptimizer, steps=20)
        with torch.no_grad():
            start.append(float(mse(maml.model(task.support_x), task.support_y)))
            end.append(float(mse(tuned(task.support_x), task.support_y)))
    assert np.isfinite(end).all()
    assert np.mean(end) < np.mean(start)


def test_few_shot_accuracy_with_metric_agrees_between_vmap_and_loop() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 5)) * 3
    y = np.repeat(np.arange(6), 20)
    X = centres[y] + rng.normal(size=(len(y), 5))
    tasks = FewShotTasks((X, y), n_way=3, k_shot=2, n_query=5, seed=0).sample(8)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    ce = nn.functional.cross_entropy
    vec = MAML(net, inner_lr=0.5, loss_fn=ce).evaluate(tasks, steps=10, metric=accuracy)
    loop = MAML(net, inner_lr=0.5, loss_fn=ce, vectorize=False).evaluate(
        tasks, steps=10, metric=accuracy
    )
    assert torch.allclose(vec, loop, atol=1e-6)
    assert ((vec >= 0) & (vec <= 1)).all()
    assert vec[:, 10].mean() > 0.8  # well-separated blobs are learnt from 2 shots
    with pytest.raises(TypeError, match="metric"):
        MAML(net, loss_fn=ce).evaluate(tasks, metric="accuracy")  # type: ignore[arg-type]
