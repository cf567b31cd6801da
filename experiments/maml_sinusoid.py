"""Benchmark MAML on sinusoid regression (Finn et al., 2017, section 5.1).

Meta-trains a 1-40-40-1 ReLU network with second-order MAML, first-order MAML, Meta-SGD
(second-order MAML with learned per-parameter step sizes) and a pretrained multi-task regression
baseline on the same CPU-time budget. Each run keeps the checkpoint with the lowest validation
MSE after 10 adaptation steps, then every checkpoint is adapted with gradient descent at the
inner step size (the learned ones for Meta-SGD) on held-out test tasks (K support points, 100
query points each), with the test-time safeguard (``MAML.evaluate(..., safeguard=True)``, a
backtracking line search on the support loss) unless ``--no-safeguard``; the table reports the
query MSE after 1, 10 and 20 steps with 95% confidence intervals and counts tasks whose loss
diverges or spikes, with and without the safeguard. A last table measures the memory autograd
keeps for one meta-gradient at 1, 5 and 20 inner steps (second-order, truncated second-order,
first-order).

Results (markdown table, JSON, PNG plots, the selected checkpoints as .npz) are written to
``experiments/results/maml/``. Finished variants are reused on a rerun (resumable) unless
``--force`` is given or their settings changed.

    nice -n 10 python experiments/maml_sinusoid.py            # defaults: about 20 CPU-minutes
    python experiments/maml_sinusoid.py --budget 20 --test-tasks 100 --out /tmp/maml_smoke
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from metaopt._help import HelpFormatter
from metaopt.maml import MAML, SinusoidTasks, Task, backward_memory

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "maml"
VARIANTS = ("second-order", "first-order", "meta-sgd", "pretrained")
REPORT_STEPS = (0, 1, 10, 20)
SETTING_DEFAULTS = {"lr_schedule": "constant"}  # for results stored before the option existed
mse = nn.functional.mse_loss


def make_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1)
    )


def make_maml(variant: str, net: nn.Module, args: argparse.Namespace) -> MAML:
    """The MAML wrapper used for training (meta variants) or just fine-tuning (pretrained)."""
    return MAML(
        net,
        inner_lr=args.inner_lr,
        inner_steps=args.inner_steps,
        first_order=variant == "first-order",
        learn_inner_lr=variant == "meta-sgd",
        meta_optimizer=lambda params: torch.optim.Adam(params, lr=args.meta_lr),
        loss_fn=mse,
    )


def pretrain_step(maml: MAML, tasks: list[Task]) -> float:
    """One Adam step of plain regression on all points of all tasks pooled."""
    x = torch.cat([torch.cat([t.support_x, t.query_x]) for t in tasks])
    y = torch.cat([torch.cat([t.support_y, t.query_y]) for t in tasks])
    maml.meta_optimizer.zero_grad(set_to_none=True)
    loss = mse(maml.model(x), y)
    loss.backward()
    maml.meta_optimizer.step()
    return float(loss.detach())


def train(
    variant: str, args: argparse.Namespace, val_tasks: list[Task]
) -> tuple[MAML, dict[str, object]]:
    """Train one variant for ``args.budget`` seconds, keeping the best validation checkpoint."""
    maml = make_maml(variant, make_net(args.seed), args)
    sampler = SinusoidTasks(support_size=args.shots, query_size=args.shots, seed=args.seed + 1)
    step: Callable[[list[Task]], float] = (
        (lambda tasks: pretrain_step(maml, tasks)) if variant == "pretrained" else maml.meta_step
    )
    best = (math.inf, 0, maml.state_dict())
    history = []
    train_seconds = 0.0  # process CPU time spent in training steps
    wall_seconds = 0.0
    iteration = 0
    bar = tqdm(total=round(args.budget), desc=f"{variant} (CPU s)", mininterval=5)
    while train_seconds < args.budget and iteration < args.max_iterations:
        start, wall_start = time.process_time(), time.perf_counter()
        chunk = min(args.val_every, args.max_iterations - iteration)  # no more than the cap
        for _ in range(chunk):
            step(sampler.sample(args.meta_batch))
        iteration += chunk
        elapsed = time.process_time() - start
        train_seconds += elapsed
        wall_seconds += time.perf_counter() - wall_start
        if args.lr_schedule == "cosine":  # decay over the CPU-time budget, down to 5%
            progress = min(1.0, train_seconds / args.budget)
            factor = 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))
            for group in maml.meta_optimizer.param_groups:
                group["lr"] = args.meta_lr * factor
        bar.update(round(train_seconds) - bar.n)
        curve = maml.evaluate(val_tasks, steps=10, safeguard=args.safeguard).mean(0)
        val10 = float(curve[10])
        history.append(
            {
                "iteration": iteration,
                "seconds": train_seconds,
                "val_mse_10": val10,
                "val_mse_1": float(curve[1]),
            }
        )
        if math.isfinite(val10) and val10 < best[0]:
            best = (val10, iteration, maml.state_dict())
        bar.set_postfix(val10=f"{val10:.3f}", best=f"{best[0]:.3f}")
    bar.close()
    maml.load_state_dict(best[2])
    info = {
        "iterations": iteration,
        "train_seconds": train_seconds,
        "wall_seconds": wall_seconds,
        "best_iteration": best[1],
        "best_val_mse_10": best[0],
        "val_safeguard": args.safeguard,
        "history": history,
    }
    return maml, info


def choose_step_scale(
    maml: MAML, val_tasks: list[Task], args: argparse.Namespace
) -> tuple[float, dict[str, float]]:
    """The test-time step-size multiplier with the lowest 10-step validation MSE."""
    by_scale = {}
    for scale in args.step_scales:
        curve = maml.evaluate(val_tasks, steps=10, safeguard=args.safeguard, step_scale=scale)
        value = float(curve[:, 10].mean())
        by_scale[str(scale)] = value if math.isfinite(value) else math.inf
    best = min(args.step_scales, key=lambda scale: by_scale[str(scale)])
    return best, by_scale


def lstm_curves(maml: MAML, tasks: list[Task], steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Query and support MSE after 0..steps steps of metaopt's LSTMOptimizer from a checkpoint."""
    from metaopt.optim import LSTMOptimizer  # optional composition: imported only when asked

    curves, support = [], []
    for task in tqdm(tasks, desc="LSTMOptimizer fine-tuning", mininterval=5):
        model = copy.deepcopy(maml.model)
        optimizer = LSTMOptimizer(model.parameters())
        curve, support_curve = [], []
        for step in range(steps + 1):
            with torch.no_grad():
                curve.append(float(mse(model(task.query_x), task.query_y)))
            optimizer.zero_grad()
            loss = mse(model(task.support_x), task.support_y)
            support_curve.append(float(loss.detach()))
            if step < steps:
                loss.backward()
                optimizer.step()
        curves.append(curve)
        support.append(support_curve)
    return torch.tensor(curves), torch.tensor(support)


def summarise(curves: torch.Tensor, support: torch.Tensor) -> dict[str, object]:
    """Mean, 95% CI and divergence counts of per-task MSE curves (tasks x steps).

    ``curves`` are query MSEs, ``support`` the support-set MSEs the fine-tuning descends.
    """
    curves, support = curves.double(), support.double()
    n = curves.shape[0]
    out: dict[str, object] = {}
    for s in REPORT_STEPS:
        col = curves[:, s]
        out[f"mse_{s}"] = float(col.mean())
        out[f"ci_{s}"] = float(1.96 * col.std() / math.sqrt(n))
    finite = torch.isfinite(curves).all(1) & torch.isfinite(support).all(1)
    # Diverged: the descent ends worse than it started on the very loss it descends (or blows
    # up). Overshoot: that loss rises above its start at some step, even if it recovers.
    out["diverged_tasks"] = int((~finite | (support[:, -1] > support[:, 0])).sum())
    out["overshoot_tasks"] = int((~finite | (support[:, 1:] > support[:, :1]).any(1)).sum())
    out["largest_spike"] = float((support[:, 1:].max(1).values / support[:, 0]).max())
    out["query_worse_than_start"] = int((~finite | (curves[:, -1] > curves[:, 0])).sum())
    out["worst_task_mse_20"] = float(curves[:, -1].max())
    out["n_tasks"] = n
    return out


MEMORY_STEPS = (1, 5, 20)
MEMORY_MODES = {  # label: MAML keyword arguments
    "second-order": {},
    "truncated second-order (last step)": {"second_order_steps": 1},
    "first-order": {"first_order": True},
}


def memory_report(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """MiB autograd holds for one meta-gradient of a meta-batch, by mode and inner steps."""
    tasks = SinusoidTasks(support_size=args.shots, query_size=args.shots, seed=1).sample(
        args.meta_batch
    )
    out: dict[str, dict[str, float]] = {}
    for label, kwargs in MEMORY_MODES.items():
        out[label] = {}
        for steps in MEMORY_STEPS:
            maml = MAML(
                make_net(args.seed),
                inner_lr=args.inner_lr,
                inner_steps=steps,
                loss_fn=mse,
                vectorize=False,  # saved-tensor hooks do not see inside torch.func
                **kwargs,
            )
            out[label][str(steps)] = backward_memory(lambda m=maml: m.meta_loss(tasks)) / 2**20
    return out


def support_as_query(tasks: list[Task]) -> list[Task]:
    """The same tasks scored on their support sets (to watch the loss being descended)."""
    return [Task(t.support_x, t.support_y, t.support_x, t.support_y) for t in tasks]


def save_checkpoint(maml: MAML, path: Path) -> None:
    np.savez(path, **{k: v.numpy() for k, v in maml.state_dict().items()})


def load_checkpoint(maml: MAML, path: Path) -> None:
    with np.load(path, allow_pickle=False) as data:
        maml.load_state_dict({k: torch.from_numpy(data[k]) for k in data.files})


def plot(results: dict[str, dict], curves: dict[str, torch.Tensor], examples, out: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    ax = axes[0]
    for variant, curve in curves.items():
        mean = curve.double().mean(0).numpy()
        ci = 1.96 * curve.double().std(0).numpy() / math.sqrt(curve.shape[0])
        steps = np.arange(len(mean))
        ax.plot(steps, mean, marker="o", ms=3, label=variant)
        ax.fill_between(steps, mean - ci, mean + ci, alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("gradient steps on the support set")
    ax.set_ylabel("query MSE (mean over test tasks, 95% CI)")
    ax.set_title("Adaptation on held-out sinusoid tasks")
    ax.legend()
    ax = axes[1]
    for variant, res in results.items():
        hist = res["training"]["history"]
        ax.plot([h["seconds"] for h in hist], [h["val_mse_10"] for h in hist], label=variant)
    ax.set_yscale("log")
    ax.set_xlabel("training CPU seconds")
    ax.set_ylabel("validation MSE after 10 steps")
    ax.set_title("Checkpoint selection")
    ax.legend()
    ax = axes[2]
    xs, truth, support, preds = examples
    ax.plot(xs, truth, "k-", label="true function")
    ax.plot(support[0], support[1], "k^", label="support (K points)")
    for label, pred in preds.items():
        ax.plot(xs, pred, "--", label=label)
    ax.set_title("One test task")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "sinusoid.png", dpi=110)
    plt.close(fig)


def example_predictions(mamls: dict[str, MAML], task: Task, amp: float, phase: float):
    xs = torch.linspace(-5, 5, 200).unsqueeze(1)
    preds = {}
    for variant, maml in mamls.items():
        if variant not in ("second-order", "pretrained"):
            continue
        for steps in (1, 10):
            with torch.no_grad():
                fast = maml.adapt(task.support_x, task.support_y, steps=steps)
                preds[f"{variant}, {steps} step(s)"] = (
                    torch.func.functional_call(maml.model, fast, (xs,)).squeeze(1).numpy()
                )
    truth = SinusoidTasks.function(xs, amp, phase).squeeze(1).numpy()
    support = (task.support_x.squeeze(1).numpy(), task.support_y.squeeze(1).numpy())
    return xs.squeeze(1).numpy(), truth, support, preds


def markdown(results: dict[str, dict], args: argparse.Namespace, memory: dict) -> str:
    lines = [
        "# MAML on sinusoid regression",
        "",
        f"Command: `python experiments/maml_sinusoid.py {' '.join(args.argv)}`".rstrip(),
        "",
        f"1-40-40-1 ReLU net, K={args.shots} support points, meta-batch {args.meta_batch}, "
        f"inner lr {args.inner_lr} x {args.inner_steps} step(s) in training, Adam "
        f"{args.meta_lr} ({args.lr_schedule} schedule); training budget (CPU-seconds, column "
        "'train CPU s') per variant on "
        f"{torch.get_num_threads()} thread(s) of a shared 2-core machine (wall time is longer "
        "when other jobs compete). Checkpoint chosen on 10-step MSE over "
        f"{args.val_tasks} validation tasks. Test: {args.test_tasks} held-out tasks x "
        f"{args.query} query points, gradient descent at the inner lr (learned lrs for "
        f"Meta-SGD) times a step scale chosen per variant from {args.step_scales} on the "
        "validation tasks (10-step MSE, column 'step scale')"
        f"{', with the backtracking safeguard' if args.safeguard else ''}; the "
        "validation MSE that picks the checkpoint uses the same rule where column 'val "
        "guarded' says yes (runs stored before the option existed say no). MSE mean +- 95% "
        "CI. 'diverged' = tasks whose support-set loss (the loss "
        "being descended) is higher after 20 steps than before, or non-finite; 'overshoot' = "
        "tasks whose support loss rises above its start at some step (even if it recovers), "
        "with the largest such ratio; 'query worse' = tasks whose query MSE after 20 steps is "
        "above their pre-adaptation query MSE (overfitting the K points or instability).",
        "",
        "| variant | MSE 0 steps | MSE 1 step | MSE 10 steps | MSE 20 steps | diverged | "
        "overshoot (largest) | query worse | worst task @20 | iterations | train CPU s | wall s | "
        "best iter | val guarded | step scale |",
        "| " + "--- | " * 15,
    ]
    for variant, res in results.items():
        t, tr = res["test"], res["training"]
        cells = [f"{t[f'mse_{s}']:.3f} +- {t[f'ci_{s}']:.3f}" for s in REPORT_STEPS]
        lines.append(
            f"| {variant} | " + " | ".join(cells) + f" | {t['diverged_tasks']}/{t['n_tasks']} | "
            f"{t['overshoot_tasks']} (x{t['largest_spike']:.1f}) | "
            f"{t['query_worse_than_start']} | {t['worst_task_mse_20']:.3f} | "
            f"{tr['iterations']} | {tr['train_seconds']:.0f} | {tr['wall_seconds']:.0f} | "
            f"{tr['best_iteration']} | {'yes' if tr.get('val_safeguard') else 'no'} | "
            f"x{res['step_scale']:g} |"
        )
    unguarded = {v: r["test_unguarded"] for v, r in results.items() if "test_unguarded" in r}
    if unguarded:
        lines += [
            "",
            "## Without the safeguard (plain gradient descent, same checkpoints)",
            "",
            "| variant | MSE 1 step | MSE 10 steps | MSE 20 steps | diverged | "
            "overshoot (largest) | query worse |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for variant, t in unguarded.items():
            cells = [f"{t[f'mse_{s}']:.3f} +- {t[f'ci_{s}']:.3f}" for s in REPORT_STEPS[1:]]
            lines.append(
                f"| {variant} | " + " | ".join(cells) + f" | {t['diverged_tasks']}/{t['n_tasks']}"
                f" | {t['overshoot_tasks']} (x{t['largest_spike']:.1f}) | "
                f"{t['query_worse_than_start']} |"
            )
    lines += [
        "",
        "## Memory of one meta-gradient",
        "",
        f"MiB that autograd keeps for the backward pass of one meta-batch ({args.meta_batch} "
        f"tasks, K={args.shots}), measured with `metaopt.maml.backward_memory` on the per-task "
        "loop.",
        "",
        "| mode | " + " | ".join(f"{s} inner step(s)" for s in MEMORY_STEPS) + " |",
        "| --- | " + "--- | " * len(MEMORY_STEPS),
    ]
    for label, row in memory.items():
        lines.append(
            f"| {label} | " + " | ".join(f"{row[str(s)]:.2f}" for s in MEMORY_STEPS) + " |"
        )
    lstm = {v: r["lstm"] for v, r in results.items() if "lstm" in r}
    if lstm:
        lines += [
            "",
            "## Composition: fine-tuning the checkpoints with metaopt.optim.LSTMOptimizer",
            "",
            "Same test tasks; the shipped learned optimizer (lr=1.0) replaces gradient descent.",
            "",
            "| initialisation | MSE 0 steps | MSE 1 step | MSE 10 steps | MSE 20 steps "
            "| diverged | query worse |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for variant, t in lstm.items():
            cells = [f"{t[f'mse_{s}']:.3f} +- {t[f'ci_{s}']:.3f}" for s in REPORT_STEPS]
            lines.append(
                f"| {variant} | "
                + " | ".join(cells)
                + f" | {t['diverged_tasks']}/{t['n_tasks']} | {t['query_worse_than_start']} |"
            )
    lines += ["", "## Goals", ""] + goals(results)
    return "\n".join(lines) + "\n"


def goals(results: dict[str, dict]) -> list[str]:
    """The benchmark's goals, each marked hit or missed from the measured numbers."""
    out = []

    def mark(ok: bool) -> str:
        return "HIT" if ok else "MISSED"

    second = {v: results[v] for v in ("second-order", "meta-sgd") if v in results}
    for variant, r in second.items():
        t = r["test"]
        out.append(
            f"- {variant} (second-order) MSE after 1 step <= 0.35: {t['mse_1']:.3f} "
            f"({mark(t['mse_1'] <= 0.35)})"
        )
        out.append(
            f"- {variant} (second-order) MSE after 10 steps <= 0.11: {t['mse_10']:.3f} "
            f"({mark(t['mse_10'] <= 0.11)})"
        )
        stable = t["diverged_tasks"] == 0 and t["overshoot_tasks"] == 0
        out.append(
            f"- {variant}: no task spiking up to 20 steps: {t['diverged_tasks']} end above "
            f"their starting support loss, {t['overshoot_tasks']} rise above it on the way "
            f"(largest ratio x{t['largest_spike']:.2f}), {t['query_worse_than_start']} end with a "
            f"worse query MSE than before adaptation ({mark(stable)})"
        )
    if second:
        chosen = min(second, key=lambda v: second[v]["training"]["best_val_mse_10"])
        val = second[chosen]["training"]["best_val_mse_10"]
        out.append(
            f"- chosen on validation (lowest 10-step validation MSE): {chosen} ({val:.3f}); its "
            f"test MSE {second[chosen]['test']['mse_1']:.3f} after 1 step, "
            f"{second[chosen]['test']['mse_10']:.3f} after 10"
        )
    so, fo = results.get("second-order"), results.get("first-order")
    if so and fo:
        gap = fo["test"]["mse_1"] - so["test"]["mse_1"]
        out.append(
            f"- first-order within 0.05 of second-order after 1 step: gap {gap:+.3f} "
            f"({mark(gap <= 0.05)})"
        )
    for variant, r in results.items():
        cpu = r["training"]["train_seconds"]
        out.append(f"- {variant} meta-training <= 300 CPU-s: {cpu:.0f} s ({mark(cpu <= 300)})")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--variants",
        default="second-order,first-order,pretrained",
        help=f"comma-separated subset of {','.join(VARIANTS)}",
    )
    parser.add_argument(  # CPU time, not wall time: the machine may be shared
        "--budget",
        type=float,
        default=240.0,
        help="training CPU seconds per variant (validation excluded; CPU time because the "
        "machine may be shared)",
    )
    parser.add_argument(
        "--max-iterations", type=int, default=200_000, help="meta-iterations cap per variant"
    )
    parser.add_argument("--shots", type=int, default=10, help="support points per task (K)")
    parser.add_argument("--meta-batch", type=int, default=25, help="tasks per meta-step")
    parser.add_argument("--inner-lr", type=float, default=0.01, help="inner-loop learning rate")
    parser.add_argument(
        "--inner-steps", type=int, default=1, help="inner-loop steps in meta-training"
    )
    parser.add_argument("--meta-lr", type=float, default=1e-3, help="Adam meta learning rate")
    parser.add_argument("--val-every", type=int, default=500, help="iterations between checks")
    parser.add_argument("--val-tasks", type=int, default=100, help="validation tasks")
    parser.add_argument("--test-tasks", type=int, default=600, help="held-out test tasks")
    parser.add_argument("--query", type=int, default=100, help="query points per test task")
    parser.add_argument("--seed", type=int, default=0, help="seed of tasks and networks")
    parser.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine"),
        default="constant",
        help="outer learning rate: constant, or cosine decay over the CPU-time budget",
    )
    parser.add_argument(
        "--safeguard",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="backtracking at test time: reject inner steps that raise the support loss "
        "(default: on)",
    )
    parser.add_argument(
        "--step-scales",
        default="1,1.5,2,3",
        help="test-time multipliers of the inner step size to choose from on the validation "
        "tasks (10-step MSE)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--lstm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also fine-tune the checkpoints with metaopt.optim.LSTMOptimizer (default: on)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--force", action="store_true", help="retrain finished variants")
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else __import__("sys").argv[1:]
    for flag in (
        "max_iterations",
        "shots",
        "meta_batch",
        "inner_steps",
        "val_every",
        "val_tasks",
        "test_tasks",
        "query",
        "threads",
    ):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if not args.budget > 0:
        parser.error(f"--budget must be > 0 CPU seconds, got {args.budget}")
    given = args.step_scales
    try:
        args.step_scales = [float(v) for v in given.split(",")]
    except ValueError:
        args.step_scales = []
    if not args.step_scales or min(args.step_scales) <= 0:
        parser.error(
            "--step-scales must be comma-separated positive numbers such as 1,1.5,2,3, got "
            f"{given!r}"
        )
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {VARIANTS}")
    args.out.mkdir(parents=True, exist_ok=True)

    settings = {
        k: getattr(args, k.replace("-", "_"))
        for k in (  # the training effort (budget) is recorded per variant, not matched
            "shots",
            "meta_batch",
            "inner_lr",
            "inner_steps",
            "meta_lr",
            "val_every",
            "val_tasks",
            "seed",
            "lr_schedule",
        )
    }
    val_tasks = SinusoidTasks(
        support_size=args.shots, query_size=args.query, seed=10_000 + args.seed
    ).sample(args.val_tasks)
    test_sampler = SinusoidTasks(
        support_size=args.shots, query_size=args.query, seed=20_000 + args.seed
    )
    amps, phases = test_sampler.draw_parameters(args.test_tasks)
    test_tasks = [
        test_sampler.make_task(a, p) for a, p in zip(amps.tolist(), phases.tolist(), strict=True)
    ]

    results: dict[str, dict] = {}
    curves: dict[str, torch.Tensor] = {}
    mamls: dict[str, MAML] = {}
    for variant in variants:
        ckpt = args.out / f"sinusoid_{variant}.npz"
        info_path = args.out / f"sinusoid_{variant}.json"
        stored = json.loads(info_path.read_text()) if info_path.exists() else None
        same = stored is not None and all(
            stored["settings"].get(k, SETTING_DEFAULTS.get(k)) == v for k, v in settings.items()
        )
        if same and ckpt.exists() and not args.force:
            maml = make_maml(variant, make_net(args.seed), args)
            load_checkpoint(maml, ckpt)
            info = stored["training"]
            logging.info("reusing finished %s run from %s", variant, info_path)
        else:
            maml, info = train(variant, args, val_tasks)
            save_checkpoint(maml, ckpt)
        scale, by_scale = choose_step_scale(maml, val_tasks, args)
        guard = {"safeguard": args.safeguard, "step_scale": scale}
        curve = maml.evaluate(test_tasks, steps=max(REPORT_STEPS), **guard)
        curves[variant] = curve
        mamls[variant] = maml
        support = maml.evaluate(support_as_query(test_tasks), steps=max(REPORT_STEPS), **guard)
        results[variant] = {
            "settings": settings,
            "training": info,
            "test": summarise(curve, support),
            "step_scale": scale,
            "val_mse_10_by_step_scale": by_scale,
        }
        if args.safeguard:  # the same checkpoint adapted by plain gradient descent
            results[variant]["test_unguarded"] = summarise(
                maml.evaluate(test_tasks, steps=max(REPORT_STEPS)),
                maml.evaluate(support_as_query(test_tasks), steps=max(REPORT_STEPS)),
            )
        if args.lstm and variant in ("second-order", "pretrained"):
            results[variant]["lstm"] = summarise(*lstm_curves(maml, test_tasks, max(REPORT_STEPS)))
        info_path.write_text(json.dumps(results[variant], indent=1))

    examples = example_predictions(mamls, test_tasks[0], float(amps[0]), float(phases[0]))
    plot(results, curves, examples, args.out)
    memory = memory_report(args)
    (args.out / "sinusoid_memory.json").write_text(json.dumps(memory, indent=1))
    table = markdown(results, args, memory)
    (args.out / "sinusoid.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
