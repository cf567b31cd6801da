"""MAML input handling: a bad batch against the vmap fallback, numpy options, optimizer
factories, bool flags and state dicts."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

from metaopt.maml import MAML, SinusoidTasks, Task

mse = nn.functional.mse_loss


def small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()


def batch(n: int, seed: int) -> list[Task]:
    return SinusoidTasks(seed=seed, dtype=torch.float64).sample(n)


def with_query_x(tasks: list[Task], query_x: torch.Tensor) -> list[Task]:
    return [Task(t.support_x, t.support_y, query_x, t.query_y) for t in tasks]


# ---------------------------------------------------------------------- vmap fallback
def test_query_features_that_disagree_with_the_support_are_rejected_up_front() -> None:
    maml = MAML(small_net(), loss_fn=mse)
    tasks = batch(3, seed=0)
    tasks[1] = with_query_x(tasks[1:2], torch.randn(10, 3, dtype=torch.float64))[0]
    with pytest.raises(ValueError, match=r"task 1: query_x and support_x disagree.*\(10, 3\)"):
        maml.meta_step(tasks)
    with pytest.raises(ValueError, match="feature shape"):
        maml.evaluate(with_query_x(batch(2, seed=1), torch.zeros(10, dtype=torch.float64)))
    assert not maml._vmap_broken


@pytest.mark.parametrize("method", ["meta_loss", "evaluate"])
def test_a_bad_batch_raises_the_loop_error_and_keeps_vmap(
    method: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    maml = MAML(small_net(), loss_fn=mse)
    # A float32 query on a float64 model: vmap and the loop both fail, with different messages.
    bad = with_query_x(batch(3, seed=2), torch.zeros(10, 1))
    with caplog.at_level(logging.WARNING, logger="metaopt.maml"):
        with pytest.raises(RuntimeError) as loop_error:
            getattr(maml, method)(bad)
        maml.vectorize = False
        with pytest.raises(RuntimeError) as expected:
            getattr(maml, method)(bad)
        maml.vectorize = "auto"
        assert str(loop_error.value) == str(expected.value)  # the loop's error, not vmap's
        assert not maml._vmap_broken
        assert "falling back" not in caplog.text

        # The next good batch still goes through vmap.
        calls = []
        vmapped = maml._vmapped_query_losses if method == "meta_loss" else maml._vmapped_curves
        name = vmapped.__name__

        def spy(*args: object) -> torch.Tensor:
            calls.append(1)
            return vmapped(*args)

        monkeypatch.setattr(maml, name, spy)
        assert torch.isfinite(getattr(maml, method)(batch(3, seed=3))).all()
        assert calls == [1]
        assert not maml._vmap_broken


def test_vmap_is_given_up_only_when_the_loop_works(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    maml = MAML(small_net(), loss_fn=mse)

    def vmap_fails(*args: object) -> torch.Tensor:
        raise RuntimeError("vmap cannot batch this model")

    monkeypatch.setattr(maml, "_vmapped_query_losses", vmap_fails)
    bad = with_query_x(batch(2, seed=4), torch.zeros(10, 1))
    with caplog.at_level(logging.WARNING, logger="metaopt.maml"):
        with pytest.raises(RuntimeError) as error:
            maml.meta_loss(bad)
        assert "vmap cannot batch" not in str(error.value)
        assert not maml._vmap_broken and "falling back" not in caplog.text
        loss = maml.meta_loss(batch(2, seed=5))
    assert torch.isfinite(loss)
    assert maml._vmap_broken
    assert "vmap cannot batch this model" in caplog.text and "falling back" in caplog.text


# ---------------------------------------------------------------------- numeric options
def test_numpy_scalars_are_accepted_as_numeric_options() -> None:
    task = batch(1, seed=6)[0]
    maml = MAML(small_net(), inner_lr=np.float32(0.125), inner_steps=np.int64(2), loss_fn=mse)
    assert type(maml.inner_lr) is float and maml.inner_lr == 0.125
    assert type(maml.inner_steps) is int and maml.inner_steps == 2
    plain = MAML(small_net(), inner_lr=0.125, inner_steps=2, loss_fn=mse)
    with torch.no_grad():
        got = maml.adapt(
            task.support_x, task.support_y, steps=np.int32(3), step_scale=np.float16(2)
        )
        expected = plain.adapt(task.support_x, task.support_y, steps=3, step_scale=2.0)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    curves = maml.evaluate([task], steps=np.int64(2), step_scale=np.float64(1.5))
    assert torch.equal(curves, plain.evaluate([task], steps=2, step_scale=1.5))
    for bad in (True, np.bool_(True), "0.1", torch.tensor(0.1)):
        with pytest.raises(TypeError, match="inner_lr must be a real number"):
            MAML(small_net(), inner_lr=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step_scale must be a finite positive"):
        maml.adapt(task.support_x, task.support_y, step_scale=np.float32(-1))


# ---------------------------------------------------------------------- optimizers
def test_fine_tune_rejects_an_optimizer_instance() -> None:
    maml = MAML(small_net(), loss_fn=mse)
    task = batch(1, seed=7)[0]
    adam = torch.optim.Adam(maml.model.parameters())
    with pytest.raises(TypeError, match=r"factory.*lambda params.*got Adam\."):
        maml.fine_tune(task.support_x, task.support_y, adam, steps=3)  # type: ignore[arg-type]
    tuned = maml.fine_tune(task.support_x, task.support_y, torch.optim.Adam, steps=3)
    assert tuned is not maml.model


def test_meta_sgd_factory_must_optimise_the_step_sizes() -> None:
    net = small_net()
    with pytest.raises(ValueError, match="must optimise the parameters it is given"):
        MAML(net, learn_inner_lr=True, meta_optimizer=lambda p: torch.optim.Adam(net.parameters()))
    # Without learned step sizes such a factory misses nothing.
    MAML(net, meta_optimizer=lambda p: torch.optim.Adam(net.parameters()))
    maml = MAML(net, learn_inner_lr=True, meta_optimizer=lambda p: torch.optim.SGD(p, lr=0.1))
    assert len(maml.meta_optimizer.param_groups[0]["params"]) == 2 * len(list(net.parameters()))


# ---------------------------------------------------------------------- bool flags
def test_bool_flags_reject_truthy_non_bools() -> None:
    maml = MAML(small_net(), loss_fn=mse)
    task = batch(1, seed=8)[0]
    with pytest.raises(TypeError, match="first_order must be a bool or None, got str"):
        maml.adapt(task.support_x, task.support_y, first_order="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="safeguard must be a bool, got int"):
        maml.adapt(task.support_x, task.support_y, safeguard=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="safeguard must be a bool, got str"):
        maml.evaluate([task], safeguard="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="learn_inner_lr must be a bool, got int"):
        MAML(small_net(), learn_inner_lr=1)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- state dicts
def test_load_state_dict_names_mismatched_keys_and_changes_nothing() -> None:
    plain = MAML(small_net(0), loss_fn=mse)
    meta_sgd = MAML(small_net(1), loss_fn=mse, learn_inner_lr=True)
    before = plain.state_dict()
    with pytest.raises(ValueError, match=r"unexpected keys \['inner_lr\.0\.bias'.*True"):
        plain.load_state_dict(meta_sgd.state_dict())
    with pytest.raises(ValueError, match=r"missing keys \['inner_lr\.0\.bias'.*False"):
        meta_sgd.load_state_dict(plain.state_dict())
    wide = MAML(nn.Sequential(nn.Linear(1, 9), nn.Tanh(), nn.Linear(9, 1)).double())
    with pytest.raises(ValueError, match=r"'model\.0\.weight'\] has shape \(9, 1\)"):
        plain.load_state_dict(wide.state_dict())
    renamed = {f"net.{k}": v for k, v in meta_sgd.state_dict().items()}
    with pytest.raises(ValueError, match=r"and 3 more\], missing keys \[.model\.0\.bias."):
        plain.load_state_dict(renamed)
    with pytest.raises(TypeError, match="state must be a mapping"):
        plain.load_state_dict([("model.0.weight", torch.zeros(8, 1))])  # type: ignore[arg-type]
    after = plain.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
