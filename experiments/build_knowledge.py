"""Build the knowledge base shipped in metaopt/knowledge/data/ from the shared real datasets.

Resumable: rerun the same command after an interruption and it continues. With
``--n-jobs`` it uses local processes; with ``--dask-scheduler tcp://...`` the same units run on a
Dask cluster. Datasets run cheapest first (estimated from each folder's ``index.csv``), so a
time-boxed build (``--budget-min``) finishes as many whole datasets as it can. Only datasets
with every space and their metafeatures are written to ``--output``.

Example (the shipped build, see docs/knowledge.md):
    nice -n 5 python experiments/build_knowledge.py --n-jobs 2
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import metaopt.knowledge as knowledge  # noqa: E402
from metaopt._settings import shared_dir  # noqa: E402
from metaopt.datasets import suite  # noqa: E402
from metaopt.knowledge._builder import _Layout  # noqa: E402

DEFAULT_SPACES = [
    "hist_gradient_boosting",
    "random_forest",
    "svm",
    "logistic_regression",
    "knn",
]
RESULTS = Path("experiments/results/build_knowledge")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared = shared_dir() / "datasets"
    parser.add_argument(
        "--folders",
        nargs="+",
        default=[str(shared / "openml"), str(shared / "pmlb")],
        help="folders of data files, deduplicated by content (first folder wins)",
    )
    parser.add_argument(
        "--task", default="classification", choices=["classification", "regression"]
    )
    parser.add_argument("--spaces", nargs="+", default=DEFAULT_SPACES)
    parser.add_argument("--n-configs", type=int, default=64, help="default + Sobol configurations")
    parser.add_argument("--max-rows", type=int, default=1000, help="row cap (stratified sample)")
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per configuration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-datasets", type=int, default=None, help="cheapest N datasets only")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--dask-scheduler", default=None, help="address of a Dask scheduler")
    parser.add_argument("--budget-min", type=float, default=None, help="stop dispatching after")
    parser.add_argument(
        "--work-dir",
        default=str(Path.home() / ".cache" / "metaopt" / "knowledge-build"),
        help="resumable parts live here",
    )
    parser.add_argument("--output", default="metaopt/knowledge/data")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument(
        "--consolidate-only", action="store_true", help="only gather finished parts into --output"
    )
    parser.add_argument(
        "--refresh-metafeatures",
        action="store_true",
        help="recompute every dataset's metafeatures (e.g. after the extractor changed)",
    )
    parser.add_argument("--note", default=None, help="free text stored in the provenance")
    return parser.parse_args(argv)


def estimated_cost(folder: Path, max_rows: int) -> dict[str, float]:
    """Rough relative cost per file of a folder from its index.csv (rows x features x classes)."""
    index = folder / "index.csv"
    if not index.is_file():
        return {}
    table = pd.read_csv(index)
    classes = table.get("n_classes", table.get("n_target_values", pd.Series(2, index=table.index)))
    rows = table["rows"].clip(upper=max_rows)
    cost = rows * (table["features"] + 5) * classes.fillna(2).clip(lower=2, upper=10) ** 0.5
    return {str(folder / f): float(c) for f, c in zip(table["file"], cost, strict=True)}


def select_entries(args: argparse.Namespace) -> list:
    entries = list(suite([Path(f) for f in args.folders], task=args.task))
    costs: dict[str, float] = {}
    for folder in args.folders:
        costs.update(estimated_cost(Path(folder), args.max_rows))
    entries.sort(key=lambda e: (costs.get(e.source, float("inf")), e.source))
    return entries[: args.max_datasets] if args.max_datasets else entries


def complete_only(kb: knowledge.KnowledgeBase, spaces: list[str]) -> knowledge.KnowledgeBase:
    """The datasets with every space evaluated and metafeatures present."""
    have = kb.evaluations.groupby("dataset")["space"].agg(set)
    complete = [d for d, s in have.items() if set(spaces) <= s and d in kb.metafeatures.index]
    subset = kb.subset(complete)
    rows = subset.evaluations
    subset.evaluations = rows[rows["space"].isin(spaces)].reset_index(drop=True)
    subset.provenance = {
        **kb.provenance,
        "datasets": {d: kb.provenance["datasets"][d] for d in complete},
        "n_datasets": len(complete),
        "n_evaluations": int(len(subset.evaluations)),
        "evaluations_per_space": subset.evaluations.groupby("space").size().to_dict(),
    }
    return subset


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a markdown table (floats with 3 decimals), without extra dependencies."""
    header = [table.index.name or "", *table.columns]
    rows = [
        [str(i), *(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row)]
        for i, row in zip(table.index, table.itertuples(index=False), strict=True)
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def report(kb: knowledge.KnowledgeBase, results: Path, wall_s: float, command: str) -> None:
    """Coverage table (markdown) and the spread of scores per space (PNG)."""
    results.mkdir(parents=True, exist_ok=True)
    ev = kb.evaluations
    table = ev.groupby("space").agg(
        datasets=("dataset", "nunique"),
        configs_per_dataset=("config_id", lambda c: int(c.max()) + 1),
        evaluations=("score", "size"),
        ok=("status", lambda s: int((s == "ok").sum())),
        failed=("status", lambda s: int((s == "failed").sum())),
        timeout=("status", lambda s: int((s == "timeout").sum())),
        median_score=("score", "median"),
        fit_time_s=("fit_time", "sum"),
    )
    lines = [
        "# Knowledge base build",
        "",
        f"command: `{command}`",
        "",
        f"datasets: {len(kb.datasets)}, spaces: {len(kb.spaces)}, evaluations: {len(ev)}, "
        f"wall time of this run: {wall_s / 60:.1f} min, of the finished build runs: "
        f"{kb.provenance.get('total_wall_time_s', wall_s) / 60:.1f} min",
        "",
        f"note: {kb.provenance.get('note') or '-'}",
        "",
        markdown_table(table),
        "",
    ]
    (results / "summary.md").write_text("\n".join(lines))
    fig, ax = plt.subplots(figsize=(8, 4))
    ok = ev[ev["status"] == "ok"]
    # Per dataset: score of each config minus the dataset's best, i.e. how much tuning matters.
    regret = ok["score"] - ok.groupby(["dataset", "space"])["score"].transform("max")
    names = sorted(ok["space"].unique())
    ax.boxplot([-regret[ok["space"] == s] for s in names], showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
    ax.set_ylabel("best score - config score (per dataset)")
    ax.set_title(f"Spread of configurations on {len(kb.datasets)} datasets")
    fig.tight_layout()
    fig.savefig(results / "config_spread.png", dpi=120)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    work_dir = Path(args.work_dir)
    start = time.perf_counter()
    if args.refresh_metafeatures:
        for part in (work_dir / "parts" / "metafeatures").glob("*.parquet"):
            part.unlink()
    if not args.consolidate_only:
        entries = select_entries(args)
        if args.refresh_metafeatures:  # only the datasets whose evaluations are finished
            layout = _Layout(work_dir)
            entries = [
                e
                for e in entries
                if all(
                    layout.evaluation_part(knowledge.dataset_id(e), s).is_file()
                    for s in args.spaces
                )
            ]
        logging.info("%d datasets selected", len(entries))
        options = dict(
            n_configs=args.n_configs,
            work_dir=work_dir,
            cv=args.cv,
            max_rows=args.max_rows,
            seed=args.seed,
            timeout=args.timeout,
            budget_s=None if args.budget_min is None else args.budget_min * 60,
            command=command,
        )
        if args.dask_scheduler:
            import joblib
            from distributed import Client

            with Client(args.dask_scheduler), joblib.parallel_backend("dask"):
                knowledge.build(entries, args.spaces, **options)
        else:
            knowledge.build(entries, args.spaces, n_jobs=args.n_jobs, **options)
    wall = time.perf_counter() - start
    runs_file = work_dir / "runs.json"
    runs = json.loads(runs_file.read_text()) if runs_file.is_file() else []
    if not args.consolidate_only:
        runs.append({"command": command, "wall_time_s": round(wall, 1), "ended": time.time()})
        runs_file.write_text(json.dumps(runs, indent=2))
    build_command = runs[-1]["command"] if args.consolidate_only and runs else command
    kb = knowledge.consolidate(work_dir, command=build_command)
    kb.provenance["consolidated_with"] = command
    kb.provenance["runs"] = runs
    kb.provenance["total_wall_time_s"] = round(sum(r["wall_time_s"] for r in runs), 1)
    if args.note:
        kb.provenance["note"] = args.note
    kb = complete_only(kb, args.spaces)
    kb.validate().save(args.output)
    report(kb, Path(args.results), wall, command)
    logging.info("saved %r to %s", kb, args.output)


if __name__ == "__main__":
    main()
