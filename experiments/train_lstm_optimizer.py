"""Reproduce the shipped LSTM optimizer weights (metaopt/optim/weights/default.pt) in one command.

    nice -n 10 python experiments/train_lstm_optimizer.py --seed 0

Meta-trains on MLPs over the META-TRAINING datasets and architectures below (the benchmark in
experiments/lstm_optimizer.py evaluates on other datasets and architectures). Resumable: progress
is checkpointed under --workdir and a rerun of the same command continues. Uses one thread.

Only the shipped recipe (seed 0, every meta-training setting at its default) writes the shipped
weights file and the committed history (experiments/results/lstm_optimizer) by default; any other
run writes under runs/train_lstm_optimizer (``<workdir>/seed<k>.pt``) unless ``--output`` or
``--workdir`` say otherwise, so a short trial run never replaces the package's weights or results.
The meta-training data (PMLB files) is read from the shared folder (``METAOPT_SHARED``).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import torch

from metaopt._help import HelpFormatter
from metaopt._settings import shared_dir
from metaopt.optim import (
    DEFAULT_WEIGHTS,
    ConvSpec,
    LSTMOptimizerNet,
    MLPSpec,
    TabularData,
    TabularTaskFamily,
    TaskMixture,
    load_tabular,
    meta_train,
    save_weights,
)

#: Datasets used for meta-training; the benchmark's held-out families use none of them.
TRAIN_CLASSIFICATION = (
    "sklearn:iris",
    "sklearn:wine",
    "sklearn:breast_cancer",
    "pmlb:haberman",
    "pmlb:monk1",
    "pmlb:balance_scale",
    "pmlb:new_thyroid",
    "pmlb:prnn_crabs",
    "pmlb:ecoli",
    "pmlb:heart_statlog",
    "pmlb:tic_tac_toe",
    "pmlb:vehicle",
    "pmlb:yeast",
    "pmlb:glass",
    "pmlb:car",
    "pmlb:spect",
    "pmlb:analcatdata_dmft",
    "pmlb:threeOf9",
)
TRAIN_REGRESSION = (
    "sklearn:diabetes",
    "pmlb:1027_ESL",
    "pmlb:230_machine_cpu",
    "pmlb:1028_SWD",
    "pmlb:560_bodyfat",
    "pmlb:522_pm10",
    "pmlb:596_fri_c2_250_5",
    "pmlb:631_fri_c1_500_5",
    "pmlb:557_analcatdata_apnea1",
)
#: Ordinal targets with few values, used as classes (as when the shipped weights were trained).
TASK_OVERRIDES = {"pmlb:1027_ESL": "classification", "pmlb:1028_SWD": "classification"}
#: Image-like data for the convolutional meta-training family: 15x16 handwritten numerals,
#: cropped to 14x16 and 2x2 average-pooled to 7x8 (cheap enough for meta-training). The
#: benchmark's convolutional family uses scikit-learn's 8x8 digits, which meta-training never sees.
TRAIN_IMAGES = ("pmlb:mfeat_pixel", (7, 8))
#: Architectures used for meta-training (small, so meta-training fits its time budget).
TRAIN_ARCHITECTURES = (
    MLPSpec((16,), "tanh"),
    MLPSpec((32,), "relu"),
    MLPSpec((16, 16), "tanh"),
    MLPSpec((32, 32), "relu"),
    MLPSpec((8, 8, 8), "relu"),
    MLPSpec((24,), "sigmoid"),
)
#: Wide networks for the small-data tasks, where overfitting is easy.
WIDE_ARCHITECTURES = (
    MLPSpec((128,), "relu"),
    MLPSpec((256,), "tanh"),
    MLPSpec((128, 128), "relu"),
)
CONV_ARCHITECTURES = (ConvSpec(TRAIN_IMAGES[1], (8,)), ConvSpec(TRAIN_IMAGES[1], (8, 16)))


def training_family(max_rows: int = 3000) -> TaskMixture:
    """Minibatch and full-batch tasks, small-data wide networks, label noise, regression, CNNs."""

    def load(name: str):
        return load_tabular(name, task=TASK_OVERRIDES.get(name), max_rows=max_rows)

    classification = [load(name) for name in TRAIN_CLASSIFICATION]
    regression = [load(name) for name in TRAIN_REGRESSION]
    pixels = load(TRAIN_IMAGES[0])
    pooled = pixels.X.reshape(-1, 15, 16)[:, :14].reshape(-1, 7, 2, 8, 2).mean(axis=(2, 4))
    images = [
        TabularData(
            pixels.name + "-7x8", pooled.reshape(len(pooled), -1), pixels.y, "classification"
        )
    ]
    families = [
        (0.2, TabularTaskFamily(classification, TRAIN_ARCHITECTURES, name="train-clf")),
        (
            0.12,
            TabularTaskFamily(
                classification,
                TRAIN_ARCHITECTURES,
                name="train-clf-fullbatch",
                max_train_rows=256,
                batch_size=None,
            ),
        ),
        (
            0.2,
            TabularTaskFamily(
                classification + regression,
                WIDE_ARCHITECTURES,
                name="train-smalldata-wide",
                max_train_rows=96,
                batch_size=None,
            ),
        ),
        (0.12, TabularTaskFamily(regression, TRAIN_ARCHITECTURES, name="train-reg")),
        (
            0.14,
            TabularTaskFamily(
                classification, TRAIN_ARCHITECTURES, name="train-noisy", label_noise=(0.1, 0.4)
            ),
        ),
        (
            0.07,
            TabularTaskFamily(
                regression, TRAIN_ARCHITECTURES, name="train-noisy-reg", label_noise=(0.3, 1.0)
            ),
        ),
        (
            0.15,
            TabularTaskFamily(
                images,
                CONV_ARCHITECTURES,
                name="train-conv",
                feature_fraction=(1.0, 1.0),
                max_features=None,
                max_train_rows=1024,
            ),
        ),
    ]
    return TaskMixture([f for _, f in families], weights=[w for w, _ in families])


def plot_histories(workdir: Path) -> Path:
    """Plot meta-loss and validation score of every seed's meta_train_seed<k>.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for i, path in enumerate(sorted(workdir.glob("meta_train_seed*.json"))):
        history = json.loads(path.read_text())["history"]
        train = [(h["iteration"], h["meta_loss"]) for h in history if "meta_loss" in h]
        its, losses = np.array(train).T
        window = max(1, min(25, len(losses)))
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        left.plot(its[window - 1 :], smooth, color=f"C{i}", label=path.stem)
        val = [(h["iteration"], h["validation"]) for h in history if "validation" in h]
        right.plot(*np.array(val).T, "o-", color=f"C{i}", label=path.stem)
    left.set(xlabel="trajectory", ylabel="meta-loss (mean log loss, 25-trajectory average)")
    right.set(xlabel="trajectory", ylabel="validation score (lower is better)")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    out = workdir / "meta_training.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


ROOT = Path(__file__).resolve().parents[1]
#: Options that are not meta-training settings: changing them keeps the shipped recipe.
NOT_RECIPE = ("workdir", "output", "plot_only")
#: Where the shipped recipe keeps its history and plot (committed).
RESULTS = ROOT / "experiments" / "results" / "lstm_optimizer"


def recipe_changes(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The meta-training options of ``args`` that differ from the shipped recipe's."""
    changed = []
    for action in parser._actions:
        dest = action.dest
        if dest in ("help", *NOT_RECIPE) or not hasattr(args, dest):
            continue
        value, default = getattr(args, dest), action.default
        if isinstance(default, tuple):
            value = tuple(value)
        if value != default:
            changed.append(action.option_strings[0])
    return changed


def output_path(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path:
    """``--output``, else the shipped weights for the shipped recipe, else the workdir's file."""
    if args.output is not None:
        return args.output
    if not recipe_changes(parser, args):
        return DEFAULT_WEIGHTS
    return args.workdir / f"seed{args.seed}.pt"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=0, help="meta-training seed")
    parser.add_argument("--iterations", type=int, default=3600, help="trajectories")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="stop after this many wall seconds (for experiments: the result then depends on "
        "the machine's speed and load) (default: no limit)",
    )
    parser.add_argument("--hidden-size", type=int, default=16, help="per-tensor LSTM units")
    parser.add_argument("--mlp-hidden", type=int, default=8, help="per-coordinate MLP units")
    parser.add_argument(
        "--validation-weight",
        type=float,
        default=1.0,
        help="weight of the held-out loss in the meta-objective",
    )
    parser.add_argument(
        "--init-weight-decay", type=float, default=1e-3, help="initial decoupled weight decay"
    )
    parser.add_argument(
        "--horizon",
        type=int,
        nargs=2,
        default=(50, 200),
        help="range of training-trajectory lengths (steps)",
    )
    parser.add_argument(
        "--validation-horizons",
        type=int,
        nargs="+",
        default=(50, 150),
        help="trajectory lengths of the validation runs",
    )
    parser.add_argument(
        "--unroll",
        type=int,
        nargs=2,
        default=(10, 30),
        help="range of truncated-backpropagation unroll lengths (steps)",
    )
    parser.add_argument(
        "--horizon-aware",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="give the network the fraction of the horizon done (users pass total_steps) "
        "(default: off)",
    )
    parser.add_argument(
        "--horizon-known",
        type=float,
        default=0.7,
        help="with --horizon-aware: share of trajectories whose length the network is told",
    )
    parser.add_argument(
        "--final-weight",
        type=float,
        default=0.0,
        help="with --horizon-aware: extra weight of the loss at the told horizon in the "
        "meta-objective (0: every step counts the same)",
    )
    parser.add_argument(
        "--validation-aware",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="give the network the validation losses users report (report_validation_loss) "
        "(default: off)",
    )
    parser.add_argument(
        "--lr-range",
        type=float,
        nargs=2,
        default=(0.3, 3.0),
        help="range of the lr multiplier each trajectory draws (log-uniform; the network never "
        "sees it; 1 1: always the default lr)",
    )
    parser.add_argument(
        "--tasks-per-update",
        type=int,
        default=1,
        help="trajectories averaged into one meta-update",
    )
    parser.add_argument("--meta-lr", type=float, default=3e-3, help="meta learning rate")
    parser.add_argument(
        "--average",
        type=float,
        default=0.95,
        help="decay of the moving average of the meta-parameters that is validated (0: off)",
    )
    parser.add_argument(
        "--validate-every", type=int, default=40, help="trajectories between validations"
    )
    parser.add_argument(
        "--validation-tasks",
        type=int,
        default=24,
        help="tasks drawn from the training family to choose the checkpoint on (with 6 the "
        "choice was mostly noise)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder of histories, checkpoints and plots (default: "
        "experiments/results/lstm_optimizer for the shipped recipe, else "
        "runs/train_lstm_optimizer, so a trial run leaves the committed history alone)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="weights file (default: the shipped file for the shipped recipe, seed 0 with every "
        "meta-training option at its default; else <workdir>/seed<k>.pt)",
    )
    parser.add_argument(
        "--plot-only", action="store_true", help="only redraw meta_training.png from the JSONs"
    )
    args = parser.parse_args(argv)
    if args.workdir is None:
        shipped = not recipe_changes(parser, args)
        args.workdir = (
            RESULTS if shipped or args.plot_only else ROOT / "runs" / "train_lstm_optimizer"
        )
    if args.plot_only:
        print(plot_histories(args.workdir))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    output = output_path(parser, args)
    pmlb = shared_dir() / "datasets" / "pmlb"
    if not pmlb.is_dir():
        sys.exit(
            f"{Path(__file__).name}: error: the meta-training data needs the shared PMLB folder, "
            f"not found at {pmlb}; set METAOPT_SHARED to the folder that holds datasets/pmlb"
        )
    family = training_family()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        net = LSTMOptimizerNet(
            hidden_size=args.hidden_size,
            mlp_hidden=args.mlp_hidden,
            init_weight_decay=args.init_weight_decay,
            horizon_aware=args.horizon_aware,
            validation_aware=args.validation_aware,
        )
    result = meta_train(
        family,
        net=net,
        n_iterations=args.iterations,
        time_budget_s=args.time_budget,
        horizon=tuple(args.horizon),
        unroll=tuple(args.unroll),
        meta_lr=args.meta_lr,
        validate_every=args.validate_every,
        validation_tasks=args.validation_tasks,
        validation_horizons=tuple(args.validation_horizons),
        validation_weight=args.validation_weight,
        horizon_known=args.horizon_known,
        tasks_per_update=args.tasks_per_update,
        average=args.average,
        lr_range=tuple(args.lr_range),
        final_weight=args.final_weight,
        # One checkpoint per output file: runs of other recipes in one workdir never mix.
        checkpoint=args.workdir / "checkpoints" / f"{output.stem}.ckpt",
        seed=args.seed,
    )
    provenance = {
        "command": "python experiments/train_lstm_optimizer.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "seed": args.seed,
        "iterations_done": int(max(h["iteration"] for h in result.history)),
        "best_iteration": result.best_iteration,
        "best_validation": result.best_validation,
        "meta_train_seconds": round(result.seconds, 1),
        "meta_train_cpu_seconds": round(result.cpu_seconds, 1),
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save_weights(result.net, output, provenance=provenance)
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / f"meta_train_seed{args.seed}.json").write_text(
        json.dumps({"provenance": provenance, "history": result.history}, indent=1)
    )
    plot_histories(args.workdir)
    print(json.dumps(provenance, indent=1))
    print(f"weights written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
