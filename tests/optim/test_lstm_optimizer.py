"""Contract of metaopt.optim.LSTMOptimizer: a well-behaved torch.optim.Optimizer."""

from __future__ import annotations

import copy
import logging
import math

import pytest
import torch
from torch import nn

from metaopt.optim import LSTMOptimizer, LSTMOptimizerNet, load_weights, preprocess_gradient


@pytest.fixture()
def net() -> LSTMOptimizerNet:
    # Random (non-zero) head weights so that the LSTM path, not only the Adam path, is exercised.
    torch.manual_seed(0)
    network = LSTMOptimizerNet(hidden_size=4)
    nn.init.normal_(network.head.weight, std=0.5)
    nn.init.normal_(network.head.bias, std=0.5)
    return network


def _quadratic_step(opt: torch.optim.Optimizer, params: list[torch.Tensor], seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    opt.zero_grad()
    loss = sum(((p - torch.randn(p.shape, generator=generator)) ** 2).sum() for p in params)
    loss.backward()
    opt.step()


def test_preprocess_gradient_matches_the_paper_formula() -> None:
    grad = torch.tensor([1.0, -1e-3, 1e-6, -1e-9, 0.0])
    out = preprocess_gradient(grad, p=10.0)
    assert out.shape == (5, 2)
    assert out[0].tolist() == pytest.approx([0.0, 1.0])
    assert out[1].tolist() == pytest.approx([math.log(1e-3) / 10, -1.0])
    # Below exp(-10) ~ 4.5e-5 the second entry carries the scaled gradient.
    assert out[2].tolist() == pytest.approx([-1.0, 1e-6 * math.exp(10)])
    assert out[4].tolist() == pytest.approx([-1.0, 0.0])


def test_zero_head_network_reproduces_adam() -> None:
    torch.manual_seed(1)
    net = LSTMOptimizerNet(hidden_size=4, init_lr=1e-2, max_direction=1e6)
    p_lstm = nn.Parameter(torch.randn(7))
    p_adam = nn.Parameter(p_lstm.detach().clone())
    lstm = LSTMOptimizer([p_lstm], weights=net)
    adam = torch.optim.Adam([p_adam], lr=1e-2)
    for seed in range(5):
        _quadratic_step(lstm, [p_lstm], seed)
        _quadratic_step(adam, [p_adam], seed)
    torch.testing.assert_close(p_lstm, p_adam, rtol=1e-4, atol=1e-5)


def test_fused_update_equals_separate_updates(net: LSTMOptimizerNet) -> None:
    torch.manual_seed(2)
    a, b = nn.Parameter(torch.randn(3, 4)), nn.Parameter(torch.randn(5))
    a2, b2 = nn.Parameter(a.detach().clone()), nn.Parameter(b.detach().clone())
    together = LSTMOptimizer([a, b], weights=net)
    alone_a, alone_b = LSTMOptimizer([a2], weights=net), LSTMOptimizer([b2], weights=net)
    for seed in range(3):
        _quadratic_step(together, [a, b], seed)
        generator = torch.Generator().manual_seed(seed)
        targets = [torch.randn(p.shape, generator=generator) for p in (a2, b2)]
        alone_a.zero_grad(), alone_b.zero_grad()
        sum(((p - t) ** 2).sum() for p, t in zip((a2, b2), targets, strict=True)).backward()
        alone_a.step(), alone_b.step()
    torch.testing.assert_close(a, a2)
    torch.testing.assert_close(b, b2)


def test_state_dict_round_trip_continues_identically(net: LSTMOptimizerNet) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = LSTMOptimizer(model.parameters(), weights=net, lr=0.5)
    x, y = torch.randn(16, 4), torch.randn(16, 2)

    def train(module: nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
        for _ in range(steps):
            optimizer.zero_grad()
            nn.functional.mse_loss(module(x), y).backward()
            optimizer.step()

    train(model, opt, 3)
    clone = copy.deepcopy(model)
    saved = copy.deepcopy(opt.state_dict())
    restored = LSTMOptimizer(clone.parameters(), weights=net, lr=0.5)
    restored.load_state_dict(saved)
    assert restored.param_groups[0]["lr"] == 0.5
    train(model, opt, 3)
    train(clone, restored, 3)
    for p, q in zip(model.parameters(), clone.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_step_with_closure_returns_loss_and_updates(net: LSTMOptimizerNet) -> None:
    p = nn.Parameter(torch.ones(3))
    opt = LSTMOptimizer([p], weights=net)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.detach()) == pytest.approx(3.0)
    assert not torch.equal(p.detach(), torch.ones(3))
    assert opt.step() is None


def test_param_group_lr_scales_the_update(net: LSTMOptimizerNet) -> None:
    start = torch.randn(6, generator=torch.Generator().manual_seed(4))
    slow, fast = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    opt = LSTMOptimizer([{"params": [slow]}, {"params": [fast], "lr": 3.0}], weights=net, lr=1.0)
    slow.grad = torch.linspace(-1, 1, 6)
    fast.grad = torch.linspace(-1, 1, 6)
    opt.step()
    torch.testing.assert_close(fast - start, 3.0 * (slow - start))


def test_any_shape_zero_size_and_non_contiguous(net: LSTMOptimizerNet) -> None:
    torch.manual_seed(5)
    base = torch.randn(4, 3)
    params = [
        nn.Parameter(torch.tensor(2.0)),  # 0-dim
        nn.Parameter(torch.empty(0, 3)),  # zero-size
        nn.Parameter(base.t()),  # non-contiguous
        nn.Parameter(torch.randn(2, 3, 2)),
    ]
    assert not params[2].is_contiguous()
    reference = [nn.Parameter(p.detach().clone().contiguous()) for p in params]
    opt, ref_opt = LSTMOptimizer(params, weights=net), LSTMOptimizer(reference, weights=net)
    for seed in range(2):
        _quadratic_step(opt, params, seed)
        _quadratic_step(ref_opt, reference, seed)
    for p, q in zip(params, reference, strict=True):
        assert p.shape == q.shape
        torch.testing.assert_close(p.detach(), q.detach())
    assert params[1].numel() == 0 and opt.state[params[1]]["h"].shape == (0, net.hidden_size)


def test_non_finite_gradients_never_reach_parameters(
    net: LSTMOptimizerNet, caplog: pytest.LogCaptureFixture
) -> None:
    p = nn.Parameter(torch.zeros(5))
    opt = LSTMOptimizer([p], weights=net)
    p.grad = torch.ones(5)
    opt.step()
    before = p.detach().clone()
    h_before = opt.state[p]["h"].clone()
    p.grad = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0, 1e30])
    with caplog.at_level(logging.WARNING, logger="metaopt.optim"):
        opt.step()
    assert "non-finite" in caplog.text
    assert torch.isfinite(p).all()
    torch.testing.assert_close(p[:3], before[:3])  # skipped coordinates stay put
    torch.testing.assert_close(opt.state[p]["h"][:3], h_before[:3])
    assert not torch.equal(p[3:], before[3:])
    for value in opt.state[p].values():
        assert torch.isfinite(value).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_other_parameter_dtypes(net: LSTMOptimizerNet, dtype: torch.dtype) -> None:
    p = nn.Parameter(torch.ones(4, dtype=dtype))
    opt = LSTMOptimizer([p], weights=net)
    p.grad = torch.ones(4, dtype=dtype)
    opt.step()
    assert p.dtype == dtype and (p < 1).all()


def test_invalid_arguments_are_rejected(net: LSTMOptimizerNet) -> None:
    p = nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="lr must be a positive number"):
        LSTMOptimizer([p], weights=net, lr=0.0)
    with pytest.raises(TypeError, match="weights must be"):
        LSTMOptimizer([p], weights=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not found"):
        load_weights("/nonexistent/weights.pt")
    sparse = nn.Parameter(torch.ones(3))
    opt = LSTMOptimizer([sparse], weights=net)
    sparse.grad = torch.ones(3).to_sparse()
    with pytest.raises(TypeError, match="sparse"):
        opt.step()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_parameters(net: LSTMOptimizerNet) -> None:
    p = nn.Parameter(torch.ones(10, device="cuda"))
    opt = LSTMOptimizer([p], weights=net)
    p.grad = torch.ones(10, device="cuda")
    opt.step()
    assert opt.state[p]["h"].device.type == "cuda" and (p < 1).all()


def test_parameters_skipped_or_added_later_match_separate_optimizers(
    net: LSTMOptimizerNet,
) -> None:
    torch.manual_seed(6)
    a, b = nn.Parameter(torch.randn(4)), nn.Parameter(torch.randn(3))
    a2, b2 = nn.Parameter(a.detach().clone()), nn.Parameter(b.detach().clone())
    joint = LSTMOptimizer([a], weights=net)
    alone_a, alone_b = LSTMOptimizer([a2], weights=net), LSTMOptimizer([b2], weights=net)
    grads = [torch.randn(4) for _ in range(5)], [torch.randn(3) for _ in range(5)]
    # a steps every time; b joins at step 1 (new param group) and has no gradient at step 3.
    for step in range(5):
        if step == 1:
            joint.add_param_group({"params": [b]})
        a.grad, a2.grad = grads[0][step].clone(), grads[0][step].clone()
        b_steps = 1 <= step != 3
        b.grad = grads[1][step].clone() if b_steps else None
        b2.grad = grads[1][step].clone() if b_steps else None
        joint.step()
        alone_a.step()
        if b_steps:
            alone_b.step()
    torch.testing.assert_close(a, a2)
    torch.testing.assert_close(b, b2)
    assert float(joint.state[b]["step"]) == 3.0 and float(joint.state[a]["step"]) == 5.0
