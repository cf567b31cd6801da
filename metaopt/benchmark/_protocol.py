"""The leave-one-dataset-out protocol in pool mode and live mode."""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from metaopt.benchmark._metadataset import MetaDataset
from metaopt.benchmark._methods import (
    Method,
    MethodContext,
    available_methods,
    resolve_methods,
)
from metaopt.benchmark._problems import LiveProblem, PoolProblem
from metaopt.benchmark._report import read_benchmark_infos, write_benchmark_info
from metaopt.benchmark._resolve import MetafeatureFn, default_metafeatures
from metaopt.benchmark._runner import Unit, execute
from metaopt.benchmark._storage import TraceStore, slug
from metaopt.exceptions import warn_fallback

logger = logging.getLogger("metaopt.benchmark")


def _seeds(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1; got {seeds}.")
        return list(range(seeds))
    return [int(s) for s in seeds]


#: Version of the run semantics; stored runs of another version are never reused.
#: 2: pool mode reveals the nearest *untried* configuration (no repeats within a run).
PROTOCOL = 2


def meta_hash(meta: MetaDataset | None) -> str | None:
    """Content hash of a meta-dataset's evaluations, dataset facts and metafeatures."""
    if meta is None:
        return None
    digest = hashlib.sha1()
    columns = ["dataset", "config_id", "score", *meta.param_names]
    if "n_rows" in meta.evaluations.columns:  # the size a pool's dataset is queried at
        columns.append("n_rows")
    digest.update(pd.util.hash_pandas_object(meta.evaluations[columns], index=False).to_numpy())
    digest.update(str(sorted(meta.datasets["fingerprint"].astype(str))).encode())
    if meta.metafeatures is not None:
        digest.update(pd.util.hash_pandas_object(meta.metafeatures.fillna(-1e300)).to_numpy())
    return digest.hexdigest()[:16]


def distributions_hash(distributions: dict[str, object]) -> str:
    """Hash of a flat search space (names, types, ranges, log scales, choices)."""
    text = repr(sorted((name, repr(d)) for name, d in distributions.items()))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _claim(store: TraceStore, name: str, key: dict[str, object], fresh: bool) -> None:
    """Make sure stored runs of benchmark ``name`` were made with the same data and settings.

    Stored runs are reused only for an identical key (meta-dataset content, budget, ...). On a
    mismatch ``fresh=True`` deletes them; otherwise a ValueError says what to do.
    """
    info = read_benchmark_infos(store.root).get(name)
    stored = info.get("key") if info is not None else None
    if isinstance(stored, dict) and "distributions" not in stored:
        # Runs stored before the search space was part of the key: compare the rest.
        key = {k: v for k, v in key.items() if k != "distributions"}
    if info is None or stored == key:
        return
    if not fresh:
        raise ValueError(
            f"{store.root} holds runs of {name!r} made with other data or settings "
            f"(stored {info.get('key')}, now {key}); pass fresh=True (--fresh) to discard them, "
            "or use another output folder."
        )
    logger.warning("discarding the stored runs of %s: its data or settings changed", name)
    for folder in ("traces", "studies"):
        shutil.rmtree(store.root / folder / slug(name), ignore_errors=True)


def _check_budget(budget: int) -> None:
    if budget < 1:
        raise ValueError(f"budget (trials per run) must be at least 1; got {budget}.")


def run_pool_benchmark(
    meta: MetaDataset,
    out_dir: str | Path,
    *,
    methods: Sequence[str | Method] | None = None,
    seeds: int | Sequence[int] = 5,
    budget: int = 50,
    n_warm: int = 10,
    datasets: Sequence[str] | None = None,
    n_jobs: int = 1,
    dask_scheduler: object | None = None,
    progress: bool = True,
    fresh: bool = False,
) -> int:
    """Benchmark methods in pool mode, leave-one-dataset-out, storing every run's trace.

    For each evaluated dataset the learning methods see ``meta`` without that dataset and
    without every duplicate of it (same content fingerprint or same OpenML dataset id). Each trial
    scores the recorded configuration nearest to what the sampler asks for. Runs already stored
    under ``out_dir`` are skipped.

    Args:
        meta: The meta-dataset (with metafeatures when learning methods run).
        out_dir: Benchmark folder (traces, settings, summary).
        methods: Method names or :class:`Method` objects (your own sampler:
            ``Method.from_sampler("mine", lambda seed: MySampler(seed=seed))``); default every
            available method.
        seeds: Number of seeds (``0..n-1``) or explicit seeds.
        budget: Trials per run.
        n_warm: Warm-start configurations of warm-starting methods.
        datasets: Evaluate only these datasets (default all of ``meta``).
        n_jobs: Local worker processes.
        dask_scheduler: Dask scheduler address or client (overrides ``n_jobs``).
        progress: Show a progress bar.
        fresh: Discard stored runs of this benchmark made with other data or settings (without
            it, such runs make this call raise ValueError instead of being mixed in).

    Returns:
        Number of runs stored by this call.

    Example:
        >>> run_pool_benchmark(meta, "runs/pimp", methods=["random", "tpe"], seeds=2)
        ... # doctest: +SKIP
    """
    _check_budget(budget)
    seed_list = _seeds(seeds)
    chosen = resolve_methods(methods)
    if any(m.learns for m in chosen) and meta.metafeatures is None:
        raise ValueError(
            f"methods {[m.name for m in chosen if m.learns]} learn from other datasets but "
            f"meta-dataset {meta.name!r} has no metafeatures; resolve them first."
        )
    names = list(datasets) if datasets is not None else meta.dataset_names
    unknown = [d for d in names if d not in meta.datasets.index]
    if unknown:
        raise ValueError(f"datasets {unknown} are not in meta-dataset {meta.name!r}.")
    store = TraceStore(out_dir)
    bounds = {
        d: [float(g["score"].max()), float(g["score"].min())]
        for d, g in meta.evaluations.groupby("dataset")
    }
    names, skipped = _without_flat_pools(meta, names, bounds, budget)
    key = {
        "meta": meta_hash(meta),
        "distributions": distributions_hash(meta.distributions),
        "budget": budget,
        "n_warm": n_warm,
        "protocol": PROTOCOL,
    }
    _claim(store, meta.name, key, fresh)
    write_benchmark_info(
        out_dir,
        {
            "name": meta.name,
            "key": key,
            "mode": "pool",
            "space": meta.space,
            "datasets": names,
            "skipped": skipped,
            "dropped_rows": meta.dropped_rows,
            "bounds": bounds,
            "methods": [m.name for m in chosen],
            "seeds": seed_list,
            "budget": budget,
            "n_warm": n_warm,
        },
    )
    pending = _pending(store, meta.name, names, chosen, seed_list)

    def units() -> Iterator[Unit]:
        for dataset in names:
            todo = [(m, s) for (d, m, s) in pending if d == dataset]
            if not todo:
                continue
            problem = PoolProblem.from_meta(meta, dataset)
            train = meta.without(meta.duplicates_of(dataset))
            for method in chosen:
                method_seeds = [s for (m, s) in todo if m == method.name]
                if not method_seeds:
                    continue
                context = MethodContext(
                    meta=train if method.learns else None,
                    metafeatures=(
                        meta.query_metafeatures(dataset)
                        if method.learns and meta.metafeatures is not None
                        else None
                    ),
                    space=meta.space,
                    distributions=meta.distributions,
                    n_warm=n_warm,
                    dataset=dataset,
                )
                yield Unit(problem, method.name, method_seeds, budget, context, _custom(method))

    n_units = len({(d, m) for (d, m, _) in pending})
    return execute(
        units(),
        n_units,
        store,
        n_jobs=n_jobs,
        dask_scheduler=dask_scheduler,
        progress=progress,
        desc=f"{meta.name} (pool)",
    )


def _without_flat_pools(
    meta: MetaDataset, names: list[str], bounds: dict[str, list[float]], budget: int
) -> tuple[list[str], dict[str, str]]:
    """The datasets to evaluate without those whose pool cannot rank methods, and all skips.

    A pool with one configuration, or whose scores are all equal, gives every method regret 0
    from its first trial: evaluating it would pull every method's mean regret towards 0 alike.
    Such datasets are skipped with the reason (they stay available to learn from). Pools
    smaller than ``budget`` are kept, with a warning: once a run has tried all of them, every
    method has found the best.
    """
    sizes = meta.evaluations.groupby("dataset").size()
    skipped = dict(meta.skipped)
    kept, flat = [], []
    for dataset in names:
        best, worst = bounds[dataset]
        if best > worst:
            kept.append(dataset)
            continue
        flat.append(dataset)
        skipped[dataset] = (
            "a single configuration"
            if sizes[dataset] == 1
            else "every configuration has the same score"
        )
    if flat:
        warn_fallback(
            logger,
            f"{meta.name}: {len(flat)} of {len(names)} datasets are skipped because their pool "
            "has a single configuration or only equal scores, so every method would have "
            f"regret 0 there: {flat[:5]}{' ...' if len(flat) > 5 else ''}.",
        )
    if not kept:
        raise ValueError(
            f"no dataset of {meta.name!r} can be evaluated: each pool has a single "
            "configuration or only equal scores; a pool needs two or more different scores."
        )
    small = [d for d in kept if sizes[d] < budget]
    if small:
        logger.warning(
            "%s: %d of %d pools have fewer configurations than the budget of %d trials "
            "(smallest: %d); after trying a whole pool every method has found its best, so "
            "late budgets cannot separate methods there",
            meta.name,
            len(small),
            len(kept),
            budget,
            int(sizes[small].min()),
        )
    return kept, skipped


def run_live_benchmark(
    datasets: Sequence[object],
    space: str,
    out_dir: str | Path,
    *,
    knowledge: MetaDataset | None = None,
    methods: Sequence[str | Method] | None = None,
    seeds: int | Sequence[int] = 3,
    budget: int = 20,
    n_warm: int = 10,
    cv: int = 3,
    max_rows: int | None = 2000,
    n_jobs: int = 1,
    dask_scheduler: object | None = None,
    metafeature_fn: MetafeatureFn | None = None,
    name: str | None = None,
    note: str | None = None,
    skipped: dict[str, str] | None = None,
    progress: bool = True,
    fresh: bool = False,
) -> int:
    """Benchmark methods in live mode: every trial cross-validates the real model.

    Learning methods learn from ``knowledge`` (a meta-dataset of the same space, usually the
    shipped knowledge base) without any dataset that duplicates the evaluated one (same
    fingerprint or OpenML dataset id).

    Args:
        datasets: :class:`metaopt.Dataset` objects; the id of each is its ``source``.
        space: Registered space name (:func:`metaopt.spaces.names`).
        out_dir: Benchmark folder.
        knowledge: What learning methods learn from.
        methods: Method names or :class:`Method` objects (default all available; learning ones
            need ``knowledge``).
        seeds: Number of seeds or explicit seeds.
        budget: Trials per run.
        n_warm: Warm-start configurations of warm-starting methods.
        cv: Cross-validation folds per trial.
        max_rows: Subsample larger datasets to this many rows.
        n_jobs: Local worker processes.
        dask_scheduler: Dask scheduler address or client.
        metafeature_fn: ``Dataset -> pd.Series`` (default metaopt's extractor).
        name: Benchmark name (default ``"live-<space>"``).
        note: A sentence for the report (e.g. that data came from the offline mirror).
        skipped: Datasets dropped before the run, with reasons (reported).
        progress: Show a progress bar.
        fresh: Discard stored runs of this benchmark made with other data or settings.

    Returns:
        Number of runs stored by this call.
    """
    _check_budget(budget)
    seed_list = _seeds(seeds)
    chosen = resolve_methods(methods)
    learning = [m.name for m in chosen if m.learns]
    if learning and (knowledge is None or knowledge.metafeatures is None):
        raise ValueError(f"methods {learning} need knowledge= with metafeatures.")
    name = name or f"live-{space}"
    store = TraceStore(out_dir)
    ids = [str(d.source) for d in datasets]
    key = {
        "data": sorted(str(getattr(d, "fingerprint", "")) for d in datasets),
        "knowledge": meta_hash(knowledge),
        "budget": budget,
        "n_warm": n_warm,
        "cv": cv,
        "max_rows": max_rows,
        "protocol": PROTOCOL,
    }
    _claim(store, name, key, fresh)
    write_benchmark_info(
        out_dir,
        {
            "name": name,
            "key": key,
            "mode": "live",
            "space": space,
            "datasets": ids,
            "skipped": skipped or {},
            "bounds": {},
            "methods": [m.name for m in chosen],
            "seeds": seed_list,
            "budget": budget,
            "cv": cv,
            "max_rows": max_rows,
            "note": note,
        },
    )
    pending = _pending(store, name, ids, chosen, seed_list)
    extract: Callable[[object], pd.Series] = metafeature_fn or default_metafeatures

    def units() -> Iterator[Unit]:
        for data, dataset in zip(datasets, ids, strict=True):
            todo = [(m, s) for (d, m, s) in pending if d == dataset]
            if not todo:
                continue
            problem = LiveProblem(name, dataset, space, data, cv=cv, max_rows=max_rows)
            train, features = None, None
            if learning and knowledge is not None:
                train = knowledge.without(_duplicates_in(knowledge, data))
                features = extract(data)
            for method in chosen:
                method_seeds = [s for (m, s) in todo if m == method.name]
                if not method_seeds:
                    continue
                context = MethodContext(
                    meta=train if method.learns else None,
                    metafeatures=features if method.learns else None,
                    space=space,
                    distributions=problem.distributions,
                    n_warm=n_warm,
                    dataset=dataset,
                )
                yield Unit(problem, method.name, method_seeds, budget, context, _custom(method))

    n_units = len({(d, m) for (d, m, _) in pending})
    return execute(
        units(),
        n_units,
        store,
        n_jobs=n_jobs,
        dask_scheduler=dask_scheduler,
        progress=progress,
        desc=f"{name} (live)",
    )


def _custom(method: Method) -> Method | None:
    """``method`` when workers cannot find it by name (a user-defined method), else ``None``."""
    if method.name in available_methods() or method.name.startswith("metasampler:"):
        return None
    return method


def _pending(
    store: TraceStore, benchmark: str, datasets: list[str], methods: list[Method], seeds: list[int]
) -> list[tuple[str, str, int]]:
    return [
        (d, m.name, s)
        for d in datasets
        for m in methods
        for s in seeds
        if not store.done(benchmark, m.name, d, s)
    ]


def _duplicates_in(meta: MetaDataset, data: object) -> set[str]:
    """Datasets of ``meta`` that are ``data`` under any name (fingerprint or OpenML id)."""
    fingerprint = getattr(data, "fingerprint", None)
    metadata = getattr(data, "metadata", {}) or {}
    did = metadata.get("openml_did")
    source = str(getattr(data, "source", ""))
    facts = meta.datasets
    same = set(facts.index[facts["fingerprint"].astype(str) == str(fingerprint)])
    if did is not None:
        same |= set(facts.index[pd.to_numeric(facts["openml_did"], errors="coerce") == float(did)])
    if source in facts.index:
        same.add(source)
    found = set()
    for dataset in same:
        found |= meta.duplicates_of(dataset)
    return found
