"""MAML as a user meets it: batch-norm statistics, diverging inner loops, metrics, samplers."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from metaopt.maml import MAML, FewShotTasks, SinusoidTasks, split_classes

mse = nn.functional.mse_loss


def batch_norm_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))


def buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in model.named_buffers()}


def test_meta_loss_batch_norm_statistics_match_a_hand_written_loop() -> None:
    # Only the support and query passes of each task count: 2 per task, no extra check pass.
    net = batch_norm_net()
    reference = copy.deepcopy(net)
    tasks = SinusoidTasks(seed=0).sample(3)
    MAML(net, inner_lr=0.1, loss_fn=mse, vectorize=False).meta_loss(tasks)

    params = dict(reference.named_parameters())
    for task in tasks:
        loss = mse(functional_call(reference, params, (task.support_x,)), task.support_y)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        fast = {k: p - 0.1 * g for (k, p), g in zip(params.items(), grads, strict=True)}
        functional_call(reference, fast, (task.query_x,))

    assert int(net[1].num_batches_tracked) == 2 * len(tasks)
    for name, value in buffers(reference).items():
        torch.testing.assert_close(buffers(net)[name], value, rtol=0, atol=0)


@pytest.mark.parametrize("vectorize", ["auto", False])
def test_evaluate_leaves_batch_norm_statistics_unchanged(vectorize: bool | str) -> None:
    net = batch_norm_net()
    maml = MAML(net, inner_lr=0.1, loss_fn=mse, vectorize=vectorize)
    maml.meta_step(SinusoidTasks(seed=0).sample(2))
    before = buffers(net)
    first = maml.evaluate(SinusoidTasks(seed=1).sample(3), steps=3)
    for name, value in buffers(net).items():
        assert torch.equal(value, before[name]), name
    assert torch.equal(first, maml.evaluate(SinusoidTasks(seed=1).sample(3), steps=3))
    assert net.training  # the mode is the user's: evaluate does not switch it


def test_diverging_meta_step_raises_and_changes_nothing() -> None:
    net = batch_norm_net()
    maml = MAML(net, inner_lr=0.05, loss_fn=mse, vectorize=False)
    maml.meta_step(SinusoidTasks(seed=0).sample(2))  # the optimizer now has state
    params = {k: v.detach().clone() for k, v in net.named_parameters()}
    stats = buffers(net)
    optimizer_state = copy.deepcopy(maml.meta_optimizer.state_dict())

    maml.inner_lr = 50.0
    maml.inner_lrs = dict.fromkeys(maml.inner_lrs, 50.0)  # diverges within 6 steps
    maml.inner_steps = 6
    with pytest.raises(FloatingPointError, match="Nothing was updated"):
        maml.meta_step(SinusoidTasks(seed=0).sample(2))

    for name, value in net.named_parameters():
        assert torch.equal(value, params[name]), name
    for name, value in buffers(net).items():
        assert torch.equal(value, stats[name]), name
    after = maml.meta_optimizer.state_dict()["state"]
    for key, state in optimizer_state["state"].items():
        for field, value in state.items():
            assert torch.equal(after[key][field], value)


def test_non_tensor_metric_gets_a_clear_error() -> None:
    torch.manual_seed(0)
    maml = MAML(nn.Linear(1, 1), loss_fn=mse)
    tasks = SinusoidTasks(seed=0).sample(2)
    with pytest.raises(TypeError, match="metric must return a scalar torch.Tensor, got float"):
        maml.evaluate(tasks, metric=lambda p, t: float(mse(p, t)))
    with pytest.raises(ValueError, match="metric must return a scalar per task"):
        maml.evaluate(tasks, metric=lambda p, t: (p - t).abs())
    curves = maml.evaluate(tasks, metric=lambda p, t: (p - t).abs().mean())
    assert curves.shape == (2, 2)


def test_samplers_accept_numpy_integers() -> None:
    sinusoid = SinusoidTasks(support_size=np.int64(5), query_size=np.int32(3), seed=0)
    task = sinusoid.sample(np.int64(2))[1]
    assert task.support_x.shape == (5, 1) and task.query_x.shape == (3, 1)

    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.repeat(np.arange(4), 5)
    train, test = split_classes((X, y), n_test=np.int64(2), seed=0)
    assert len(test) == 2
    tasks = FewShotTasks((X, y), n_way=np.int64(2), k_shot=np.int64(2), n_query=np.int8(1), seed=0)
    assert tasks.sample(np.int64(3))[0].support_y.tolist() == [0, 0, 1, 1]
    with pytest.raises(TypeError, match="n must be an int, got str"):
        tasks.sample("3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        tasks.sample(0)
    with pytest.raises(TypeError, match="n_way must be an int, got float"):
        FewShotTasks((X, y), n_way=2.0)  # type: ignore[arg-type]


def test_too_few_rows_error_shows_the_plain_label() -> None:
    X = np.zeros((12, 2))
    with pytest.raises(ValueError, match=r"^class 'cat' has 4 usable rows"):
        FewShotTasks((X, np.repeat(["cat", "dog", "eel"], 4)), n_way=2, k_shot=2, n_query=3)
    with pytest.raises(ValueError, match=r"^class 7 has 4 usable rows"):
        FewShotTasks((X, np.repeat([7, 8, 9], 4)), n_way=2, k_shot=2, n_query=3)


@pytest.mark.parametrize("vectorize", ["auto", False])
def test_evaluate_works_under_no_grad(vectorize: bool | str) -> None:
    # Batch norm in training mode cannot be vmapped: the per-task loop runs, under no_grad too.
    net = batch_norm_net()
    maml = MAML(net, inner_lr=0.1, loss_fn=mse, vectorize=vectorize)
    tasks = SinusoidTasks(seed=1).sample(3)
    expected = maml.evaluate(tasks, steps=2, safeguard=True)
    with torch.no_grad():
        curves = maml.evaluate(tasks, steps=2, safeguard=True)
    torch.testing.assert_close(curves, expected, rtol=0, atol=0)
    assert curves.shape == (3, 3) and bool(torch.isfinite(curves).all())


def test_inference_mode_gets_a_clear_error() -> None:
    torch.manual_seed(0)
    maml = MAML(nn.Linear(1, 1), loss_fn=mse)
    task = SinusoidTasks(seed=0).sample(1)[0]
    with torch.inference_mode():
        with pytest.raises(RuntimeError, match=r"use torch.no_grad\(\) instead"):
            maml.adapt(task.support_x, task.support_y)
        with pytest.raises(RuntimeError, match=r"use torch.no_grad\(\) instead"):
            maml.evaluate([task])
