"""The dataset layer: one :class:`Dataset` type and loaders for every supported source."""

from __future__ import annotations

from metaopt.datasets._coerce import infer_task, make_dataset
from metaopt.datasets._dataset import TASK_TYPES, Dataset, content_fingerprint
from metaopt.datasets._load import load_dataset, load_file
from metaopt.datasets._suites import Suite, SuiteEntry, suite

__all__ = [
    "TASK_TYPES",
    "Dataset",
    "Suite",
    "SuiteEntry",
    "content_fingerprint",
    "infer_task",
    "load_dataset",
    "load_file",
    "make_dataset",
    "suite",
]
