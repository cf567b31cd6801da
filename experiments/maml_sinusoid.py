"""Benchmark MAML on sinusoid regression (Finn et al., 2017, section 5.1).

Meta-trains a 1-40-40-1 ReLU network with second-order MAML, first-order MAML (and optionally
Meta-SGD), and a pretrained multi-task regression baseline on the same wall-clock budget. Each
run keeps the checkpoint with the lowest validation MSE after 10 adaptation steps, then every
checkpoint is fine-tuned with plain gradient descent at the inner step size on held-out test
tasks (K support points, 100 query points each); the table reports the query MSE after 1, 10 and
20 steps with 95% confidence intervals and counts tasks whose loss diverges.

Results (markdown table, JSON, PNG plots, the selected checkpoints as .npz) are written to
``experiments/results/maml/``. Finished variants are reused on a rerun (resumable) unless
``--force`` is given or their settings changed.

    nice -n 10 python experiments/maml_sinusoid.py            # defaults: about 15 minutes
    python experiments/maml_sinusoid.py --budget 20 --test-tasks 100 --out /tmp/maml_smoke
"""

from __future__ import annotations

import argparse
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

from metaopt.maml import MAML, SinusoidTasks, Task

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "maml"
VARIANTS = ("second-order", "first-order", "meta-sgd", "pretrained")
REPORT_STEPS = (0, 1, 10, 20)
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
    train_seconds = 0.0
    iteration = 0
    bar = tqdm(
        total=args.budget, desc=variant, unit="s", bar_format="{l_bar}{bar}| {n:.0f}/{total}s"
    )
    while train_seconds < args.budget and iteration < args.max_iterations:
        start = time.perf_counter()
        for _ in range(args.val_every):
            step(sampler.sample(args.meta_batch))
        iteration += args.val_every
        elapsed = time.perf_counter() - start
        train_seconds += elapsed
        bar.update(elapsed)
        curve = maml.evaluate(val_tasks, steps=10).mean(0)
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
        "best_iteration": best[1],
        "best_val_mse_10": best[0],
        "history": history,
    }
    return maml, info


def summarise(curves: torch.Tensor) -> dict[str, object]:
    """Mean, 95% CI and divergence counts of per-task query-MSE curves (tasks x steps)."""
    curves = curves.double()
    n = curves.shape[0]
    out: dict[str, object] = {}
    for s in REPORT_STEPS:
        col = curves[:, s]
        out[f"mse_{s}"] = float(col.mean())
        out[f"ci_{s}"] = float(1.96 * col.std() / math.sqrt(n))
    finite = torch.isfinite(curves).all(1)
    # A task "diverges" when fine-tuning ends worse than where it started, or blows up.
    diverged = ~finite | (curves[:, -1] > curves[:, 0])
    rising = ~finite | (curves[:, -1] > 2 * curves.min(1).values)
    out["diverged_tasks"] = int(diverged.sum())
    out["tasks_final_over_2x_best"] = int(rising.sum())
    out["worst_task_mse_20"] = float(curves[:, -1].max())
    out["n_tasks"] = n
    return out


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
    ax.set_xlabel("training seconds")
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


def markdown(results: dict[str, dict], args: argparse.Namespace) -> str:
    lines = [
        "# MAML on sinusoid regression",
        "",
        f"Command: `python experiments/maml_sinusoid.py {' '.join(args.argv)}`".rstrip(),
        "",
        f"1-40-40-1 ReLU net, K={args.shots} support points, meta-batch {args.meta_batch}, "
        f"inner lr {args.inner_lr} x {args.inner_steps} step(s) in training, Adam "
        f"{args.meta_lr}; {args.budget:.0f} s training budget per variant on "
        f"{torch.get_num_threads()} thread(s). Checkpoint chosen on 10-step MSE over "
        f"{args.val_tasks} validation tasks. Test: {args.test_tasks} held-out tasks x "
        f"{args.query} query points, plain gradient descent at the inner lr (learned lrs for "
        "Meta-SGD). MSE mean +- 95% CI. 'diverged' = tasks whose query MSE after 20 steps is "
        "above its pre-adaptation MSE (or non-finite); 'final > 2x best' = tasks whose MSE "
        "after 20 steps is more than twice their best along the way.",
        "",
        "| variant | MSE 0 steps | MSE 1 step | MSE 10 steps | MSE 20 steps | diverged | "
        "final > 2x best | worst task @20 | iterations | train s | best iter |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for variant, res in results.items():
        t, tr = res["test"], res["training"]
        cells = [f"{t[f'mse_{s}']:.3f} +- {t[f'ci_{s}']:.3f}" for s in REPORT_STEPS]
        lines.append(
            f"| {variant} | " + " | ".join(cells) + f" | {t['diverged_tasks']}/{t['n_tasks']} | "
            f"{t['tasks_final_over_2x_best']} | {t['worst_task_mse_20']:.3f} | "
            f"{tr['iterations']} | {tr['train_seconds']:.0f} | {tr['best_iteration']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variants",
        default="second-order,first-order,pretrained",
        help=f"comma-separated subset of {','.join(VARIANTS)}",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=240.0,
        help="training seconds per variant (validation excluded)",
    )
    parser.add_argument("--max-iterations", type=int, default=200_000)
    parser.add_argument("--shots", type=int, default=10, help="support points per task (K)")
    parser.add_argument("--meta-batch", type=int, default=25)
    parser.add_argument("--inner-lr", type=float, default=0.01)
    parser.add_argument("--inner-steps", type=int, default=1)
    parser.add_argument("--meta-lr", type=float, default=1e-3)
    parser.add_argument("--val-every", type=int, default=500, help="iterations between checks")
    parser.add_argument("--val-tasks", type=int, default=100)
    parser.add_argument("--test-tasks", type=int, default=600)
    parser.add_argument("--query", type=int, default=100, help="query points per test task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--force", action="store_true", help="retrain finished variants")
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else __import__("sys").argv[1:]
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {VARIANTS}")
    args.out.mkdir(parents=True, exist_ok=True)

    settings = {
        k: getattr(args, k.replace("-", "_"))
        for k in (
            "budget",
            "max_iterations",
            "shots",
            "meta_batch",
            "inner_lr",
            "inner_steps",
            "meta_lr",
            "val_every",
            "val_tasks",
            "seed",
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
        if stored and stored.get("settings") == settings and ckpt.exists() and not args.force:
            maml = make_maml(variant, make_net(args.seed), args)
            load_checkpoint(maml, ckpt)
            info = stored["training"]
            logging.info("reusing finished %s run from %s", variant, info_path)
        else:
            maml, info = train(variant, args, val_tasks)
            save_checkpoint(maml, ckpt)
        curve = maml.evaluate(test_tasks, steps=max(REPORT_STEPS))
        curves[variant] = curve
        mamls[variant] = maml
        results[variant] = {"settings": settings, "training": info, "test": summarise(curve)}
        info_path.write_text(json.dumps(results[variant], indent=1))

    examples = example_predictions(mamls, test_tasks[0], float(amps[0]), float(phases[0]))
    plot(results, curves, examples, args.out)
    table = markdown(results, args)
    (args.out / "sinusoid.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
