"""MAML: meta-gradients against a plain autograd loop, learning, and input checks."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn
from torch.func import functional_call

from metaopt.maml import MAML, SinusoidTasks, Task

mse = nn.functional.mse_loss


def small_net(seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)
    ).to(dtype)


def sinusoid_batch(n: int, seed: int, dtype: torch.dtype = torch.float64, **kwargs) -> list[Task]:
    return SinusoidTasks(seed=seed, dtype=dtype, **kwargs).sample(n)


def reference_meta_gradient(
    net: nn.Module,
    tasks: list[Task],
    inner_lr: float | dict[str, torch.Tensor],
    steps: int,
    first_order: bool,
) -> tuple[torch.Tensor, ...]:
    """The textbook per-task loop: torch.autograd.grad with create_graph, then backward."""
    params = dict(net.named_parameters())
    extra = list(inner_lr.values()) if isinstance(inner_lr, dict) else []
    total = 0.0
    for task in tasks:
        fast = dict(params)
        for _ in range(steps):
            loss = mse(functional_call(net, fast, (task.support_x,)), task.support_y)
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=not first_order)
            fast = {
                name: p - (inner_lr[name] if isinstance(inner_lr, dict) else inner_lr) * g
                for (name, p), g in zip(fast.items(), grads, strict=True)
            }
        total = total + mse(functional_call(net, fast, (task.query_x,)), task.query_y)
    return torch.autograd.grad(total / len(tasks), list(params.values()) + extra)


def maml_meta_gradient(maml: MAML, tasks: list[Task]) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(maml.meta_loss(tasks), maml.meta_parameters())


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("vectorize", [True, False])
def test_meta_gradient_matches_autograd_loop(first_order: bool, vectorize: bool) -> None:
    net = small_net()
    tasks = sinusoid_batch(5, seed=1)
    maml = MAML(
        net,
        inner_lr=0.05,
        inner_steps=3,
        first_order=first_order,
        loss_fn=mse,
        vectorize=vectorize,
    )
    got = maml_meta_gradient(maml, tasks)
    expected = reference_meta_gradient(net, tasks, 0.05, 3, first_order)
    assert len(got) == len(expected) == len(list(net.parameters()))
    for g, e in zip(got, expected, strict=True):
        assert torch.allclose(g, e, atol=1e-6, rtol=0), (g - e).abs().max()


def test_second_and_first_order_gradients_differ() -> None:
    # Guards the test above against a second-order path that silently drops the Hessian term.
    net = small_net()
    tasks = sinusoid_batch(5, seed=1)
    second = maml_meta_gradient(MAML(net, inner_lr=0.05, inner_steps=3, loss_fn=mse), tasks)
    first = maml_meta_gradient(
        MAML(net, inner_lr=0.05, inner_steps=3, loss_fn=mse, first_order=True), tasks
    )
    gap = max(float((a - b).abs().max()) for a, b in zip(second, first, strict=True))
    assert gap > 1e-4


@pytest.mark.parametrize("first_order", [False, True])
def test_meta_sgd_gradient_matches_autograd_loop(first_order: bool) -> None:
    net = small_net()
    tasks = sinusoid_batch(4, seed=2)
    maml = MAML(
        net,
        inner_lr=0.03,
        inner_steps=2,
        learn_inner_lr=True,
        first_order=first_order,
        loss_fn=mse,
    )
    with torch.no_grad():  # distinct per-entry step sizes, so a mix-up would show
        for lr in maml.inner_lrs.values():
            lr.uniform_(0.01, 0.05)
    got = maml_meta_gradient(maml, tasks)
    expected = reference_meta_gradient(net, tasks, dict(maml.inner_lrs), 2, first_order)
    assert len(got) == 2 * len(list(net.parameters()))
    for g, e in zip(got, expected, strict=True):
        assert torch.allclose(g, e, atol=1e-6, rtol=0)


def test_tasks_of_different_shapes_use_the_loop_and_agree() -> None:
    net = small_net()
    tasks = sinusoid_batch(2, seed=3) + sinusoid_batch(2, seed=4, support_size=5)
    maml = MAML(net, inner_lr=0.05, inner_steps=2, loss_fn=mse)
    got = maml_meta_gradient(maml, tasks)
    expected = reference_meta_gradient(net, tasks, 0.05, 2, False)
    for g, e in zip(got, expected, strict=True):
        assert torch.allclose(g, e, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="identical shapes"):
        MAML(net, loss_fn=mse, vectorize=True).meta_loss(tasks)


def test_adapt_is_differentiable_second_order_and_identity_first_order() -> None:
    net = small_net()
    task = sinusoid_batch(1, seed=5)[0]
    weight = net[2].weight
    for first_order, expect_identity in ((True, True), (False, False)):
        maml = MAML(net, inner_lr=0.1, inner_steps=2, first_order=first_order, loss_fn=mse)
        fast = maml.adapt(task.support_x, task.support_y)
        assert set(fast) == {name for name, _ in net.named_parameters()}
        (d,) = torch.autograd.grad(fast["2.weight"].sum(), weight)
        assert torch.allclose(d, torch.ones_like(d)) == expect_identity


def test_adapt_takes_gradient_steps_and_leaves_the_model_alone() -> None:
    net = small_net()
    before = {k: v.detach().clone() for k, v in net.state_dict().items()}
    task = sinusoid_batch(1, seed=6)[0]
    maml = MAML(net, inner_lr=0.1, loss_fn=mse)
    with torch.no_grad():
        fast = maml.adapt(task.support_x, task.support_y, steps=1)
    assert all(not v.requires_grad for v in fast.values())
    loss = mse(net(task.support_x), task.support_y)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    for (name, p), g in zip(net.named_parameters(), grads, strict=True):
        assert torch.allclose(fast[name], p - 0.1 * g)
        assert torch.equal(p.detach(), before[name])
    with torch.no_grad():
        many = maml.adapt(task.support_x, task.support_y, steps=20)
    adapted_loss = mse(functional_call(net, many, (task.support_x,)), task.support_y)
    assert adapted_loss < 0.5 * loss
    assert maml.adapt(task.support_x, task.support_y, steps=0)["0.weight"] is net[0].weight


def test_short_meta_training_lowers_post_adaptation_loss_on_held_out_tasks() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1)
    )
    maml = MAML(
        net, inner_lr=0.01, loss_fn=mse, meta_optimizer=lambda p: torch.optim.Adam(p, lr=3e-3)
    )
    held_out = SinusoidTasks(query_size=50, seed=123).sample(100)
    before = maml.evaluate(held_out, steps=5).mean(0)
    train = SinusoidTasks(seed=7)
    losses = [maml.meta_step(train.sample(10)) for _ in range(200)]
    after = maml.evaluate(held_out, steps=5).mean(0)
    assert after[1] < 0.8 * before[1]
    assert after[5] < 0.8 * before[5]
    assert after[5] < after[0]  # the learned initialisation is one that adapts
    assert sum(losses[-50:]) < sum(losses[:50])


def test_evaluate_matches_between_vmap_and_loop() -> None:
    net = small_net()
    tasks = sinusoid_batch(3, seed=8)
    vec = MAML(net, inner_lr=0.05, loss_fn=mse, vectorize=True).evaluate(tasks, steps=4)
    loop = MAML(net, inner_lr=0.05, loss_fn=mse, vectorize=False).evaluate(tasks, steps=4)
    assert vec.shape == (3, 5)
    assert torch.allclose(vec, loop, atol=1e-10)
    assert not vec.requires_grad
    assert (vec[:, 4] < vec[:, 0]).all()


def test_meta_step_updates_parameters_through_the_given_optimizer() -> None:
    net = small_net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    maml = MAML(net, loss_fn=mse, meta_optimizer=optimizer, learn_inner_lr=True)
    assert maml.meta_optimizer is optimizer
    assert len(optimizer.param_groups) == 2  # the learned step sizes were added
    before = [p.detach().clone() for p in maml.meta_parameters()]
    loss = maml.meta_step(sinusoid_batch(3, seed=9))
    assert isinstance(loss, float)
    changed = [not torch.equal(b, p) for b, p in zip(before, maml.meta_parameters(), strict=True)]
    assert all(changed)


def test_state_dict_round_trip() -> None:
    maml = MAML(small_net(0), loss_fn=mse, learn_inner_lr=True)
    maml.meta_step(sinusoid_batch(2, seed=10))
    other = MAML(small_net(1), loss_fn=mse, learn_inner_lr=True)
    other.load_state_dict(maml.state_dict())
    tasks = sinusoid_batch(2, seed=11)
    assert torch.equal(other.evaluate(tasks, steps=2), maml.evaluate(tasks, steps=2))


def test_falls_back_to_loop_when_vmap_fails(caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1)).double()
    tasks = sinusoid_batch(3, seed=12)
    maml = MAML(net, inner_lr=0.05, loss_fn=mse)
    with caplog.at_level(logging.WARNING, logger="metaopt.maml"):
        loss = maml.meta_loss(tasks)
    assert "falling back" in caplog.text
    assert torch.isfinite(loss)
    with pytest.raises(RuntimeError):
        MAML(net, loss_fn=mse, vectorize=True).meta_loss(tasks)


# ---------------------------------------------------------------------- bad inputs
def accuracy(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (prediction.argmax(-1) == target).float().mean()


@pytest.fixture
def maml() -> MAML:
    return MAML(small_net(), loss_fn=mse)


def test_empty_support_set_is_rejected(maml: MAML) -> None:
    with pytest.raises(ValueError, match="support set is empty"):
        maml.adapt(torch.zeros(0, 1, dtype=torch.float64), torch.zeros(0, 1, dtype=torch.float64))
    task = sinusoid_batch(1, seed=0)[0]
    empty = Task(task.support_x[:0], task.support_y[:0], task.query_x, task.query_y)
    with pytest.raises(ValueError, match="task 0: the support set is empty"):
        maml.meta_step([empty])


def test_mismatched_shapes_are_rejected(maml: MAML) -> None:
    x = torch.zeros(5, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="disagree on the number of examples"):
        maml.adapt(x, torch.zeros(4, 1, dtype=torch.float64))
    task = sinusoid_batch(1, seed=0)[0]
    with pytest.raises(ValueError, match="task 0: query_x and query_y"):
        maml.meta_loss([Task(task.support_x, task.support_y, task.query_x, task.query_y[:3])])


def test_non_differentiable_loss_is_rejected() -> None:
    torch.manual_seed(0)
    net = nn.Linear(4, 3)
    maml = MAML(net, loss_fn=accuracy)
    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
    with pytest.raises(ValueError, match="not differentiable"):
        maml.adapt(x, y)
    with pytest.raises(ValueError, match="not differentiable"):
        maml.meta_step([Task(x, y, x, y)])


def test_bad_loss_outputs_are_rejected(maml: MAML) -> None:
    task = sinusoid_batch(1, seed=0)[0]
    with pytest.raises(ValueError, match="scalar"):
        maml.adapt(task.support_x, task.support_y, lambda p, t: (p - t) ** 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        maml.adapt(task.support_x, task.support_y, lambda p, t: 1.0)
    with pytest.raises(ValueError, match="no loss function"):
        MAML(small_net()).adapt(task.support_x, task.support_y)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"inner_lr": -0.1}, ValueError, "inner_lr"),
        ({"inner_lr": float("nan")}, ValueError, "inner_lr"),
        ({"inner_lr": "0.1"}, TypeError, "inner_lr"),
        ({"inner_steps": 0}, ValueError, "inner_steps"),
        ({"inner_steps": 1.5}, TypeError, "inner_steps"),
        ({"first_order": 1}, TypeError, "first_order"),
        ({"meta_optimizer": "adam"}, TypeError, "meta_optimizer"),
        ({"meta_optimizer": lambda p: None}, TypeError, "meta_optimizer factory"),
        ({"vectorize": "yes"}, ValueError, "vectorize"),
        ({"loss_fn": "mse"}, TypeError, "loss_fn"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        MAML(small_net(), **kwargs)


def test_bad_models_and_batches(maml: MAML) -> None:
    with pytest.raises(TypeError, match="nn.Module"):
        MAML(lambda x: x)  # type: ignore[arg-type]
    frozen = nn.Linear(1, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="no parameters"):
        MAML(frozen)
    with pytest.raises(ValueError, match="empty"):
        maml.meta_step([])
    task = sinusoid_batch(1, seed=0)[0]
    with pytest.raises(TypeError, match="sequence of Task"):
        maml.meta_step(task)
    with pytest.raises(TypeError, match="task 0 must be a Task"):
        maml.meta_step([task[:3]])
    with pytest.raises(TypeError, match="support_x must be a torch.Tensor"):
        maml.adapt([[0.0]], task.support_y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="steps"):
        maml.adapt(task.support_x, task.support_y, steps=-1)
