"""Test-time step-size safeguard and truncated second-order MAML (memory for many steps)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from metaopt.maml import MAML, SinusoidTasks, Task, backward_memory

mse = nn.functional.mse_loss


def small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)
    ).double()


def support_tasks(n: int, seed: int) -> list[Task]:
    """Tasks scored on their own support set, to watch the loss being descended."""
    tasks = SinusoidTasks(seed=seed, dtype=torch.float64).sample(n)
    return [Task(t.support_x, t.support_y, t.support_x, t.support_y) for t in tasks]


@pytest.mark.parametrize("vectorize", [True, False])
def test_safeguard_never_lets_the_support_loss_rise(vectorize: bool) -> None:
    tasks = support_tasks(8, seed=0)
    maml = MAML(small_net(), inner_lr=0.5, loss_fn=mse, vectorize=vectorize)  # far too large
    plain = maml.evaluate(tasks, steps=15)
    guarded = maml.evaluate(tasks, steps=15, safeguard=True)
    assert (plain[:, 1:] > plain[:, :1]).any()  # without it, gradient descent overshoots
    assert (guarded[:, 1:] <= guarded[:, :-1] + 1e-12).all()
    assert (guarded[:, -1] < guarded[:, 0]).all()  # and it still makes progress


def test_safeguard_agrees_between_vmap_loop_and_adapt() -> None:
    tasks = SinusoidTasks(seed=1, dtype=torch.float64).sample(4)
    net = small_net()
    vec = MAML(net, inner_lr=0.3, loss_fn=mse).evaluate(tasks, steps=8, safeguard=True)
    loop = MAML(net, inner_lr=0.3, loss_fn=mse, vectorize=False).evaluate(
        tasks, steps=8, safeguard=True
    )
    assert torch.allclose(vec, loop, atol=1e-9)
    maml = MAML(net, inner_lr=0.3, loss_fn=mse)
    for i, task in enumerate(tasks):
        with torch.no_grad():
            fast = maml.adapt(task.support_x, task.support_y, steps=8, safeguard=True)
            query = mse(functional_call(net, fast, (task.query_x,)), task.query_y)
        assert torch.allclose(query, vec[i, -1], atol=1e-9)
    with pytest.raises(TypeError, match="safeguard"):
        maml.evaluate(tasks, safeguard="yes")  # type: ignore[arg-type]


def truncated_reference(net: nn.Module, tasks: list[Task], lr: float, steps: int, window: int):
    """Plain autograd loop: only the last ``window`` inner steps keep their graph."""
    params = dict(net.named_parameters())
    total = 0.0
    for task in tasks:
        fast = dict(params)
        for step in range(steps):
            loss = mse(functional_call(net, fast, (task.support_x,)), task.support_y)
            second = step >= steps - window
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=second)
            fast = {
                k: p - lr * (g if second else g.detach())
                for (k, p), g in zip(fast.items(), grads, strict=True)
            }
        total = total + mse(functional_call(net, fast, (task.query_x,)), task.query_y)
    return torch.autograd.grad(total / len(tasks), list(params.values()))


@pytest.mark.parametrize("vectorize", [True, False])
@pytest.mark.parametrize("window", [0, 2, 4])
def test_second_order_steps_matches_a_truncated_loop(vectorize: bool, window: int) -> None:
    net = small_net()
    tasks = SinusoidTasks(seed=2, dtype=torch.float64).sample(3)
    maml = MAML(
        net,
        inner_lr=0.05,
        inner_steps=4,
        second_order_steps=window,
        loss_fn=mse,
        vectorize=vectorize,
    )
    got = torch.autograd.grad(maml.meta_loss(tasks), maml.meta_parameters())
    expected = truncated_reference(net, tasks, 0.05, 4, window)
    for g, e in zip(got, expected, strict=True):
        assert torch.allclose(g, e, atol=1e-8, rtol=0)
    if window == 0:  # the same as first-order MAML
        first = MAML(net, inner_lr=0.05, inner_steps=4, first_order=True, loss_fn=mse)
        fo = torch.autograd.grad(first.meta_loss(tasks), first.meta_parameters())
        assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(got, fo, strict=True))


def test_truncation_bounds_the_memory_of_many_inner_steps() -> None:
    tasks = SinusoidTasks(seed=3, dtype=torch.float64).sample(4)
    net = small_net()

    def measure(steps: int, **kwargs) -> int:
        maml = MAML(net, inner_steps=steps, loss_fn=mse, vectorize=False, **kwargs)
        return backward_memory(lambda: maml.meta_loss(tasks))

    full_5, full_20 = measure(5), measure(20)
    window_5, window_20 = (measure(s, second_order_steps=2) for s in (5, 20))
    assert full_20 > 3 * full_5  # second-order memory grows with the number of steps
    assert window_20 < 1.5 * window_5  # the truncated one does not
    assert window_20 < full_20 / 4
    assert measure(20, first_order=True) < window_20
    with pytest.raises(ValueError, match="second_order_steps"):
        MAML(net, second_order_steps=-1, loss_fn=mse)


@pytest.mark.parametrize("vectorize", [True, False])
def test_step_scale_is_a_larger_inner_step(vectorize: bool) -> None:
    tasks = SinusoidTasks(seed=4, dtype=torch.float64).sample(3)
    net = small_net()
    scaled = MAML(net, inner_lr=0.01, loss_fn=mse, vectorize=vectorize)
    doubled = MAML(net, inner_lr=0.02, loss_fn=mse, vectorize=vectorize)
    got = scaled.evaluate(tasks, steps=5, step_scale=2.0)
    assert torch.allclose(got, doubled.evaluate(tasks, steps=5), atol=1e-10)
    with torch.no_grad():
        fast = scaled.adapt(tasks[0].support_x, tasks[0].support_y, steps=5, step_scale=2.0)
        reference = doubled.adapt(tasks[0].support_x, tasks[0].support_y, steps=5)
    assert all(torch.allclose(fast[k], reference[k], atol=1e-12) for k in fast)
    with pytest.raises(ValueError, match="step_scale"):
        scaled.evaluate(tasks, step_scale=0.0)
