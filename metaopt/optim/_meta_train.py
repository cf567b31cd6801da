"""The outer loop: meta-train an :class:`LSTMOptimizerNet` with truncated BPTT.

The optimizee is functional (``torch.func.functional_call`` on a flat parameter vector), so the
unrolled updates stay differentiable with respect to the meta-parameters. As in Andrychowicz et
al. (2016) the optimizee's gradients enter the network as inputs (no second derivatives). Details
that make it work: scale-free (Adam-normalised) inputs, bounded output scaling, a meta-loss that
mixes the log held-out (validation-batch) loss and the log training loss over each unroll
(tasks of every loss scale count alike; what users want is a model that generalises), random
horizons, an unroll-length curriculum, meta-gradient clipping, and validation-based selection of
the checkpoint that is returned.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call
from tqdm.auto import tqdm

from metaopt.optim._network import LSTMOptimizerNet, Segments, ValidationSignal, apply_update
from metaopt.optim._tasks import Task

logger = logging.getLogger("metaopt.optim")


class TaskSampler(Protocol):
    """Anything that draws :class:`Task` objects, such as ``TabularTaskFamily``."""

    def sample(self, rng: np.random.Generator) -> Task: ...


@dataclass
class MetaTrainResult:
    """What :func:`meta_train` returns.

    Attributes:
        net: The network of the best validation score (the last one without validation).
        history: One dict per trajectory (``iteration``, ``meta_loss``, ``horizon``,
            ``unroll``, ``seconds``) and per validation (``validation``).
        best_iteration: Iteration of the returned network.
        best_validation: Its validation score (see :func:`validation_score`), or ``nan``.
        seconds: Meta-training wall time, summed over resumed runs.
        cpu_seconds: Process CPU time of meta-training, summed over resumed runs.
    """

    net: LSTMOptimizerNet
    history: list[dict[str, float]] = field(default_factory=list)
    best_iteration: int = 0
    best_validation: float = math.nan
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def _flat_params(task: Task) -> tuple[Any, Tensor, list[str], list[torch.Size]]:
    module = task.model()
    names = [name for name, _ in module.named_parameters()]
    shapes = [p.shape for _, p in module.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for _, p in module.named_parameters()])
    return module, theta, names, shapes


def _unflatten(theta: Tensor, names: list[str], shapes: list[torch.Size]) -> dict[str, Tensor]:
    pieces = torch.split(theta, [math.prod(s) for s in shapes])
    return {
        name: piece.view(shape) for name, piece, shape in zip(names, pieces, shapes, strict=True)
    }


def run_trajectory(
    net: LSTMOptimizerNet,
    task: Task,
    n_steps: int,
    *,
    unroll: int | None = None,
    meta_optimizer: torch.optim.Optimizer | None = None,
    clip_norm: float = 1.0,
    loss_floor: float = 1e-4,
    validation_weight: float = 0.7,
    total_steps: int | None = None,
    accumulate: bool = False,
    report_every: int | None = None,
    lr: float = 1.0,
    final_weight: float = 0.0,
) -> list[float]:
    """Train ``task``'s model for ``n_steps`` with ``net``; with a meta-optimizer, meta-train it.

    The meta-objective of each step is ``w * log(validation loss + floor) + (1 - w) *
    log(training-batch loss + floor)`` with ``w = validation_weight``: the validation loss is
    measured on a batch of the task's held-out rows (:meth:`Task.validation_indices`), so the
    network is trained for models that generalise, not only for a low training loss. When the
    horizon is told (``total_steps``), the last step's term weighs ``1 + final_weight`` in its
    unroll's mean: the model at the horizon is what the user keeps, and a network that knows
    the horizon can plan for it (e.g. anneal its steps towards the end).

    Args:
        net: The learned optimizer.
        task: The optimizee.
        n_steps: Number of optimizer steps.
        unroll: Truncation length of backpropagation through time (meta-training only).
        meta_optimizer: Optimizer of ``net``'s parameters; ``None`` only runs the trajectory.
        clip_norm: Meta-gradient norm clipping.
        loss_floor: Added to the losses inside the meta-objective's logs, so that tasks already
            trained to (near) zero loss stop dominating the meta-gradient.
        validation_weight: Weight ``w`` of the validation loss in the meta-objective, in
            ``[0, 1]``.
        total_steps: The horizon told to the network (as users tell ``LSTMOptimizer``), or
            ``None`` for an unknown one.
        accumulate: Only add this trajectory's meta-gradient (the mean over its unrolls) to
            the parameters' ``.grad``; the caller clips and steps (several trajectories per
            meta-update).
        report_every: Report the held-out loss (on the step's validation batch) to a
            ``validation_aware`` network every this many steps, as a user reports a
            validation loss; ``None``: never.
        lr: The step-size multiplier, as users pass ``LSTMOptimizer(lr=...)``.
        final_weight: Extra weight of the last step's meta-objective term when the horizon is
            told (``>= 0``; ``0``: every step counts the same).

    Returns:
        The mean meta-objective of each unroll (one value per meta-update), or, without a
        meta-optimizer, the minibatch training losses of every step.
    """
    if not 0.0 <= validation_weight <= 1.0:
        raise ValueError(f"validation_weight must be in [0, 1], got {validation_weight!r}")
    if not (math.isfinite(final_weight) and final_weight >= 0):
        raise ValueError(f"final_weight must be a finite number >= 0, got {final_weight!r}")
    end_weight = 1.0 + final_weight if total_steps is not None else 1.0
    module, theta, names, shapes = _flat_params(task)
    segments = Segments.from_shapes(shapes)
    batches = task.batch_indices(n_steps + 1)
    training = meta_optimizer is not None
    reporting = bool(report_every) and net.validation_aware
    val_rows = task.validation_indices(n_steps + 1) if (training or reporting) else None
    signal = ValidationSignal()
    state = net.init_state(segments)
    segment = unroll if (training and unroll) else n_steps
    n_segments = math.ceil(n_steps / segment)
    records: list[float] = []

    def loss_at(theta: Tensor, X: Tensor, y: Tensor) -> Tensor:
        return task.loss(functional_call(module, _unflatten(theta, names, shapes), (X,)), y)

    for start in range(0, n_steps, segment):
        stop = min(start + segment, n_steps)
        theta = theta.detach().requires_grad_(True)
        state = {k: v.detach() for k, v in state.items()}
        meta_terms: list[Tensor] = []
        term_weights: list[float] = []
        with torch.set_grad_enabled(True):
            for t in range(start, stop + 1):
                rows = batches[t]
                loss = loss_at(theta, task.X_train[rows], task.y_train[rows])
                val = None
                if training and t > start:
                    term = torch.log(loss + loss_floor)
                    if validation_weight > 0:
                        rows_v = val_rows[t]
                        val = loss_at(theta, task.X_test[rows_v], task.y_test[rows_v])
                        term = (1 - validation_weight) * term + validation_weight * torch.log(
                            val + loss_floor
                        )
                    meta_terms.append(term)
                    term_weights.append(end_weight if t == n_steps else 1.0)
                if t == stop:
                    break
                features = None
                if reporting:
                    if t % report_every == 0:
                        if val is None:
                            with torch.no_grad():
                                rows_v = val_rows[t]
                                val = loss_at(theta, task.X_test[rows_v], task.y_test[rows_v])
                        signal.report(float(val.detach()), step=t)
                    if signal.known:
                        features = torch.tensor(signal.values())
                if not training:
                    records.append(float(loss.detach()))
                (grad,) = torch.autograd.grad(loss, theta, retain_graph=training)
                with torch.set_grad_enabled(training):
                    norms = segments.norms(theta.detach())
                    out = net(grad.detach(), norms, state, segments, lr, total_steps, features)
                    theta = apply_update(theta, *out, segments)
                if not training:
                    theta = theta.detach().requires_grad_(True)
        if not training:
            continue
        if end_weight != 1.0 and stop == n_steps:
            weights = torch.tensor(term_weights)
            meta_loss = (torch.stack(meta_terms) * weights).sum() / weights.sum()
        else:  # the plain mean, bit for bit what runs before final_weight existed computed
            meta_loss = torch.stack(meta_terms).mean()
        if not torch.isfinite(meta_loss):
            logger.warning("meta_train: non-finite meta-loss on %s; trajectory stopped", task.name)
            break
        if accumulate:
            (meta_loss / n_segments).backward()
        else:
            meta_optimizer.zero_grad()
            meta_loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip_norm)
            meta_optimizer.step()
        records.append(float(meta_loss.detach()))
    return records


@torch.no_grad()
def validation_score(
    net: LSTMOptimizerNet,
    tasks: Sequence[Task],
    horizons: Sequence[int],
    validation_weight: float = 0.7,
) -> float:
    """Mean over tasks and horizons of ``w * log(test loss) + (1 - w) * log(train loss)``.

    Losses are on the full training and held-out splits of each task, trained by ``net``
    through :class:`LSTMOptimizer`, once to the longest horizon without telling it the
    horizon, and, for a ``horizon_aware`` network, once per horizon told as ``total_steps``.
    A ``validation_aware`` network is scored twice more, reporting the loss on a validation
    batch of held-out rows (:meth:`Task.validation_indices`) every step and every 10 steps.
    """
    from metaopt.optim._optimizer import LSTMOptimizer

    def log_loss(value: float) -> float:
        return math.log(max(value, 1e-8)) if math.isfinite(value) else 50.0

    runs: list[tuple[int | None, set[int], int | None]] = [(None, set(horizons), None)]
    if net.horizon_aware:
        runs += [(h, {h}, None) for h in horizons]
    if net.validation_aware:
        runs += [(None, set(horizons), every) for every in (1, 10)]
    scores = []
    for task in tasks:
        for total_steps, record_at, report_every in runs:
            module = task.model()
            opt = LSTMOptimizer(module.parameters(), weights=net, total_steps=total_steps)
            batches = task.batch_indices(max(record_at))
            val_rows = task.validation_indices(max(record_at)) if report_every else None
            for step, rows in enumerate(batches, start=1):
                if report_every and (step - 1) % report_every == 0:
                    held_out = val_rows[step - 1]
                    opt.report_validation_loss(
                        task.loss(module(task.X_test[held_out]), task.y_test[held_out])
                    )
                opt.zero_grad()
                with torch.enable_grad():
                    task.loss(module(task.X_train[rows]), task.y_train[rows]).backward()
                opt.step()
                if step in record_at:
                    train_loss, test_loss = task.evaluate(module)
                    scores.append(
                        validation_weight * log_loss(test_loss)
                        + (1 - validation_weight) * log_loss(train_loss)
                    )
    return float(np.mean(scores))


def meta_train(
    task_family: TaskSampler,
    *,
    net: LSTMOptimizerNet | None = None,
    n_iterations: int = 300,
    time_budget_s: float | None = None,
    horizon: tuple[int, int] = (100, 300),
    unroll: tuple[int, int] = (5, 20),
    meta_lr: float = 3e-3,
    clip_norm: float = 1.0,
    validation_tasks: Sequence[Task] | int = 6,
    validation_horizons: Sequence[int] = (100, 300),
    validate_every: int = 25,
    validation_weight: float = 0.7,
    horizon_known: float = 0.7,
    tasks_per_update: int = 1,
    average: float = 0.0,
    report_every: Sequence[int | None] = (None, 1, 1, 5, 20),
    lr_range: tuple[float, float] = (1.0, 1.0),
    final_weight: float = 0.0,
    checkpoint: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
) -> MetaTrainResult:
    """Meta-train a learned optimizer on tasks drawn from ``task_family``.

    Each iteration draws a task and a random horizon, trains the task's MLP with the network
    for that many steps, and after every ``unroll`` steps takes one meta-gradient step on the
    mean meta-objective of that unroll (truncated BPTT; see :func:`run_trajectory`). The unroll
    length grows linearly from ``unroll[0]`` to ``unroll[1]`` over the run (a curriculum).
    Every ``validate_every`` iterations the network is scored on fixed validation tasks; the
    best one is returned.

    With ``checkpoint`` set, progress is saved there after every validation and a later call
    with the same arguments resumes from it (the task stream is seeded per iteration, so a
    resumed run draws the same tasks as an uninterrupted one).

    Args:
        task_family: Source of tasks (``sample(rng) -> Task``).
        net: Network to start from (copied, not modified); default ``LSTMOptimizerNet()``.
        n_iterations: Number of trajectories.
        time_budget_s: Stop early once this much wall time (over all resumed runs) is spent.
        horizon: Range of trajectory lengths (steps), drawn uniformly.
        unroll: Truncation length at the start and at the end of the run.
        meta_lr: Initial Adam learning rate of the meta-parameters (cosine-decayed to a tenth).
        clip_norm: Meta-gradient norm clipping.
        validation_tasks: Tasks to select the checkpoint on, or how many to draw from the family
            with a separate seed. ``0`` disables validation.
        validation_horizons: Steps at which validation measures the training loss.
        validate_every: Iterations between validations.
        validation_weight: Weight of the held-out loss in the meta-objective and in the
            validation score (see :func:`run_trajectory`).
        horizon_known: Share of trajectories whose length is told to a ``horizon_aware``
            network (the rest train it for an unknown horizon).
        tasks_per_update: Trajectories whose meta-gradients are averaged into one
            meta-update (1: a meta-update after every unroll of every trajectory). More
            trajectories per update give less noisy steps; ``validate_every`` must be a
            multiple of it.
        average: Decay of an exponential moving average of the meta-parameters, updated after
            every trajectory; validation scores (and returns) the average instead of the
            current network, which smooths out the noise of single-trajectory meta-updates.
            ``0`` (default) disables it; e.g. ``0.95`` averages over about 20 trajectories.
        report_every: For a ``validation_aware`` network, each trajectory reports the held-out
            loss every ``k`` steps, ``k`` drawn uniformly from these (``None``: no reports, so
            the network also learns to work without them).
        lr_range: Each trajectory runs with the ``lr`` multiplier drawn log-uniformly from this
            range, as users pass ``LSTMOptimizer(lr=...)``. The network never sees the
            multiplier, so a range wider than ``(1, 1)`` teaches it to correct mis-scaled steps
            from what the gradients do.
        final_weight: Extra weight of the loss at the horizon in trajectories whose horizon
            is told (see :func:`run_trajectory`).
        checkpoint: File for resumable progress (``None``: no checkpointing).
        seed: Seeds the network initialisation and the task stream.
        progress: Show a tqdm progress bar.

    Returns:
        A :class:`MetaTrainResult`.

    Example:
        >>> from metaopt.optim import MLPSpec, TabularTaskFamily, load_tabular, meta_train
        >>> family = TabularTaskFamily([load_tabular("sklearn:iris")], [MLPSpec((8,), "tanh")])
        >>> result = meta_train(family, n_iterations=2, horizon=(10, 10), unroll=(5, 5),
        ...                     validation_tasks=0, progress=False)
        >>> len([h for h in result.history if "meta_loss" in h])
        2
    """
    if n_iterations < 1:
        raise ValueError(f"n_iterations must be >= 1, got {n_iterations}")
    if not 1 <= horizon[0] <= horizon[1]:
        raise ValueError(f"horizon must be a range (low, high) of positive ints, got {horizon}")
    if not (1 <= unroll[0] and 1 <= unroll[1]):
        raise ValueError(f"unroll must be two positive ints, got {unroll}")
    if validate_every < 1:
        raise ValueError(f"validate_every must be >= 1, got {validate_every}")
    if not 0.0 <= horizon_known <= 1.0:
        raise ValueError(f"horizon_known must be in [0, 1], got {horizon_known!r}")
    if isinstance(tasks_per_update, bool) or not (
        isinstance(tasks_per_update, int) and tasks_per_update >= 1
    ):
        raise ValueError(f"tasks_per_update must be a positive int, got {tasks_per_update!r}")
    if not (isinstance(average, (int, float)) and 0.0 <= average < 1.0):
        raise ValueError(f"average must be a number in [0, 1), got {average!r}")
    if not (math.isfinite(final_weight) and final_weight >= 0):
        raise ValueError(f"final_weight must be a finite number >= 0, got {final_weight!r}")
    low, high = (float(v) for v in lr_range)
    if not (math.isfinite(low) and math.isfinite(high) and 0.0 < low <= high):
        raise ValueError(
            f"lr_range must be a range (low, high) of positive finite numbers, got {lr_range!r}"
        )
    if validate_every % tasks_per_update:
        raise ValueError(
            f"validate_every ({validate_every}) must be a multiple of tasks_per_update "
            f"({tasks_per_update}), so that checkpoints fall between meta-updates"
        )
    if net is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = LSTMOptimizerNet()
    net = copy.deepcopy(net).float().train()  # the caller's network is left untouched
    meta_optimizer = torch.optim.Adam(net.parameters(), lr=meta_lr)
    if isinstance(validation_tasks, int):
        validation_tasks = [
            task_family.sample(np.random.default_rng([seed, 10**6, i]))
            for i in range(validation_tasks)
        ]
    result = MetaTrainResult(net=copy.deepcopy(net))
    averaged = copy.deepcopy(net) if average else None
    start_iteration = 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        try:
            net.load_state_dict(saved["net"])
        except RuntimeError as error:
            raise ValueError(
                f"checkpoint {str(path)!r} holds a network of another shape than the one "
                f"given ({error}): resume with the network of the run that wrote it"
            ) from error
        meta_optimizer.load_state_dict(saved["meta_optimizer"])
        result.net.load_state_dict(saved["best_net"])
        if (averaged is not None) != ("averaged_net" in saved):
            raise ValueError(
                f"checkpoint {str(path)!r} was written with average="
                f"{'0' if averaged is not None else 'a nonzero decay'}, got average={average!r}: "
                "resume with the arguments of the run that wrote it"
            )
        # Checkpoints from before lr_range existed were written with the fixed lr of 1.
        saved_range = tuple(float(v) for v in saved.get("lr_range", (1.0, 1.0)))
        if saved_range != (low, high):
            raise ValueError(
                f"checkpoint {str(path)!r} was written with lr_range={saved_range}, got "
                f"lr_range={(low, high)}: resume with the arguments of the run that wrote it"
            )
        saved_weight = float(saved.get("final_weight", 0.0))
        if saved_weight != final_weight:
            raise ValueError(
                f"checkpoint {str(path)!r} was written with final_weight={saved_weight}, got "
                f"final_weight={final_weight}: resume with the arguments of the run that wrote it"
            )
        if averaged is not None:
            averaged.load_state_dict(saved["averaged_net"])
        result.history = list(saved["history"])
        result.best_iteration = int(saved["best_iteration"])
        result.best_validation = float(saved["best_validation"])
        result.seconds = float(saved["seconds"])
        result.cpu_seconds = float(saved["cpu_seconds"])
        start_iteration = int(saved["iteration"])
        logger.info("meta_train: resumed from %s at iteration %d", path, start_iteration)

    def validate(iteration: int) -> None:
        scored = net if averaged is None else averaged
        if not validation_tasks:
            result.net = copy.deepcopy(scored)
            result.best_iteration = iteration
            return
        score = validation_score(scored, validation_tasks, validation_horizons, validation_weight)
        result.history.append({"iteration": float(iteration), "validation": score})
        if not score >= result.best_validation:  # also true while best is nan
            result.net = copy.deepcopy(scored)
            result.best_iteration = iteration
            result.best_validation = score

    def save(iteration: int) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(
            {
                "net": net.state_dict(),
                "meta_optimizer": meta_optimizer.state_dict(),
                "best_net": result.net.state_dict(),
                **({"averaged_net": averaged.state_dict()} if averaged is not None else {}),
                "history": result.history,
                "best_iteration": result.best_iteration,
                "best_validation": result.best_validation,
                "seconds": result.seconds,
                "cpu_seconds": result.cpu_seconds,
                "iteration": iteration,
                "lr_range": [low, high],
                "final_weight": final_weight,
            },
            tmp,
        )
        os.replace(tmp, path)

    if start_iteration == 0 and validation_tasks:
        validate(0)
    bar = tqdm(
        range(start_iteration, n_iterations),
        initial=start_iteration,
        total=n_iterations,
        disable=not progress,
        desc="meta-train",
    )
    clock = time.perf_counter()
    cpu_clock = time.process_time()
    iteration = start_iteration
    for iteration in bar:
        rng = np.random.default_rng([seed, iteration])
        task = task_family.sample(rng)
        n_steps = int(rng.integers(horizon[0], horizon[1] + 1))
        told = net.horizon_aware and rng.random() < horizon_known
        every = None
        if net.validation_aware:
            every = report_every[int(rng.integers(len(report_every)))]
        # Drawn last and only when asked for: the default run draws the tasks it always drew.
        lr = math.exp(rng.uniform(math.log(low), math.log(high))) if high > low else low
        fraction = iteration / max(n_iterations - 1, 1)
        # Cosine decay of the meta learning rate to a tenth: late updates refine, not jump.
        for group in meta_optimizer.param_groups:
            group["lr"] = meta_lr * (0.1 + 0.45 * (1 + math.cos(math.pi * fraction)))
        length = int(round(unroll[0] + (unroll[1] - unroll[0]) * fraction))
        losses = run_trajectory(
            net,
            task,
            n_steps,
            unroll=length,
            meta_optimizer=meta_optimizer,
            clip_norm=clip_norm,
            validation_weight=validation_weight,
            total_steps=n_steps if told else None,
            accumulate=tasks_per_update > 1,
            report_every=every,
            lr=lr,
            final_weight=final_weight,
        )
        if tasks_per_update > 1 and (
            (iteration + 1) % tasks_per_update == 0 or iteration + 1 == n_iterations
        ):
            for parameter in net.parameters():
                if parameter.grad is not None:
                    parameter.grad.div_(tasks_per_update)
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip_norm)
            meta_optimizer.step()
            meta_optimizer.zero_grad()
        if averaged is not None:
            with torch.no_grad():
                for mean, current in zip(averaged.parameters(), net.parameters(), strict=True):
                    mean.lerp_(current, 1.0 - average)
        now = time.perf_counter()
        result.seconds += now - clock
        clock = now
        result.cpu_seconds += time.process_time() - cpu_clock
        cpu_clock = time.process_time()
        meta_loss = float(np.mean(losses)) if losses else math.nan
        result.history.append(
            {
                "iteration": float(iteration + 1),
                "meta_loss": meta_loss,
                "horizon": float(n_steps),
                "unroll": float(length),
                "lr": lr,
                "seconds": result.seconds,
            }
        )
        bar.set_postfix(meta_loss=f"{meta_loss:.3f}", best=f"{result.best_validation:.3f}")
        done = iteration + 1
        out_of_time = time_budget_s is not None and result.seconds >= time_budget_s
        if done % validate_every == 0 or done == n_iterations or out_of_time:
            validate(done)
            now = time.perf_counter()
            result.seconds += now - clock
            clock = now
            result.cpu_seconds += time.process_time() - cpu_clock
            cpu_clock = time.process_time()
            save(done)
        if out_of_time:
            logger.info(
                "meta_train: time budget of %.0f s reached at iteration %d", time_budget_s, done
            )
            break
    bar.close()
    result.net.eval()
    return result
