"""Contract of metaopt.optim.LSTMOptimizer: a well-behaved torch.optim.Optimizer."""

from __future__ import annotations

import copy
import io
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from metaopt.exceptions import FallbackWarning
from metaopt.optim import LSTMOptimizer, LSTMOptimizerNet, Segments, load_weights
from metaopt.optim._optimizer import MAX_LR


def _quadratic_step(opt: torch.optim.Optimizer, params: list[torch.Tensor], seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    opt.zero_grad()
    loss = sum(((p - torch.randn(p.shape, generator=generator)) ** 2).sum() for p in params)
    loss.backward()
    opt.step()


def _train(module: nn.Module, opt: torch.optim.Optimizer, steps: int, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.randn(16, 4, generator=generator), torch.randn(16, 2, generator=generator)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(module(x), y).backward()
        opt.step()


def test_segments_map_coordinates_to_tensors() -> None:
    seg = Segments.from_shapes([(2, 3), (), (0, 4), (2,)])
    assert seg.numels == [6, 1, 0, 2]
    assert seg.ids.tolist() == [0] * 6 + [1] + [3] * 2
    assert seg.static[:, 0].tolist() == [0.0, 1.0, 0.0, 1.0]  # vectors and scalars flagged


def test_zero_head_network_reproduces_adam() -> None:
    torch.manual_seed(1)
    net = LSTMOptimizerNet(hidden_size=4, init_lr=1e-2, max_direction=1e6, init_weight_decay=0)
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


def test_state_lives_in_persistent_flat_buffers(net: LSTMOptimizerNet) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = LSTMOptimizer(model.parameters(), weights=net)
    _train(model, opt, 1)
    first, last = list(model.parameters())[0], list(model.parameters())[-1]
    m_first, h_last = opt.state[first]["m"], opt.state[last]["h"]
    assert (
        m_first.untyped_storage().data_ptr() == opt.state[last]["m"].untyped_storage().data_ptr()
    )
    before = m_first.clone()
    _train(model, opt, 2)
    # Same tensor objects, updated in place: nothing was re-split or reassigned.
    assert opt.state[first]["m"] is m_first and opt.state[last]["h"] is h_last
    assert not torch.equal(m_first, before)
    assert float(opt.state[first]["step"]) == 3.0


def test_state_dict_round_trip_continues_identically(net: LSTMOptimizerNet) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = LSTMOptimizer(model.parameters(), weights=net, lr=0.5)
    _train(model, opt, 3)
    clone = copy.deepcopy(model)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    restored = LSTMOptimizer(clone.parameters(), weights=net, lr=0.5)
    restored.load_state_dict(saved)
    assert restored.param_groups[0]["lr"] == 0.5
    _train(model, opt, 3, seed=1)
    _train(clone, restored, 3, seed=1)
    for p, q in zip(model.parameters(), clone.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_load_state_dict_of_another_model_names_the_parameter(net: LSTMOptimizerNet) -> None:
    small = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    wide = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
    opt_small = LSTMOptimizer(small.parameters(), weights=net)
    _train(small, opt_small, 1)
    opt_wide = LSTMOptimizer(wide.named_parameters(), weights=net)
    expected = r"parameter '0.weight' \(shape \(16, 4\)\).*'m' has shape \(3, 32\), expected"
    with pytest.raises(ValueError, match=expected + r" \(3, 64\)"):
        opt_wide.load_state_dict(opt_small.state_dict())
    # Another network architecture (other hidden size) is caught the same way.
    other = LSTMOptimizer(copy.deepcopy(small).parameters(), weights=LSTMOptimizerNet(8))
    with pytest.raises(ValueError, match=r"parameter 0 of group 0 .*'h' has shape \(4,\)"):
        other.load_state_dict(opt_small.state_dict())
    with pytest.raises(ValueError, match="parameter groups of sizes"):
        LSTMOptimizer([nn.Parameter(torch.ones(2))], weights=net).load_state_dict(
            opt_small.state_dict()
        )
    adam = torch.optim.Adam(small.parameters())
    _train(small, adam, 1)
    with pytest.raises(ValueError, match="no tensor 'm'"):
        LSTMOptimizer(small.parameters(), weights=net).load_state_dict(adam.state_dict())


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


def test_zero_grad_set_to_none_skips_the_parameter(net: LSTMOptimizerNet) -> None:
    p = nn.Parameter(torch.ones(3))
    opt = LSTMOptimizer([p], weights=net)
    p.grad = torch.ones(3)
    opt.step()
    opt.zero_grad(set_to_none=True)
    assert p.grad is None
    before = p.detach().clone()
    opt.step()
    assert torch.equal(p.detach(), before) and float(opt.state[p]["step"]) == 1.0
    p.grad = torch.ones(3)
    opt.zero_grad(set_to_none=False)
    assert torch.equal(p.grad, torch.zeros(3))
    opt.step()  # a zero gradient still counts as a step (momentum keeps moving it)
    assert float(opt.state[p]["step"]) == 2.0


def test_param_group_lr_scales_the_update(net: LSTMOptimizerNet) -> None:
    start = torch.randn(6, generator=torch.Generator().manual_seed(4))
    slow, fast = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    opt = LSTMOptimizer([{"params": [slow]}, {"params": [fast], "lr": 3.0}], weights=net, lr=1.0)
    slow.grad = torch.linspace(-1, 1, 6)
    fast.grad = torch.linspace(-1, 1, 6)
    opt.step()
    torch.testing.assert_close(fast - start, 3.0 * (slow - start))


def test_maximize_ascends(net: LSTMOptimizerNet) -> None:
    start = torch.randn(5, generator=torch.Generator().manual_seed(8))
    up, down = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    opt_up = LSTMOptimizer([up], weights=net, maximize=True)
    opt_down = LSTMOptimizer([down], weights=net)
    for _ in range(3):
        opt_up.zero_grad(), opt_down.zero_grad()
        (-(up - 1).square().sum()).backward()  # maximise -f ...
        (down - 1).square().sum().backward()  # ... is minimising f
        opt_up.step(), opt_down.step()
    torch.testing.assert_close(up, down)


@pytest.mark.parametrize(
    ("lr", "accepted"),
    [
        (0.0, "0 < lr <= 10"),
        (-1.0, "0 < lr <= 10"),
        (math.inf, "finite"),
        (math.nan, "finite"),
        (1e39, "finite"),
        (MAX_LR * 1.01, "lr <= 10"),
        (True, "real number"),
        ("0.1", "real number"),
    ],
)
def test_invalid_lr_is_rejected_everywhere(net: LSTMOptimizerNet, lr, accepted: str) -> None:
    p, q = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    got = f"got {lr!r}"
    with pytest.raises(ValueError, match=rf"LSTMOptimizer: lr must .*{accepted}.*") as info:
        LSTMOptimizer([p], weights=net, lr=lr)
    assert got in str(info.value)
    with pytest.raises(ValueError, match=r"parameter group 1: lr must") as info:
        LSTMOptimizer([{"params": [p]}, {"params": [q], "lr": lr}], weights=net)
    assert got in str(info.value)
    opt = LSTMOptimizer([p], weights=net)
    with pytest.raises(ValueError, match=r"parameter group 1: lr must"):
        opt.add_param_group({"params": [q], "lr": lr})
    assert len(opt.param_groups) == 1


def test_lr_changed_after_construction_is_checked_at_step(net: LSTMOptimizerNet) -> None:
    p = nn.Parameter(torch.ones(3))
    opt = LSTMOptimizer([p], weights=net)
    p.grad = torch.ones(3)
    opt.param_groups[0]["lr"] = 0.0  # a scheduler may anneal to zero: no update, no NaN
    opt.step()
    assert torch.equal(p.detach(), torch.ones(3))
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"parameter group 0: lr must .*got -1.0"):
        opt.step()


def test_other_invalid_arguments_are_rejected(net: LSTMOptimizerNet) -> None:
    p = nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="maximize must be a bool, got 'yes'"):
        LSTMOptimizer([p], weights=net, maximize="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="parameter group 0: maximize must be a bool"):
        LSTMOptimizer([{"params": [p], "maximize": 1}], weights=net)
    with pytest.raises(ValueError, match="compile must be"):
        LSTMOptimizer([p], weights=net, compile="auto")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="weights must be"):
        LSTMOptimizer([p], weights=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not found"):
        load_weights("/nonexistent/weights.pt")
    with pytest.raises(TypeError, match="complex"):
        LSTMOptimizer([nn.Parameter(torch.ones(2, dtype=torch.complex64))], weights=net)
    sparse = nn.Parameter(torch.ones(3))
    opt = LSTMOptimizer([sparse], weights=net)
    sparse.grad = torch.ones(3).to_sparse()
    with pytest.raises(TypeError, match="sparse"):
        opt.step()


@pytest.mark.parametrize("total_steps", [0, -3, 2.5, True, "100"])
def test_invalid_total_steps_are_rejected(net: LSTMOptimizerNet, total_steps) -> None:
    with pytest.raises(ValueError, match=r"total_steps must be a positive int .*got"):
        LSTMOptimizer([nn.Parameter(torch.ones(2))], weights=net, total_steps=total_steps)


def _trajectory(net: LSTMOptimizerNet, steps: int, total_steps: int | None) -> torch.Tensor:
    torch.manual_seed(1)
    p = nn.Parameter(torch.randn(6))
    opt = LSTMOptimizer([p], weights=net, total_steps=total_steps)
    for _ in range(steps):
        opt.zero_grad()
        ((p - 1.0) ** 2).sum().backward()
        opt.step()
    return p.detach().clone()


def _horizon_net() -> LSTMOptimizerNet:
    torch.manual_seed(0)
    net = LSTMOptimizerNet(hidden_size=4, mlp_hidden=3, horizon_aware=True)
    for layer in (net.head, net.coord_out):
        nn.init.normal_(layer.weight, std=0.5)
        nn.init.normal_(layer.bias, std=0.5)
    return net


def test_a_horizon_aware_network_follows_the_told_horizon() -> None:
    net = _horizon_net()
    unknown = _trajectory(net, 8, None)
    assert not torch.allclose(_trajectory(net, 8, 10), unknown)
    assert not torch.allclose(_trajectory(net, 8, 10), _trajectory(net, 8, 1000))
    # Stepping far past the told horizon is allowed (the fraction feature is clipped).
    assert torch.isfinite(_trajectory(net, 30, 2)).all()


def test_a_network_without_horizon_features_ignores_total_steps_and_warns(
    net: LSTMOptimizerNet,
) -> None:
    assert not net.horizon_aware and not load_weights("default").horizon_aware
    with pytest.warns(FallbackWarning, match="total_steps=10 is ignored"):
        told = _trajectory(net, 8, 10)
    torch.testing.assert_close(told, _trajectory(net, 8, None))


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
    assert params[1].numel() == 0 and opt.state[params[1]]["m"].shape == (3, 0)
    assert all(torch.isfinite(v).all() for s in opt.state.values() for v in s.values())


def test_non_finite_gradients_never_reach_parameters(net: LSTMOptimizerNet) -> None:
    p = nn.Parameter(torch.zeros(5))
    opt = LSTMOptimizer([p], weights=net)
    p.grad = torch.ones(5)
    opt.step()
    before = p.detach().clone()
    m_before, v_before = opt.state[p]["m"].clone(), opt.state[p]["v"].clone()
    p.grad = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0, 1e30])
    opt.step()
    assert torch.isfinite(p).all()
    torch.testing.assert_close(p[:3], before[:3])  # skipped coordinates stay put...
    torch.testing.assert_close(opt.state[p]["m"][:, :3], m_before[:, :3])  # ...and moments
    torch.testing.assert_close(opt.state[p]["v"][:3], v_before[:3])
    assert not torch.equal(p[3:], before[3:])
    for value in opt.state[p].values():
        assert torch.isfinite(value).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_nothing_non_finite_at_the_largest_lr(net: LSTMOptimizerNet, dtype) -> None:
    generator = torch.Generator().manual_seed(9)
    p = nn.Parameter(torch.randn(64, generator=generator).to(dtype))
    opt = LSTMOptimizer([p], weights=net, lr=MAX_LR)
    for step in range(40):
        scale = 10.0 ** (step % 9 * 4 - 8)  # gradients from 1e-8 to 1e24, any sign
        grad = torch.randn(64, generator=generator) * scale
        grad[step % 64] = float("nan") if step % 2 else float("inf")
        p.grad = grad.to(dtype)
        opt.step()
        assert torch.isfinite(p).all(), f"step {step}"


def test_step_does_not_synchronise_with_the_host(
    net: LSTMOptimizerNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = LSTMOptimizer(model.parameters(), weights=net)
    _train(model, opt, 1)

    def forbidden(*args, **kwargs):
        raise AssertionError("a tensor value was read back to the host during step()")

    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    model[0].weight.grad[0, 0] = float("nan")
    opt.step()  # must not call any of the above
    monkeypatch.undo()
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_parameter_dtypes(net: LSTMOptimizerNet, dtype: torch.dtype) -> None:
    p = nn.Parameter(torch.ones(4, dtype=dtype))
    opt = LSTMOptimizer([p], weights=net)
    p.grad = torch.ones(4, dtype=dtype)
    opt.step()
    assert p.dtype == dtype and (p < 1).all()
    assert opt.state[p]["v"].dtype == torch.float32  # the network's state stays float32
    restored = LSTMOptimizer([nn.Parameter(p.detach().clone())], weights=net)
    restored.load_state_dict(opt.state_dict())
    (q,) = restored.param_groups[0]["params"]
    assert restored.state[q]["v"].dtype == torch.float32
    torch.testing.assert_close(restored.state[q]["v"], opt.state[p]["v"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_parameters(net: LSTMOptimizerNet) -> None:
    p = nn.Parameter(torch.ones(10, device="cuda"))
    q = nn.Parameter(torch.ones(10))
    opt = LSTMOptimizer([p], weights=net)
    ref = LSTMOptimizer([q], weights=net)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            p.grad = torch.ones(10, device="cuda")
            q.grad = torch.ones(10)
            opt.step()
            ref.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert opt.state[p]["m"].device.type == "cuda"
    torch.testing.assert_close(p.detach().cpu(), q.detach(), rtol=1e-4, atol=1e-5)


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


def test_compile_failure_falls_back_to_eager_silently(
    net: LSTMOptimizerNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_compile(module, **kwargs):
        def run(*args):
            raise RuntimeError("backend unavailable")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    torch.manual_seed(7)
    eager_model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    fallback_model = copy.deepcopy(eager_model)
    eager = LSTMOptimizer(eager_model.parameters(), weights=net, compile=False)
    fallback = LSTMOptimizer(fallback_model.parameters(), weights=net, compile=True)
    _train(eager_model, eager, 3)
    _train(fallback_model, fallback, 3)
    for p, q in zip(eager_model.parameters(), fallback_model.parameters(), strict=True):
        torch.testing.assert_close(p, q)


@pytest.mark.slow
@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA device (compiling on CPU takes minutes and does not pay there)",
)
def test_compiled_update_matches_eager_on_cuda(net: LSTMOptimizerNet) -> None:
    torch.manual_seed(7)
    eager_model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).cuda()
    compiled_model = copy.deepcopy(eager_model)
    eager = LSTMOptimizer(eager_model.parameters(), weights=net, compile=False)
    compiled = LSTMOptimizer(compiled_model.parameters(), weights=net)  # compiles on CUDA
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 4, generator=generator), torch.randn(16, 2, generator=generator)
    for module, opt in ((eager_model, eager), (compiled_model, compiled)):
        for _ in range(3):
            opt.zero_grad()
            nn.functional.mse_loss(module(x.cuda()), y.cuda()).backward()
            opt.step()
    for p, q in zip(eager_model.parameters(), compiled_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def _validation_net() -> LSTMOptimizerNet:
    torch.manual_seed(0)
    net = LSTMOptimizerNet(hidden_size=4, mlp_hidden=3, validation_aware=True)
    for layer in (net.head, net.coord_out, net.cell):
        for weight in layer.parameters():
            nn.init.normal_(weight, std=0.5)
    return net


def _reported_trajectory(
    net: LSTMOptimizerNet, steps: int, losses: list[float] | None, state_at: int | None = None
) -> tuple[torch.Tensor, dict | None]:
    torch.manual_seed(1)
    p = nn.Parameter(torch.randn(6))
    opt = LSTMOptimizer([p], weights=net)
    saved = None
    for k in range(steps):
        if losses is not None:
            opt.report_validation_loss(losses[k])
        if k == state_at:
            saved = copy.deepcopy(opt.state_dict())
        opt.zero_grad()
        ((p - 1.0) ** 2).sum().backward()
        opt.step()
    return p.detach().clone(), saved


def test_validation_signal_features() -> None:
    from metaopt.optim import ValidationSignal

    signal = ValidationSignal()
    assert signal.values() == [0.0, 0.0, 0.0, 0.0]
    signal.report(2.0, step=0)
    signal.report(1.0, step=5)
    known, rise, best_step, progress = signal.values()
    assert (known, rise, best_step) == (1.0, 0.0, 5.0)
    assert progress == pytest.approx(math.log(2.0) / 5.0)
    signal.report(1.5, step=55)
    assert signal.values()[1:3] == [pytest.approx(math.log(1.5)), 5.0]
    signal.report(math.nan, step=60)  # a diverged validation loss is the largest rise
    assert signal.values()[1] == 1.0 and signal.best == 1.0
    # The network turns the step of the best into the time since it, from its own step count.
    net = LSTMOptimizerNet(validation_aware=True)
    step = torch.tensor([56.0, 106.0])  # the count already includes the current update
    features = net._validation_features(step, torch.tensor(signal.values()))
    torch.testing.assert_close(features[2], torch.tanh(torch.tensor([1.0, 2.0])))


def test_a_validation_aware_network_reacts_to_reported_losses() -> None:
    net = _validation_net()
    silent, _ = _reported_trajectory(net, 8, None)
    falling, _ = _reported_trajectory(net, 8, [1.0 / (k + 1) for k in range(8)])
    rising, _ = _reported_trajectory(net, 8, [1.0 + k for k in range(8)])
    assert not torch.allclose(silent, falling)
    assert not torch.allclose(falling, rising)
    with pytest.raises(TypeError, match="loss must be a real number"):
        LSTMOptimizer([nn.Parameter(torch.ones(2))], weights=net).report_validation_loss("0.5")


def test_reported_losses_survive_a_state_dict_round_trip() -> None:
    net = _validation_net()
    losses = [1.0, 0.5, 0.4, 0.6, 0.7, 0.3, 0.9, 1.0]
    expected, saved = _reported_trajectory(net, 8, losses, state_at=4)
    torch.manual_seed(1)
    p = nn.Parameter(torch.randn(6))
    opt = LSTMOptimizer([p], weights=net)
    for k in range(4):  # replay the first four steps' parameters, then load the saved state
        opt.report_validation_loss(losses[k])
        opt.zero_grad()
        ((p - 1.0) ** 2).sum().backward()
        opt.step()
    restored = LSTMOptimizer([p], weights=net)
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    buffer.seek(0)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    # A state saved before validation reports existed (no "validation" entry) still loads.
    legacy = {k: v for k, v in saved.items() if k != "validation"}
    LSTMOptimizer([nn.Parameter(p.detach().clone())], weights=net).load_state_dict(legacy)
    for k in range(4, 8):
        restored.report_validation_loss(losses[k])
        restored.zero_grad()
        ((p - 1.0) ** 2).sum().backward()
        restored.step()
    torch.testing.assert_close(p.detach(), expected)


def test_a_network_without_validation_features_ignores_reports_and_warns(
    net: LSTMOptimizerNet,
) -> None:
    silent, _ = _reported_trajectory(net, 6, None)
    with pytest.warns(FallbackWarning, match="validation losses are ignored") as record:
        reported, _ = _reported_trajectory(net, 6, [1.0 + k for k in range(6)])
    assert len(record) == 1  # once per optimizer
    torch.testing.assert_close(reported, silent)


def test_steps_between_reports_copy_nothing_from_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = LSTMOptimizer(model.parameters(), weights=_validation_net())
    opt.report_validation_loss(0.7)
    _train(model, opt, 1)  # the first step after a report copies the signal's values once

    def forbidden(*args, **kwargs):
        raise AssertionError("a new tensor was built from host values during step()")

    monkeypatch.setattr(torch, "tensor", forbidden)
    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    opt.step()


def test_a_copied_or_pickled_optimizer_continues_the_same_trajectory(
    net: LSTMOptimizerNet,
) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = LSTMOptimizer(model.parameters(), weights=net, lr=0.5)
    _train(model, opt, 3)
    model_copy, opt_copy = copy.deepcopy((model, opt))
    buffer = io.BytesIO()
    pickle.dump((model, opt), buffer)
    buffer.seek(0)
    model_pickled, opt_pickled = pickle.load(buffer)
    for other, other_opt in [(model_copy, opt_copy), (model_pickled, opt_pickled)]:
        assert other_opt.state_dict()["validation"]["steps"] == 3
        _train(other, other_opt, 3, seed=1)
    _train(model, opt, 3, seed=1)
    for p, q, r in zip(
        model.parameters(), model_copy.parameters(), model_pickled.parameters(), strict=True
    ):
        torch.testing.assert_close(p, q)
        torch.testing.assert_close(p, r)


def test_a_rejected_param_group_leaves_the_optimizer_unchanged(net: LSTMOptimizerNet) -> None:
    p = nn.Parameter(torch.ones(2))
    opt = LSTMOptimizer([p], weights=net)
    bad = torch.zeros(3, dtype=torch.complex64, requires_grad=True)
    with pytest.raises(TypeError, match="complex"):
        opt.add_param_group({"params": [bad]})
    with pytest.raises(TypeError, match="floating-point"):
        opt.add_param_group({"params": [torch.zeros(2, dtype=torch.int64)]})
    assert len(opt.param_groups) == 1
    p.grad = torch.ones(2)
    opt.step()  # still steps what it holds
    assert not torch.equal(p.detach(), torch.ones(2))


def test_options_of_other_optimizers_are_ignored_with_a_warning(net: LSTMOptimizerNet) -> None:
    torch.manual_seed(0)
    plain_model = nn.Linear(4, 2)
    grouped_model = copy.deepcopy(plain_model)
    plain = LSTMOptimizer(plain_model.parameters(), weights=net)
    with pytest.warns(FallbackWarning, match=r"\['betas', 'weight_decay'\] are ignored") as rec:
        grouped = LSTMOptimizer(
            [{"params": grouped_model.parameters(), "weight_decay": 0.5, "betas": (0.8, 0.9)}],
            weights=net,
        )
    assert rec[0].filename == __file__  # the warning points at the user's line
    with pytest.warns(FallbackWarning, match=r"group 1: options \['momentum'\]") as rec:
        grouped.add_param_group({"params": [nn.Parameter(torch.ones(1))], "momentum": 0.9})
    assert rec[0].filename == __file__
    _train(plain_model, plain, 3)
    _train(grouped_model, grouped, 3)
    for p, q in zip(plain_model.parameters(), grouped_model.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_numpy_scalars_are_accepted_as_numbers(net: LSTMOptimizerNet) -> None:
    trajectories = []
    for lr in (0.5, np.float32(0.5), np.float64(0.5)):
        torch.manual_seed(0)
        model = nn.Linear(4, 2)
        _train(model, LSTMOptimizer(model.parameters(), weights=net, lr=lr), 2)
        trajectories.append(model.weight.detach())
    torch.testing.assert_close(trajectories[0], trajectories[1])
    torch.testing.assert_close(trajectories[0], trajectories[2])
    opt = LSTMOptimizer([nn.Parameter(torch.ones(2))], weights=_validation_net(), lr=np.int64(2))
    assert opt.param_groups[0]["lr"] == 2.0
    opt.report_validation_loss(np.float32(0.3))
    assert opt.state_dict()["validation"]["best"] == pytest.approx(0.3)
    with pytest.raises(TypeError, match="real number"):
        opt.report_validation_loss(np.bool_(True))


def test_a_file_that_is_not_a_weights_file_is_named(tmp_path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.pt: not a weights file written by"):
        load_weights(path)


def test_the_planned_horizon_is_kept_when_a_run_is_resumed() -> None:
    net = _horizon_net()
    torch.manual_seed(3)
    model = nn.Linear(4, 2)
    opt = LSTMOptimizer(model.parameters(), weights=net, total_steps=6)
    _train(model, opt, 3)
    saved, clone = opt.state_dict(), copy.deepcopy(model)
    resumed = LSTMOptimizer(clone.parameters(), weights=net)  # total_steps not passed again
    resumed.load_state_dict(saved)
    assert resumed.total_steps == 6
    _train(model, opt, 3, seed=1)
    _train(clone, resumed, 3, seed=1)
    torch.testing.assert_close(model.weight, clone.weight)
    longer = LSTMOptimizer(nn.Linear(4, 2).parameters(), weights=net, total_steps=20)
    longer.load_state_dict(saved)
    assert longer.total_steps == 20  # a horizon passed explicitly wins
