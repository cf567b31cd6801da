"""Benchmark hyperparameter optimizers on datasets they have never seen (leave-one-dataset-out).

With no arguments this runs the README's main job in about 10 minutes on 2 cores, offline when
OpenML is unreachable: pool mode on the shipped knowledge base (space hist_gradient_boosting,
20 evaluated datasets, all methods, 5 seeds, 50 trials) plus a small live run (random_forest on
2 OpenML-CC18 datasets), then writes the summary (markdown, CSV, PNG) into --out and copies it
to --results-dir.

Modes:
  pool  Each trial returns a recorded score: the evaluated configuration nearest to what the
        sampler asks for, within the held-out dataset's pool. Sources: the shipped knowledge
        base (--knowledge-base), an OpenML run export in ARFF (--openml-runs, e.g. the
        openml-pimp random-forest runs: --pimp), or a long-format table (--meta-dataset FILE
        with a `dataset` column, one column per parameter and a `score` column, higher is
        better; plus --metafeatures FILE indexed by `dataset`, or --datasets-dir DIR of data
        files named after the datasets, from which metafeatures are computed).
  live  Each trial cross-validates the real model of a metaopt space on a dataset of --suite.
        Without network the suite's datasets come from the local mirror (and the report says
        so); datasets that cannot be found are skipped and counted.

Methods (--methods): random, tpe, cmaes, ws-cmaes, nearest+tpe, portfolio+tpe and
metasampler-<model> for each meta-model of metaopt.MetaSampler. Metrics at budgets
1, 2, 5, 10, 25, 50, 100: normalised regret within the pool (HPO-B), mean rank, trials to reach
TPE's 50-trial regret, per-trial optimizer overhead.

Every finished (dataset, method, seed) run is stored under --out and skipped on rerun, so an
interrupted benchmark resumes where it stopped; --summary-only rebuilds the report from them.

Examples:
  python experiments/openml_suite.py                        # the default (offline, ~10 min)
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
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

logger = logging.getLogger("metaopt.benchmark")

DEFAULT_SPACES = ("hist_gradient_boosting",)
DEFAULT_OUT = REPO / "runs" / "openml_suite"
DEFAULT_RESULTS = REPO / "experiments" / "results" / "openml_suite"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openml_suite.py",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pool = parser.add_argument_group("pool mode (recorded evaluations)")
    pool.add_argument(
        "--knowledge-base",
        nargs="?",
        const="shipped",
        default="shipped",
        metavar="DIR",
        help="pool mode on the shipped knowledge base (default), or on the knowledge base in "
        "DIR (a folder written by KnowledgeBase.save)",
    )
    pool.add_argument(
        "--no-knowledge-base",
        dest="knowledge_base",
        action="store_const",
        const=None,
        help="skip the knowledge-base pool benchmark",
    )
    pool.add_argument(
        "--spaces",
        nargs="+",
        default=list(DEFAULT_SPACES),
        metavar="SPACE",
        help="knowledge-base spaces to benchmark, one pool benchmark each; 'all' for every "
        f"space in it (default: {' '.join(DEFAULT_SPACES)})",
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
        help="add the openml-pimp random-forest runs: $METAOPT_SHARED/metadata/"
        "openml-pimp-random-forest.arff (85 OpenML100 tasks x 500 configurations)",
    )
    pool.add_argument(
        "--measure", default=None, help="measure column of --openml-runs (default: first)"
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
        "--pool-seeds", type=int, default=None, help="seeds for pool mode (default --seeds)"
    )
    live = parser.add_argument_group("live mode (real cross-validation)")
    live.add_argument(
        "--live", dest="live", action="store_true", default=True, help="run live mode (default)"
    )
    live.add_argument("--no-live", dest="live", action="store_false", help="skip live mode")
    live.add_argument(
        "--suite",
        default="OpenML-CC18",
        help="suite name (OpenML-CC18, or an OpenML suite id with network) or a local folder "
        "of data files (default: OpenML-CC18)",
    )
    live.add_argument(
        "--live-space",
        default="random_forest",
        help="space of the live run (default random_forest)",
    )
    live.add_argument(
        "--live-datasets",
        type=int,
        default=2,
        help="number of suite datasets, the first ones that load (default 2)",
    )
    live.add_argument("--live-seeds", type=int, default=2, help="seeds in live mode (default 2)")
    live.add_argument(
        "--live-budget", type=int, default=12, help="trials per live run (default 12)"
    )
    live.add_argument(
        "--live-n-warm",
        type=int,
        default=5,
        help="warm-start configurations in live mode (default 5)",
    )
    live.add_argument(
        "--live-methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help="methods in live mode (default: tpe, nearest+tpe and every metasampler; random "
        "equals TPE's first 10 trials)",
    )
    live.add_argument("--cv", type=int, default=3, help="CV folds per live trial (default 3)")
    live.add_argument(
        "--max-rows",
        type=int,
        default=1000,
        help="subsample live datasets to this many rows (default 1000; 0 = all)",
    )
    live.add_argument(
        "--offline",
        action="store_true",
        help="never contact OpenML (default: use it when reachable, else the local mirror)",
    )
    common = parser.add_argument_group("common")
    common.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help="methods in pool mode (default: all available)",
    )
    common.add_argument("--seeds", type=int, default=5, help="seeds per method (default 5)")
    common.add_argument("--budget", type=int, default=50, help="trials per pool run (default 50)")
    common.add_argument(
        "--n-warm", type=int, default=10, help="warm-start configurations (default 10)"
    )
    common.add_argument(
        "--max-datasets",
        type=int,
        default=20,
        help="evaluate at most this many datasets per pool benchmark, spread evenly over the "
        "sorted dataset ids; learning methods still learn from all the others (default 20; "
        "0 = all)",
    )
    common.add_argument("--n-jobs", type=int, default=2, help="local worker processes (default 2)")
    common.add_argument(
        "--dask-scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786) instead of locally",
    )
    common.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="folder of traces, caches and the full summary (default "
        f"{DEFAULT_OUT.relative_to(REPO)})",
    )
    common.add_argument(
        "--results-dir",
        type=Path,
        default=DEFAULT_RESULTS,
        help="where summary.md, summary.csv and the PNGs are copied (default "
        f"{DEFAULT_RESULTS.relative_to(REPO)}); '' to skip",
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from metaopt import benchmark

    started = time.perf_counter()
    progress = not args.no_progress
    online = False if args.offline else None
    if not args.summary_only:
        scheduler = args.dask_scheduler
        pool_seeds = args.pool_seeds or args.seeds
        for meta in _pool_sources(args, online, progress):
            benchmark.run_pool_benchmark(
                meta,
                args.out,
                methods=args.methods,
                seeds=pool_seeds,
                budget=args.budget,
                n_warm=args.n_warm,
                datasets=_spread(meta.dataset_names, args.max_datasets),
                n_jobs=args.n_jobs,
                dask_scheduler=scheduler,
                progress=progress,
                fresh=args.fresh,
            )
        if args.live:
            _run_live(args, online, progress)
    shown = " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
    tables = benchmark.summarise(
        args.out, command=f"python experiments/openml_suite.py {shown}".strip()
    )
    if str(args.results_dir):
        args.results_dir.mkdir(parents=True, exist_ok=True)
        for path in [args.out / "summary.md", args.out / "summary.csv", *args.out.glob("*.png")]:
            shutil.copy2(path, args.results_dir / path.name)
    summary = tables["summary"]
    print((args.out / "summary.md").read_text(encoding="utf-8"))
    print(
        f"{len(summary)} summary rows; finished in {time.perf_counter() - started:.0f} s; "
        f"traces in {args.out}"
    )
    return 0


def _spread(names: list[str], n: int) -> list[str]:
    """``n`` of ``names`` evenly spaced over their sorted order (all when ``n`` is 0)."""
    ordered = sorted(names)
    if n <= 0 or n >= len(ordered):
        return ordered
    step = len(ordered) / n
    return [ordered[int(i * step)] for i in range(n)]


def _pool_sources(args: argparse.Namespace, online: bool | None, progress: bool):
    """The pool-mode meta-datasets, in order (each resolved lazily)."""
    from metaopt import benchmark
    from metaopt._settings import shared_dir

    cache = args.out / "cache"
    if args.knowledge_base is not None:
        from metaopt import knowledge

        kb = knowledge.load(None if args.knowledge_base == "shipped" else args.knowledge_base)
        spaces = kb.spaces if args.spaces == ["all"] else args.spaces
        for space in spaces:
            yield benchmark.from_knowledge(kb, space)
    runs = list(args.openml_runs)
    if args.pimp:
        runs.append(shared_dir() / "metadata" / "openml-pimp-random-forest.arff")
    for path in runs:
        meta = benchmark.read_openml_runs(path, measure=args.measure)
        yield benchmark.resolve_openml_datasets(
            meta, cache_dir=cache, online=online, progress=progress
        )
    if args.meta_dataset is not None:
        meta = benchmark.read_long_format(args.meta_dataset, metafeatures=args.metafeatures)
        if args.metafeatures is None:
            if args.datasets_dir is None:
                raise SystemExit(
                    "--meta-dataset needs --metafeatures FILE or --datasets-dir DIR to describe "
                    "its datasets"
                )
            from metaopt.benchmark._resolve import folder_loader, resolve_datasets

            meta = resolve_datasets(
                meta, folder_loader(args.datasets_dir), cache_dir=cache, progress=progress
            )
        yield meta


def _run_live(args: argparse.Namespace, online: bool | None, progress: bool) -> None:
    from metaopt import benchmark
    from metaopt.benchmark._resolve import live_datasets

    datasets, skipped, note = live_datasets(args.suite, args.live_datasets, online=online)
    if not datasets:
        raise SystemExit(f"live mode: no dataset of {args.suite} could be loaded: {skipped}")
    knowledge_meta = None
    methods = args.live_methods
    available = benchmark.available_methods()
    if methods is None:
        methods = ["tpe", "nearest+tpe"] + sorted(
            m for m in available if m.startswith("metasampler")
        )
    if any(available[m].learns for m in methods if m in available):
        from metaopt import knowledge

        kb = knowledge.load(
            None if args.knowledge_base in (None, "shipped") else args.knowledge_base
        )
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
