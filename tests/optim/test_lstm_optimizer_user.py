"""LSTMOptimizer used as a drop-in replacement for a torch optimizer in real training code."""

from __future__ import annotations

import io
import warnings

import pytest
import torch
from torch import nn

from metaopt.exceptions import MetaoptWarning
from metaopt.optim import LSTMOptimizer, LSTMOptimizerNet
from metaopt.optim._optimizer import MAX_LR


def _step(module: nn.Module, opt: torch.optim.Optimizer, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.randn(16, 4, generator=generator), torch.randn(16, 2, generator=generator)
    opt.zero_grad()
    nn.functional.mse_loss(module(x), y).backward()
    opt.step()


def _state_bytes(opt: LSTMOptimizer) -> int:
    """Bytes of every distinct storage the optimizer's state keeps alive."""
    storages = {}
    for entry in opt.state.values():
        for value in entry.values():
            storage = value.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def test_scheduler_rounding_past_the_largest_lr_is_clamped_not_rejected(
    net: LSTMOptimizerNet,
) -> None:
    # CosineAnnealingLR started at lr=10 climbs back to 10.000000000006 by rounding alone.
    torch.manual_seed(0)
    model, exact_model = nn.Linear(4, 2), nn.Linear(4, 2)
    exact_model.load_state_dict(model.state_dict())
    opt = LSTMOptimizer(model.parameters(), weights=net, lr=MAX_LR)
    exact = LSTMOptimizer(exact_model.parameters(), weights=net, lr=MAX_LR)
    opt.param_groups[0]["lr"] = MAX_LR + 6e-12
    for seed in range(3):
        _step(model, opt, seed)
        _step(exact_model, exact, seed)
    for p, q in zip(model.parameters(), exact_model.parameters(), strict=True):
        assert torch.equal(p, q)
    resumed = LSTMOptimizer(nn.Linear(4, 2).parameters(), weights=net)
    resumed.load_state_dict(opt.state_dict())  # a checkpoint taken at that moment loads
    opt.param_groups[0]["lr"] = MAX_LR * 1.01  # a real excess is still an error
    with pytest.raises(ValueError, match=r"parameter group 0: lr must be finite"):
        _step(model, opt, 0)


def test_scheduled_lrs_of_several_groups_build_no_tensor_from_host_values(
    net: LSTMOptimizerNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On an accelerator, a tensor built from host values is a copy that waits for the device.
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    reference = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    reference.load_state_dict(model.state_dict())
    joint = LSTMOptimizer(
        [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.3}],
        weights=net,
    )
    # The same groups stepped by one optimizer each: the fused update equals separate ones.
    alone = [
        LSTMOptimizer(reference[0].parameters(), weights=net),
        LSTMOptimizer(reference[2].parameters(), weights=net, lr=0.3),
    ]
    schedulers = [
        torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.8**epoch) for opt in (joint, *alone)
    ]
    real_tensor = torch.tensor

    def forbidden(*args, **kwargs):
        raise AssertionError("a tensor was built from host values during step()")

    for seed in range(4):
        generator = torch.Generator().manual_seed(seed)
        x, y = torch.randn(16, 4, generator=generator), torch.randn(16, 2, generator=generator)
        for module in (model, reference):
            module.zero_grad()
            nn.functional.mse_loss(module(x), y).backward()
        if seed > 0:  # the first step builds the flat buffers, once
            monkeypatch.setattr(torch, "tensor", forbidden)
        joint.step()
        monkeypatch.setattr(torch, "tensor", real_tensor)
        for opt in alone:
            opt.step()
        for scheduler in schedulers:
            scheduler.step()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_parameters_that_take_turns_keep_no_stale_copy_of_the_state(
    net: LSTMOptimizerNet,
) -> None:
    # A multi-task model: the shared trunk steps every time, each head every fourth step.
    torch.manual_seed(2)
    trunk = nn.Linear(4, 32)
    heads = [nn.Linear(32, 2) for _ in range(4)]
    params = [*trunk.parameters(), *(p for head in heads for p in head.parameters())]
    opt = LSTMOptimizer(params, weights=net)
    x = torch.randn(8, 4)
    for step in range(8):
        opt.zero_grad()
        heads[step % 4](torch.tanh(trunk(x))).sum().backward()
        opt.step()
    shapes = net.state_shapes()
    needed = sum(
        4 * int(torch.Size([p.numel() if d == -1 else d for d in shape]).numel())
        for p in params
        for shape in shapes.values()
    )
    assert _state_bytes(opt) == needed
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    assert len(buffer.getvalue()) < needed + 20_000  # a checkpoint holds no old buffers


def test_a_parameter_twice_in_one_group_is_rejected(net: LSTMOptimizerNet) -> None:
    model = nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"group 0 holds the same parameter \(shape \(2, 4\)\) "):
        LSTMOptimizer([model.weight, model.bias, model.weight], weights=net)
    opt = LSTMOptimizer(p for p in [model.weight])  # a generator is still accepted
    with pytest.raises(ValueError, match=r"group 1 .* twice, at positions 0 and 1"):
        opt.add_param_group({"params": [model.bias, model.bias]})
    assert len(opt.param_groups) == 1 and len(opt.param_groups[0]["params"]) == 1


def test_sparse_gradients_raise_a_clear_error_before_any_update(net: LSTMOptimizerNet) -> None:
    torch.manual_seed(3)
    model = nn.ModuleDict({"emb": nn.Embedding(10, 3, sparse=True), "out": nn.Linear(3, 1)})
    opt = LSTMOptimizer(model.named_parameters(), weights=net)
    before = [p.detach().clone() for p in model.parameters()]
    model["out"](model["emb"](torch.tensor([1, 2]))).sum().backward()
    with pytest.raises(TypeError, match=r"'emb\.weight' \(shape \(10, 3\)\).*sparse=False"):
        opt.step()
    for p, q in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, q)
    assert not opt.state


def test_a_load_pre_hook_adapts_the_state_before_it_is_checked(net: LSTMOptimizerNet) -> None:
    # torch's documented way to load a state saved for other parameters: a pre-hook adapts it.
    torch.manual_seed(4)
    model = nn.Linear(4, 2)
    extra = nn.Parameter(torch.randn(3))
    old = LSTMOptimizer([*model.parameters(), extra], weights=net)
    for seed in range(2):
        extra.grad = torch.ones(3)
        _step(model, old, seed)
    saved = old.state_dict()
    resumed_model = nn.Linear(4, 2)
    resumed_model.load_state_dict(model.state_dict())
    resumed = LSTMOptimizer(resumed_model.parameters(), weights=net)
    calls = []

    def drop_extra(optimizer: torch.optim.Optimizer, state_dict: dict) -> dict:
        calls.append(1)
        (group,) = state_dict["param_groups"]
        dropped = group["params"][-1]
        group = {**group, "params": group["params"][:-1]}
        state = {k: v for k, v in state_dict["state"].items() if k != dropped}
        return {**state_dict, "param_groups": [group], "state": state}

    resumed.register_load_state_dict_pre_hook(drop_extra)
    resumed.load_state_dict(saved)
    assert calls == [1]  # run once, before the check
    for seed in range(2, 4):
        extra.grad = torch.ones(3)
        _step(model, old, seed)
        _step(resumed_model, resumed, seed)
    for p, q in zip(model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_an_adam_learning_rate_carried_over_gets_a_warning() -> None:
    model = torch.nn.Linear(3, 1)
    with pytest.warns(MetaoptWarning, match=r"lr=0.001 makes every step 1000x smaller"):
        LSTMOptimizer(model.parameters(), lr=1e-3)
    opt = LSTMOptimizer([model.weight])
    with pytest.warns(MetaoptWarning, match=r"parameter group 1: lr=0.01"):
        opt.add_param_group({"params": [model.bias], "lr": 1e-2})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LSTMOptimizer(torch.nn.Linear(3, 1).parameters(), lr=0.1)
        # A scheduler lowering lr during training is not a misuse.
        sched_opt = LSTMOptimizer(torch.nn.Linear(3, 1).parameters())
        scheduler = torch.optim.lr_scheduler.LambdaLR(sched_opt, lambda step: 1e-3)
        sched_opt.step()  # no gradients yet: nothing to update
        scheduler.step()
        assert sched_opt.param_groups[0]["lr"] == pytest.approx(1e-3)
