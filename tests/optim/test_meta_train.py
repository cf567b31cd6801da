"""Meta-training, weights files and the shipped pretrained optimizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metaopt.optim import (
    DEFAULT_WEIGHTS,
    LSTMOptimizer,
    LSTMOptimizerNet,
    MLPSpec,
    TabularTaskFamily,
    load_tabular,
    load_weights,
    meta_train,
    run_trajectory,
    save_weights,
)
from metaopt.optim._meta_train import validation_score


@pytest.fixture(scope="module")
def family() -> TabularTaskFamily:
    return TabularTaskFamily(
        [load_tabular("sklearn:iris"), load_tabular("sklearn:wine")],
        [MLPSpec((8,), "tanh")],
        name="tiny",
        max_train_rows=128,
        batch_size=32,
    )


@pytest.mark.slow
def test_short_meta_training_improves_the_meta_loss(family: TabularTaskFamily) -> None:
    # Start from a far too small step size; a few meta-steps must find a better one.
    torch.manual_seed(0)
    start = LSTMOptimizerNet(hidden_size=4, init_lr=1e-4)
    tasks = family.tasks(2, seed=123)
    before = validation_score(start, tasks, horizons=(20,))
    result = meta_train(
        family,
        net=start,
        n_iterations=8,
        horizon=(20, 20),
        unroll=(10, 10),
        meta_lr=0.05,
        validation_tasks=tasks,
        validation_horizons=(20,),
        validate_every=4,
        progress=False,
    )
    after = validation_score(result.net, tasks, horizons=(20,))
    assert after < before - 0.1
    assert result.best_validation == pytest.approx(after)
    assert float(result.net.log_lr.detach()) > float(start.log_lr.detach())
    losses = [h["meta_loss"] for h in result.history if "meta_loss" in h]
    assert len(losses) == 8 and all(np.isfinite(losses))


@pytest.mark.slow
def test_resumed_meta_training_matches_an_uninterrupted_run(tmp_path, family) -> None:
    kwargs = dict(
        n_iterations=4, horizon=(12, 16), unroll=(4, 8), validation_tasks=0, progress=False
    )
    torch.manual_seed(1)
    # Same start, interrupted after the first iteration by a zero time budget, then resumed.
    start_a = LSTMOptimizerNet(hidden_size=4)
    start_b = LSTMOptimizerNet(hidden_size=4)
    start_b.load_state_dict(start_a.state_dict())
    straight = meta_train(family, net=start_a, **kwargs)
    checkpoint = tmp_path / "ckpt.pt"
    first = meta_train(family, net=start_b, checkpoint=checkpoint, time_budget_s=0.0, **kwargs)
    assert max(h["iteration"] for h in first.history) == 1
    fresh = LSTMOptimizerNet(hidden_size=4)
    resumed = meta_train(family, net=fresh, checkpoint=checkpoint, **kwargs)
    assert max(h["iteration"] for h in resumed.history) == 4
    for key, value in straight.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[key], value)
    # A checkpoint of another recipe is not silently resumed.
    with pytest.raises(ValueError, match="written with lr_range"):
        meta_train(family, net=fresh, checkpoint=checkpoint, lr_range=(0.3, 3.0), **kwargs)
    with pytest.raises(ValueError, match="written with final_weight=0.0, got final_weight=5"):
        meta_train(family, net=fresh, checkpoint=checkpoint, final_weight=5.0, **kwargs)
    with pytest.raises(ValueError, match="network of another shape"):
        meta_train(family, net=LSTMOptimizerNet(hidden_size=5), checkpoint=checkpoint, **kwargs)


def test_several_trajectories_per_meta_update(family) -> None:
    net = LSTMOptimizerNet(hidden_size=4)
    options = dict(horizon=(12, 12), unroll=(4, 4), meta_lr=1e-2, validation_tasks=0)
    one = meta_train(family, net=net, n_iterations=3, progress=False, **options)
    pooled = meta_train(
        family,
        net=net,
        n_iterations=3,
        tasks_per_update=3,
        validate_every=3,
        progress=False,
        **options,
    )

    def largest_move(trained: LSTMOptimizerNet) -> float:
        return max(
            float((a.detach() - b.detach()).abs().max())
            for a, b in zip(trained.parameters(), net.parameters(), strict=True)
        )

    # Pooled: one Adam step at the last iteration's learning rate (a tenth of meta_lr), which
    # moves no coordinate further than that; per unroll: nine steps.
    assert 0 < largest_move(pooled.net) <= 1e-3 * 1.001
    assert largest_move(one.net) > 2e-3
    with pytest.raises(ValueError, match="tasks_per_update must be a positive int"):
        meta_train(family, n_iterations=2, tasks_per_update=0, progress=False)
    with pytest.raises(ValueError, match="must be a multiple of tasks_per_update"):
        meta_train(family, n_iterations=2, tasks_per_update=3, validate_every=4, progress=False)


def test_averaged_meta_parameters_are_the_moving_average_of_trajectory_ends(
    tmp_path, family
) -> None:
    torch.manual_seed(2)
    net = LSTMOptimizerNet(hidden_size=4)
    options = dict(
        n_iterations=2,
        horizon=(12, 12),
        unroll=(4, 4),
        meta_lr=1e-2,
        validation_tasks=0,
        average=0.5,
        progress=False,
    )
    # Stopped after the first trajectory, then resumed: the checkpoints hold the network
    # after each trajectory, and the average must be carried across the resume.
    checkpoint = tmp_path / "ckpt.pt"
    meta_train(family, net=net, checkpoint=checkpoint, time_budget_s=0.0, **options)
    middle = torch.load(checkpoint, weights_only=True)["net"]
    averaged = meta_train(family, net=net, checkpoint=checkpoint, **options).net.state_dict()
    last = torch.load(checkpoint, weights_only=True)["net"]
    start = net.state_dict()
    for key, value in averaged.items():
        expected = 0.25 * start[key] + 0.25 * middle[key] + 0.5 * last[key]
        torch.testing.assert_close(value, expected)
    assert not torch.equal(averaged["head.weight"], last["head.weight"])
    # A checkpoint resumed with another averaging setting is refused, naming the setting.
    with pytest.raises(
        ValueError, match="was written with average=a nonzero decay, got average=0"
    ):
        meta_train(family, net=net, checkpoint=checkpoint, **{**options, "average": 0.0})
    with pytest.raises(ValueError, match="average must be a number in"):
        meta_train(family, n_iterations=2, average=1.0, progress=False)


def test_trajectory_without_meta_optimizer_changes_nothing(family) -> None:
    net = LSTMOptimizerNet(hidden_size=4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    losses = run_trajectory(net, family.tasks(1, seed=0)[0], 20)
    assert len(losses) == 20 and losses[-1] < losses[0]
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_meta_training_path_matches_the_optimizer_users_call(family) -> None:
    """run_trajectory (functional, flat parameters) and LSTMOptimizer apply the same update."""
    torch.manual_seed(4)
    net = LSTMOptimizerNet(hidden_size=4, mlp_hidden=3, horizon_aware=True)
    for layer in (net.head, net.coord_out):
        torch.nn.init.normal_(layer.weight, std=0.5)
        torch.nn.init.normal_(layer.bias, std=0.5)
    task = family.tasks(1, seed=3)[0]
    for total_steps in (None, 15):
        functional = run_trajectory(net, task, 15, total_steps=total_steps)
        np.testing.assert_allclose(
            functional, _optimizer_losses(net, task, total_steps), rtol=1e-5, atol=1e-6
        )
    assert not np.allclose(_optimizer_losses(net, task, 15), _optimizer_losses(net, task, None))


def _optimizer_losses(
    net: LSTMOptimizerNet,
    task,
    total_steps: int | None,
    report_every: int | None = None,
    lr: float = 1.0,
) -> list[float]:
    """Training losses of 15 steps through LSTMOptimizer, optionally reporting the loss on
    the step's validation batch every ``report_every`` steps (as meta-training does)."""
    model = task.model()
    opt = LSTMOptimizer(model.parameters(), lr=lr, weights=net, total_steps=total_steps)
    held_out = task.validation_indices(15)
    losses = []
    for k, rows in enumerate(task.batch_indices(15)):
        if report_every and k % report_every == 0:
            with torch.no_grad():
                val = task.loss(model(task.X_test[held_out[k]]), task.y_test[held_out[k]])
            opt.report_validation_loss(val)
        opt.zero_grad()
        loss = task.loss(model(task.X_train[rows]), task.y_train[rows])
        losses.append(float(loss.detach()))
        loss.backward()
        opt.step()
    return losses


def test_meta_training_lr_is_the_multiplier_users_pass(family) -> None:
    torch.manual_seed(4)
    net = LSTMOptimizerNet(hidden_size=4, mlp_hidden=3)
    task = family.tasks(1, seed=3)[0]
    functional = run_trajectory(net, task, 15, lr=3.0)
    np.testing.assert_allclose(
        functional, _optimizer_losses(net, task, None, lr=3.0), rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(functional, _optimizer_losses(net, task, None))


def test_meta_training_draws_each_trajectorys_lr_from_the_range(family) -> None:
    settings = dict(
        n_iterations=6, horizon=(6, 12), unroll=(4, 4), validation_tasks=0, progress=False
    )
    drawn = meta_train(family, lr_range=(0.3, 3.0), **settings)
    lrs = [h["lr"] for h in drawn.history if "lr" in h]
    assert len(lrs) == 6 and all(0.3 <= lr <= 3.0 for lr in lrs) and len(set(lrs)) == 6
    plain = meta_train(family, **settings)
    assert [h["lr"] for h in plain.history if "lr" in h] == [1.0] * 6
    # The draw comes after the task's: the same tasks and horizons either way.
    assert [h["horizon"] for h in drawn.history] == [h["horizon"] for h in plain.history]
    for bad in ((0.0, 1.0), (3.0, 1.0), (1.0, float("inf"))):
        with pytest.raises(ValueError, match="lr_range must be a range"):
            meta_train(family, lr_range=bad, **settings)


def test_meta_objective_weights_the_validation_loss(family) -> None:
    task = family.tasks(1, seed=5)[0]
    rows = task.validation_indices(4)
    assert rows.shape[0] == 4 and int(rows.max()) < len(task.y_test)
    results = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        net = LSTMOptimizerNet(hidden_size=4)
        meta_opt = torch.optim.SGD(net.parameters(), lr=0.0)  # lr 0: the objective only
        results[weight] = run_trajectory(
            net, task, 6, unroll=6, meta_optimizer=meta_opt, validation_weight=weight
        )
    # Same trajectory, different objective: the mean log training vs validation loss.
    assert results[0.0][0] != pytest.approx(results[1.0][0])
    with pytest.raises(ValueError, match="validation_weight must be in"):
        run_trajectory(LSTMOptimizerNet(), task, 2, validation_weight=1.5)


def test_told_horizon_weights_the_loss_at_the_horizon(family) -> None:
    task = family.tasks(1, seed=5)[0]

    def records(unroll: int, total_steps: int | None, final_weight: float) -> list[float]:
        torch.manual_seed(0)
        net = LSTMOptimizerNet(hidden_size=4, horizon_aware=True)
        meta_opt = torch.optim.SGD(net.parameters(), lr=0.0)  # lr 0: the objective only
        return run_trajectory(
            net,
            task,
            6,
            unroll=unroll,
            meta_optimizer=meta_opt,
            total_steps=total_steps,
            final_weight=final_weight,
        )

    # One-step unrolls give each step's term; one six-step unroll their weighted mean.
    terms = records(1, 6, 0.0)
    assert len(terms) == 6
    weighted = records(6, 6, 4.0)
    assert weighted == [pytest.approx((sum(terms) + 4.0 * terms[-1]) / 10.0)]
    assert records(6, 6, 0.0) == [pytest.approx(np.mean(terms))]
    # Untold, the network cannot plan for the horizon: every step counts the same.
    assert records(6, None, 4.0) == records(6, None, 0.0)
    with pytest.raises(ValueError, match="final_weight must be"):
        records(6, 6, -1.0)
    with pytest.raises(ValueError, match="final_weight must be"):
        meta_train(family, n_iterations=1, validation_tasks=0, final_weight=float("nan"))


def test_weights_round_trip_and_bad_files(tmp_path) -> None:
    torch.manual_seed(2)
    net = LSTMOptimizerNet(hidden_size=3, betas=(0.8, 0.95))
    path = save_weights(net, tmp_path / "w.pt", provenance={"seed": 2})
    loaded = load_weights(path)
    assert loaded.hidden_size == 3 and loaded.betas == (0.8, 0.95)
    assert not loaded.validation_aware
    aware = load_weights(save_weights(LSTMOptimizerNet(validation_aware=True), tmp_path / "v.pt"))
    assert aware.validation_aware and aware.cell.input_size == net.cell.input_size + 4
    for key, value in net.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="could not read"):
        load_weights(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a metaopt LSTM optimizer weights file"):
        load_weights(tmp_path / "other.pt")
    payload = torch.load(path, weights_only=True)
    # A file from before the horizon features: its network is built without them.
    plain = LSTMOptimizerNet(hidden_size=3, horizon_aware=False)
    older = {**payload, "config": {**plain.config()}, "state_dict": plain.state_dict()}
    del older["config"]["horizon_aware"]
    assert load_weights(older).horizon_aware is False
    payload["version"] = 1
    with pytest.raises(ValueError, match="version 1 files hold the earlier"):
        load_weights(payload)


@pytest.mark.slow
def test_shipped_weights_train_a_small_mlp() -> None:
    """The pretrained optimizer brings an iris MLP's training loss below 0.1 in 300 steps."""
    assert DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.stat().st_size < 1_000_000
    net = load_weights("default")
    assert net.hidden_size >= 1
    family = TabularTaskFamily([load_tabular("sklearn:iris")], [MLPSpec((16,), "tanh")])
    task = family.tasks(1, seed=7)[0]
    model = task.model()
    initial, _ = task.evaluate(model)
    opt = LSTMOptimizer(model.parameters())
    for rows in task.batch_indices(300):
        opt.zero_grad()
        task.loss(model(task.X_train[rows]), task.y_train[rows]).backward()
        opt.step()
    final, _ = task.evaluate(model)
    assert initial > 0.5
    assert final < 0.1


def test_meta_training_reports_validation_losses_as_users_do(family) -> None:
    torch.manual_seed(4)
    net = LSTMOptimizerNet(hidden_size=4, mlp_hidden=3, validation_aware=True)
    for layer in (net.head, net.coord_out, net.cell):
        for weight in layer.parameters():
            torch.nn.init.normal_(weight, std=0.5)
    task = family.tasks(1, seed=3)[0]
    for every in (1, 4):
        functional = run_trajectory(net, task, 15, report_every=every)
        np.testing.assert_allclose(
            functional, _optimizer_losses(net, task, None, every), rtol=1e-5, atol=1e-6
        )
    assert not np.allclose(
        run_trajectory(net, task, 15, report_every=1), run_trajectory(net, task, 15)
    )
    # Meta-training learns how to use the reports: the LSTM's weights on the four validation
    # inputs (the last columns) move away from their initial values.
    fresh = LSTMOptimizerNet(hidden_size=4, validation_aware=True)
    result = meta_train(
        family,
        net=fresh,
        n_iterations=4,
        horizon=(12, 12),
        unroll=(6, 6),
        validation_tasks=0,
        report_every=(1,),
        progress=False,
    )
    moved = result.net.cell.weight_ih[:, -4:] - fresh.cell.weight_ih[:, -4:]
    assert float(moved.detach().abs().max()) > 0
