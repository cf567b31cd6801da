"""Benchmarks of hyperparameter optimizers on unseen datasets (leave-one-dataset-out).

Pool mode replays recorded evaluations (the shipped knowledge base, OpenML run exports, any
long-format meta-dataset); live mode cross-validates real models. Every method is an Optuna
sampler in a real Optuna study; runs are stored as parquet traces and never redone.
"""

from __future__ import annotations

from metaopt.benchmark._metadataset import MetaDataset, infer_distributions
from metaopt.benchmark._methods import (
    BUILTIN_METHODS,
    Method,
    MethodContext,
    Plan,
    available_methods,
    resolve_methods,
)
from metaopt.benchmark._metrics import (
    dataset_ranks,
    mean_ranks,
    mean_regret,
    pool_bounds,
    regret_curves,
    trials_to_reach,
    worst_case,
)
from metaopt.benchmark._problems import LiveProblem, NearestConfig, PoolProblem, suggest_flat
from metaopt.benchmark._protocol import run_live_benchmark, run_pool_benchmark
from metaopt.benchmark._provenance import code_version
from metaopt.benchmark._readers import from_knowledge, read_long_format, read_openml_runs
from metaopt.benchmark._report import brief, known_bounds, read_benchmark_infos, summarise
from metaopt.benchmark._resolve import (
    bundled_suite,
    folder_loader,
    keel_suite,
    live_datasets,
    local_files_by_openml_id,
    network_available,
    rdatasets_suite,
    resolve_datasets,
    resolve_openml_datasets,
)
from metaopt.benchmark._runner import run_study
from metaopt.benchmark._storage import TraceStore

__all__ = [
    "BUILTIN_METHODS",
    "LiveProblem",
    "NearestConfig",
    "MetaDataset",
    "Method",
    "MethodContext",
    "Plan",
    "PoolProblem",
    "TraceStore",
    "available_methods",
    "brief",
    "bundled_suite",
    "code_version",
    "dataset_ranks",
    "folder_loader",
    "from_knowledge",
    "infer_distributions",
    "keel_suite",
    "rdatasets_suite",
    "known_bounds",
    "live_datasets",
    "local_files_by_openml_id",
    "mean_ranks",
    "mean_regret",
    "network_available",
    "pool_bounds",
    "read_benchmark_infos",
    "read_long_format",
    "read_openml_runs",
    "regret_curves",
    "resolve_datasets",
    "resolve_methods",
    "resolve_openml_datasets",
    "run_live_benchmark",
    "run_pool_benchmark",
    "run_study",
    "suggest_flat",
    "summarise",
    "trials_to_reach",
    "worst_case",
]
