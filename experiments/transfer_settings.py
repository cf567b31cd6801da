"""Choose the in-search transfer's settings on pools that are not reported on.

MetaSampler's transfer (:class:`metaopt.metamodel.TransferEnsemble`) has a few settings:
``evidence`` (how fast the study's own results re-weight the known datasets), ``n_warm`` (the
prior's portfolio before the first re-weighting) and the candidates. This script replays
searches leave-one-group-out on pool meta-datasets directly on the transfer session, without
Optuna (a trial the sampler would hand to its base sampler draws a random untried pool
configuration here), so a grid of settings costs minutes. The selection pools are the shipped
knowledge base's spaces other than ``hist_gradient_boosting``; the benchmark reports on
``hist_gradient_boosting`` and on the openml-pimp random-forest runs, which take no part in the
choice.

Every (pool, variant, dataset, seed) result is appended to ``<out>/runs.csv`` and skipped by a
rerun, so the script resumes. ``--max-datasets N`` replays only each pool's first N datasets (a
quick trial; a later run without it continues with the rest). The ``pimp`` pool reads the shared
folder's openml-pimp runs (``METAOPT_SHARED``).

Usage::

    python experiments/transfer_settings.py                    # choose on the selection pools
    python experiments/transfer_settings.py --pools kb-hist_gradient_boosting pimp --report-only
    # the choice of the study model's prior mean on the complete knowledge base
    python experiments/transfer_settings.py --seeds 2 \
        --out experiments/results/transfer_settings/complete_base --variants \
        "evidence=2, temperature=0.25, target model" \
        "evidence=2, temperature=0.25, target model on the transfer mean" \
        "evidence=1, temperature=0.25, target model on the transfer mean"
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from metaopt import benchmark, knowledge  # noqa: E402
from metaopt._help import HelpFormatter  # noqa: E402
from metaopt._settings import shared_dir  # noqa: E402
from metaopt.benchmark._problems import PoolProblem  # noqa: E402
from metaopt.metamodel import TransferEnsemble  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "transfer_settings"
PIMP_RUNS = Path("metadata") / "openml-pimp-random-forest.arff"  # under the shared folder
SELECTION_POOLS = ("kb-random_forest", "kb-svm", "kb-logistic_regression", "kb-knn")
BUDGETS = (1, 2, 5, 10, 25, 50)
#: name -> (TransferEnsemble options, MetaSampler options)
VARIANTS: dict[str, tuple[dict, dict]] = {
    "evidence=0.5": ({"evidence": 0.5}, {"n_warm": 2}),
    "evidence=1": ({"evidence": 1.0}, {"n_warm": 2}),
    "evidence=2": ({"evidence": 2.0}, {"n_warm": 2}),
    "evidence=4": ({"evidence": 4.0}, {"n_warm": 2}),
    "evidence=2, n_warm=1": ({"evidence": 2.0}, {"n_warm": 1}),
    "evidence=2, n_warm=3": ({"evidence": 2.0}, {"n_warm": 3}),
    "evidence=2, target model": (
        {"evidence": 2.0, "target_model": True, "target_mean": "constant"},
        {"n_warm": 2},
    ),
    "evidence=0.5, target model": (
        {"evidence": 0.5, "target_model": True, "target_mean": "constant"},
        {"n_warm": 2},
    ),
    "evidence=2, n_warm=3, target model": (
        {"evidence": 2.0, "target_model": True, "target_mean": "constant"},
        {"n_warm": 3},
    ),
    "evidence=2, temperature=0.25, target model": (
        {"evidence": 2.0, "temperature": 0.25, "target_model": True, "target_mean": "constant"},
        {"n_warm": 2},
    ),
    "evidence=2, temperature=0.1, target model": (
        {"evidence": 2.0, "temperature": 0.1, "target_model": True, "target_mean": "constant"},
        {"n_warm": 2},
    ),
    "evidence=2, temperature=0.25, target model, 512 random candidates": (
        {
            "evidence": 2.0,
            "temperature": 0.25,
            "target_model": True,
            "target_mean": "constant",
            "n_random": 512,
        },
        {"n_warm": 2},
    ),
    "evidence=2, temperature=0.25, target model, 5 candidates per dataset": (
        {
            "evidence": 2.0,
            "temperature": 0.25,
            "target_model": True,
            "target_mean": "constant",
            "candidates_per_dataset": 5,
        },
        {"n_warm": 2},
    ),
    "evidence=2, temperature=0.25, target model on the transfer mean": (
        {"evidence": 2.0, "temperature": 0.25, "target_model": True, "target_mean": "transfer"},
        {"n_warm": 2},
    ),
    "evidence=1, temperature=0.25, target model on the transfer mean": (
        {"evidence": 1.0, "temperature": 0.25, "target_model": True, "target_mean": "transfer"},
        {"n_warm": 2},
    ),
    "default, n_warm=2": ({}, {"n_warm": 2}),
    "default, n_warm=5": ({}, {"n_warm": 5}),
    "default, n_warm=5, weighted agreement": ({"agreement": "weighted"}, {"n_warm": 5}),
    "default, n_warm=5, learned similarity": ({"similarity": "learned"}, {"n_warm": 5}),
}


def load_pool(name: str) -> benchmark.MetaDataset:
    """A pool meta-dataset: ``kb-<space>`` (shipped knowledge) or ``pimp`` (shared runs)."""
    if name.startswith("kb-"):
        return benchmark.from_knowledge(knowledge.load(), name[3:])
    if name == "pimp":
        runs = shared_dir() / PIMP_RUNS
        meta = benchmark.read_openml_runs(runs)
        cache = ROOT / "runs" / "openml_suite_pimp_v2" / "cache"
        return benchmark.resolve_openml_datasets(meta, cache_dir=cache, online=False)
    raise ValueError(f"pool must be 'kb-<space>' or 'pimp', got {name!r}")


def replay(session: object, problem: PoolProblem, n_warm: int, seed: int) -> np.ndarray:
    """Normalised regret after each of ``max(BUDGETS)`` trials of one replayed search."""
    problem.reset()
    rng = np.random.default_rng(seed)
    observed: list[dict] = []
    scores: list[float] = []
    warm = [c for c, _ in session.portfolio(n_warm)]  # type: ignore[attr-defined]
    for number in range(max(BUDGETS)):
        params = warm[number] if number < len(warm) else None
        if params is None:
            n_own = number - n_warm
            # MetaSampler's fade: the same deterministic draw decides the trial's role.
            if np.random.default_rng([seed, number]).uniform() >= n_own / (n_own + 100.0):
                proposal = session.propose(observed, scores)  # type: ignore[attr-defined]
                params = proposal[0] if proposal else None
        if params is None:  # the base sampler's trial: a random untried configuration
            untried = np.flatnonzero(~problem.used)  # type: ignore[operator]
            # A pool smaller than the budget repeats once it is used up, as in the benchmark.
            row = int(rng.choice(untried if len(untried) else len(problem.scores)))
            problem.used[row] = True  # type: ignore[index]
            score, params = float(problem.scores[row]), problem.params[row]
        else:
            score, _ = problem.evaluate(params)
        observed.append(params)
        scores.append(score)
    best = np.maximum.accumulate(scores)
    return (problem.best - best) / max(problem.best - problem.worst, 1e-12)


def run_pool(
    name: str, variants: list[str], seeds: int, out: Path, max_datasets: int | None = None
) -> None:
    """Replay every variant on every dataset of pool ``name`` (its first ``max_datasets``);
    append to ``runs.csv``."""
    path = out / "runs.csv"
    done = set()
    if path.is_file():
        old = pd.read_csv(path)
        done = set(zip(old["pool"], old["variant"], old["dataset"], old["seed"], strict=True))
    meta = load_pool(name)
    space = meta.space or meta.name
    for dataset in tqdm(list(meta.dataset_names)[:max_datasets], desc=name):
        todo = [(v, s) for v in variants for s in range(seeds)]
        todo = [(v, s) for v, s in todo if (name, v, dataset, s) not in done]
        if not todo:
            continue
        problem = PoolProblem.from_meta(meta, dataset)
        train = meta.without(meta.duplicates_of(dataset)).to_knowledge_base()
        features = meta.metafeatures.loc[dataset]  # type: ignore[union-attr]
        rows, models = [], {}
        for variant, seed in todo:
            model_options, sampler_options = VARIANTS[variant]
            key = json.dumps(model_options, sort_keys=True)
            if key not in models:
                models[key] = TransferEnsemble(**model_options).fit(train, space)
            session = models[key].session(
                features, space=space, task=meta.task, distributions=meta.distributions, seed=seed
            )
            regret = replay(session, problem, sampler_options["n_warm"], seed)
            rows.append(
                {"pool": name, "variant": variant, "dataset": dataset, "seed": seed}
                | {f"regret@{b}": float(regret[b - 1]) for b in BUDGETS}
                | {"mean_regret": float(regret.mean())}
            )
        frame = pd.DataFrame(rows)
        frame.to_csv(path, mode="a", header=not path.is_file(), index=False)


def choose(frame: pd.DataFrame, pools: list[str]) -> str:
    """The variant of least mean regret over trials 1-50, averaged over ``pools``."""
    selected = frame[frame["pool"].isin(pools)]
    per_pool = selected.groupby(["pool", "variant"])["mean_regret"].mean().unstack("pool")
    return str(per_pool.mean(axis=1).idxmin())


def paired_differences(frame: pd.DataFrame, chosen: str) -> list[str]:
    """Per other variant: the chosen one's mean regret minus it, on the runs both have.

    A difference within two standard errors (over the paired runs) is a tie: the rule's pick
    is then no better than the simpler setting.
    """
    runs = frame.pivot_table(
        index=["pool", "dataset", "seed"], columns="variant", values="mean_regret"
    )
    lines = []
    for variant in runs.columns:
        if variant == chosen:
            continue
        difference = (runs[chosen] - runs[variant]).dropna()
        if len(difference) < 2:
            continue
        error = float(difference.std() / np.sqrt(len(difference)))
        verdict = "a tie" if abs(difference.mean()) <= 2 * error else "a difference"
        lines.append(
            f"- against {variant}: {difference.mean():+.5f} (standard error {error:.5f}, "
            f"{len(difference)} paired runs): {verdict}"
        )
    return lines + ([""] if lines else [])


def report(frame: pd.DataFrame, out: Path, chosen: str | None) -> str:
    columns = [f"regret@{b}" for b in BUDGETS] + ["mean_regret"]
    table = frame.groupby(["pool", "variant"])[columns].mean()
    counts = frame.groupby("pool")["dataset"].nunique()
    lines = ["# Transfer settings, replayed leave-one-group-out", ""]
    if chosen is not None:
        lines += [
            f"Lowest on {', '.join(SELECTION_POOLS)} (mean regret over trials 1-50, "
            f"averaged over the pools): **{chosen}**. Where it ties with a simpler setting "
            "(below), the simpler one is kept.",
            "",
            *paired_differences(frame[frame["pool"].isin(SELECTION_POOLS)], chosen),
        ]
    for pool, block in table.groupby(level="pool"):
        lines += [
            f"## {pool} ({counts[pool]} datasets)",
            "",
            "| variant | " + " | ".join(columns) + " |",
            "|---|" + "---|" * len(columns),
        ]
        for (_, variant), values in block.iterrows():
            lines.append(f"| {variant} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
        lines.append("")
    text = "\n".join(lines)
    (out / "results.md").write_text(text)
    pools = sorted(frame["pool"].unique())
    fig, axes = plt.subplots(1, len(pools), figsize=(4 * len(pools), 3.2), squeeze=False)
    for ax, pool in zip(axes[0], pools, strict=True):
        for variant, values in table.loc[pool].iterrows():
            ax.plot(BUDGETS, values[columns[:-1]], marker="o", label=variant)
        ax.set_xscale("log")
        ax.set_title(pool)
        ax.set_xlabel("trials")
    axes[0][0].set_ylabel("mean normalised regret")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "regret.png", dpi=110)
    plt.close(fig)
    return text


def _check_pools(parser: argparse.ArgumentParser, pools: list[str]) -> None:
    """Refuse a pool that cannot be loaded before any replay starts (not after hours)."""
    spaces = knowledge.load().spaces
    accepted = [f"kb-{space}" for space in spaces] + ["pimp"]
    unknown = [pool for pool in pools if pool not in accepted]
    if unknown:
        parser.error(f"unknown --pools {unknown}; accepted: {', '.join(accepted)}")
    if "pimp" in pools and not (shared_dir() / PIMP_RUNS).is_file():
        parser.error(
            f"--pools pimp needs {shared_dir() / PIMP_RUNS} (METAOPT_SHARED); leave pimp out "
            "without the shared data"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--pools", nargs="+", default=list(SELECTION_POOLS), help="kb-<space> pools or pimp"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(VARIANTS),
        choices=list(VARIANTS),
        metavar="VARIANT",
        # The names hold commas and spaces: listed once here, each quoted, not in the usage.
        help="settings to replay, any of "
        + ", ".join(f"'{name}'" for name in VARIANTS)
        + " (default: all of them)",
    )
    parser.add_argument("--seeds", type=int, default=1, help="replays per dataset and variant")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (resumable)")
    parser.add_argument(
        "--max-datasets",
        type=int,
        default=None,
        help="replay only the first N datasets of each pool (default: all)",
    )
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report")
    args = parser.parse_args(argv)
    for flag, value in (("--seeds", args.seeds), ("--max-datasets", args.max_datasets)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    if args.report_only and not (args.out / "runs.csv").is_file():
        parser.error(f"--report-only: no {args.out / 'runs.csv'} to report on (run it first)")
    if not args.report_only:
        _check_pools(parser, args.pools)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if not args.report_only:
        for pool in args.pools:
            run_pool(pool, args.variants, args.seeds, args.out, args.max_datasets)
    frame = pd.read_csv(args.out / "runs.csv")
    have = [p for p in SELECTION_POOLS if p in set(frame["pool"])]
    print(report(frame, args.out, choose(frame, have) if have else None))
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
