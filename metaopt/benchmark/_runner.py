"""Running (dataset, method, seed) runs in a real Optuna study, locally or on Dask, resumably."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import joblib
import numpy as np
import optuna
import pandas as pd
from tqdm.auto import tqdm

from metaopt._extras import require
from metaopt.benchmark._methods import Method, MethodContext, resolve_methods
from metaopt.benchmark._problems import LiveProblem, PoolProblem, suggest_flat
from metaopt.benchmark._storage import TraceStore

logger = logging.getLogger("metaopt.benchmark")


@dataclass
class Unit:
    """All seeds of one method on one held-out dataset (seed-independent setup is shared).

    Attributes:
        problem: What a trial evaluates.
        method: Method name (resolved in the worker unless ``spec`` is given).
        seeds: Seeds still to run.
        budget: Trials per run.
        context: What the method may learn from (already leave-one-dataset-out).
        spec: The method itself, for methods that are not found by name (user-defined ones).
    """

    problem: PoolProblem | LiveProblem
    method: str
    seeds: list[int]
    budget: int
    context: MethodContext
    spec: Method | None = None


def run_study(
    problem: PoolProblem | LiveProblem,
    method: str | Method,
    context: MethodContext,
    seed: int,
    budget: int,
    store: TraceStore | None = None,
) -> pd.DataFrame:
    """Run one method with one seed for ``budget`` trials; return its per-trial trace.

    Pool runs use an in-memory study. Live runs use an Optuna SQLite study next to the traces, so
    a killed live run resumes from its last finished trial. ``method`` is a method name or a
    :class:`~metaopt.benchmark.Method`.
    """
    (resolved,) = resolve_methods([method])
    method = resolved.name
    prepare = context.prepare(resolved)
    began = time.perf_counter()
    plan = resolved.build(context, seed)
    setup = time.perf_counter() - began
    distributions = problem.distributions
    if problem.mode == "live" and store is not None:
        path = store.study_path(problem.meta_name, method, problem.dataset, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        study = optuna.create_study(
            storage=f"sqlite:///{path}",
            study_name="run",
            direction="maximize",
            sampler=plan.sampler,
            load_if_exists=True,
        )
        _close_interrupted(study)
    else:
        study = optuna.create_study(direction="maximize", sampler=plan.sampler)
    if isinstance(problem, PoolProblem):
        problem.reset()
    # Seconds spent in Optuna and the sampler (ask, suggest, tell) per trial number.
    overheads: dict[int, float] = {}
    finished = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("evaluated")]
    if not study.get_trials(deepcopy=False):
        for params in plan.warm_start:
            study.enqueue_trial(params, skip_if_exists=False)
    for _ in range(budget - len(finished)):
        start = time.perf_counter()
        trial = study.ask()
        params = suggest_flat(trial, distributions)
        asked = time.perf_counter()
        status, error = "ok", None
        try:
            score, config_id = problem.evaluate(params)
        except Exception as exc:  # noqa: BLE001 - a live configuration that fails is data
            if problem.mode != "live":
                raise
            score, config_id, status, error = float("nan"), -1, "failed", repr(exc)[:300]
            logger.warning(
                "%s %s trial %d failed: %s", problem.dataset, method, trial.number, error
            )
        if not np.isfinite(score):
            status = "failed"
        evaluated = time.perf_counter()
        for key, value in (
            ("evaluated", True),
            ("config_id", config_id),
            ("status", status),
            ("eval_s", evaluated - asked),
        ):
            trial.set_user_attr(key, value)
        if status == "ok":
            study.tell(trial, score)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        overheads[trial.number] = (asked - start) + (time.perf_counter() - evaluated)
    return _trace(study, problem, method, seed, overheads, setup, prepare)


def _close_interrupted(study: optuna.Study) -> None:
    """Mark trials left running by a killed process as failed; they are not counted."""
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def _trace(
    study: optuna.Study,
    problem: PoolProblem | LiveProblem,
    method: str,
    seed: int,
    overheads: dict[int, float],
    setup: float,
    prepare: float,
) -> pd.DataFrame:
    trials = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("evaluated")]
    rows = []
    for index, t in enumerate(trials, start=1):
        rows.append(
            {
                "benchmark": problem.meta_name,
                "dataset": problem.dataset,
                "method": method,
                "seed": seed,
                "trial": index,
                "score": float(t.value) if t.value is not None else float("nan"),
                "config_id": int(t.user_attrs.get("config_id", -1)),
                "status": str(t.user_attrs.get("status", "ok")),
                "overhead_s": float(overheads.get(t.number, float("nan"))),
                "setup_s": setup,
                "prepare_s": prepare,
                "eval_s": float(t.user_attrs.get("eval_s", float("nan"))),
                "params": json.dumps(t.params, default=str),
            }
        )
    return pd.DataFrame(rows)


def run_unit(unit: Unit, store: TraceStore) -> list[str]:
    """Run and store every pending seed of a unit; return the stored file names."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # CmaEsSampler(source_trials=...) is experimental in Optuna; saying so once per run is noise.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    stored = []
    benchmark, dataset = unit.problem.meta_name, unit.problem.dataset
    for seed in unit.seeds:
        if store.done(benchmark, unit.method, dataset, seed):
            continue
        try:
            # A unit is one worker's work: joblib calls inside it (a live trial's pipeline)
            # run in its own thread, not on the benchmark's backend (on a Dask worker they
            # would go back to the cluster, which older Dask releases cancel).
            with joblib.parallel_config(backend="sequential"):
                trace = run_study(
                    unit.problem, unit.spec or unit.method, unit.context, seed, unit.budget, store
                )
        except Exception:  # noqa: BLE001 - one method's crash must not stop the others' runs
            # Recorded, logged and reported by the summary; retried on the next run.
            text = traceback.format_exc()
            store.record_failure(benchmark, unit.method, dataset, text)
            logger.error("%s failed on %s (seed %d):\n%s", unit.method, dataset, seed, text)
            break
        stored.append(str(store.write(trace)))
        # The trace is the run's record; the study only served resuming it. Left behind, it
        # would bring this run back unchanged after its trace is deleted to rerun the method.
        store.study_path(benchmark, unit.method, dataset, seed).unlink(missing_ok=True)
        store.clear_failure(benchmark, unit.method, dataset)
    return stored


def execute(
    units: Iterable[Unit],
    n_units: int,
    store: TraceStore,
    *,
    n_jobs: int = 1,
    dask_scheduler: str | None = None,
    progress: bool = True,
    desc: str = "runs",
) -> int:
    """Run units with joblib (processes) or on a Dask cluster, with a progress bar.

    Args:
        units: The work, produced lazily.
        n_units: How many units ``units`` yields (for the progress bar's ETA).
        store: Where traces go.
        n_jobs: Local worker processes (``1``: in this process). Ignored with Dask.
        dask_scheduler: Address of a Dask scheduler (``tcp://host:8786``) or a
            ``distributed.Client`` / ``LocalCluster``; the same units run there.
        progress: Show the progress bar.
        desc: Progress bar label.

    Returns:
        Number of runs stored.
    """
    from joblib import Parallel, delayed, parallel_config

    stored = 0
    with _backend(n_jobs, dask_scheduler) as (backend, jobs):
        with parallel_config(backend=backend, n_jobs=jobs, **_inner_threads(backend)):
            results: Iterator[list[str]] = Parallel(return_as="generator_unordered")(
                delayed(run_unit)(unit, store) for unit in units
            )
            for files in tqdm(results, total=n_units, desc=desc, disable=not progress):
                stored += len(files)
    return stored


@contextlib.contextmanager
def _backend(n_jobs: int, dask_scheduler: object) -> Iterator[tuple[str, int]]:
    if dask_scheduler is None:
        yield ("sequential" if n_jobs == 1 else "loky"), n_jobs
        return
    Client = require("distributed", "running a benchmark on Dask").Client  # noqa: N806

    if isinstance(dask_scheduler, Client):
        yield "dask", -1
        return
    address = getattr(dask_scheduler, "scheduler_address", dask_scheduler)
    with Client(address) as client:
        logger.info("running on the Dask cluster at %s", client.scheduler.address)
        yield "dask", -1


def _inner_threads(backend: str) -> dict[str, int]:
    # Each worker process uses one BLAS/OpenMP thread: the processes are the parallelism.
    return {"inner_max_num_threads": 1} if backend == "loky" else {}
