"""The dataset layer: one :class:`Dataset` type and loaders for every supported source."""

from __future__ import annotations

from metaopt.datasets._coerce import infer_task, make_dataset
from metaopt.datasets._dataset import TASK_TYPES, Dataset, content_fingerprint
from metaopt.datasets._groups import (
    ColumnSketch,
    DatasetSketch,
    SketchComparison,
    compare_sketches,
    group_datasets,
    keel_name_links,
    rank_agreement,
    same_data,
    sketch_dataset,
    sketch_sources,
)
from metaopt.datasets._load import load_dataset, load_file
from metaopt.datasets._rdatasets import (
    RDATASETS_CLASSIFICATION,
    RDATASETS_REGRESSION,
    RTarget,
    rdatasets_names,
)
from metaopt.datasets._suites import Suite, SuiteEntry, sketch_folders, suite, unseen_entries

__all__ = [
    "RDATASETS_CLASSIFICATION",
    "RDATASETS_REGRESSION",
    "TASK_TYPES",
    "ColumnSketch",
    "Dataset",
    "RTarget",
    "DatasetSketch",
    "SketchComparison",
    "Suite",
    "SuiteEntry",
    "compare_sketches",
    "content_fingerprint",
    "group_datasets",
    "infer_task",
    "keel_name_links",
    "load_dataset",
    "load_file",
    "make_dataset",
    "rank_agreement",
    "rdatasets_names",
    "same_data",
    "sketch_dataset",
    "sketch_folders",
    "sketch_sources",
    "suite",
    "unseen_entries",
]
