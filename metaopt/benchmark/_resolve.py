"""Find the data behind a meta-dataset's datasets: fingerprints, OpenML ids and metafeatures."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from metaopt.benchmark._metadataset import MetaDataset

logger = logging.getLogger("metaopt.benchmark")

MetafeatureFn = Callable[[object], pd.Series]


def network_available(host: str = "www.openml.org", port: int = 443, timeout: float = 3.0) -> bool:
    """Whether OpenML can be reached (one quick TCP connection, no retries)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def default_metafeatures(dataset: object) -> pd.Series:
    """Metafeatures of a :class:`metaopt.Dataset` with metaopt's extractor (30 s budget)."""
    from metaopt.metafeatures import extract_metafeatures

    return extract_metafeatures(dataset, budget_s=30.0, random_state=0)


def openml_task_dataset_ids() -> dict[int, int]:
    """OpenML task id to dataset id for the tasks of the shipped OpenML-CC18 list (offline)."""
    from metaopt.datasets import suite

    return {
        int(e.task_id): int(e.dataset_id)
        for e in suite("OpenML-CC18", progress=False)
        if e.task_id is not None and e.dataset_id is not None
    }


def local_files_by_openml_id(shared: Path) -> dict[int, tuple[Path, str | None]]:
    """Local data files by OpenML dataset id: the ARFF mirror first, then PMLB re-exports."""
    found: dict[int, tuple[Path, str | None]] = {}
    mirror = shared / "datasets" / "openml" / "index.csv"
    if mirror.is_file():
        for row in pd.read_csv(mirror).to_dict("records"):
            target = row.get("target")
            found.setdefault(
                int(row["openml_did"]),
                (
                    mirror.parent / str(row["file"]),
                    str(target) if isinstance(target, str) else None,
                ),
            )
    pmlb = shared / "datasets" / "pmlb" / "index.csv"
    if pmlb.is_file():
        for row in pd.read_csv(pmlb).to_dict("records"):
            ids = row.get("openml_ids")
            if isinstance(ids, (int, float)) and not np.isnan(ids):
                found.setdefault(int(ids), (pmlb.parent / str(row["file"]), "target"))
    return found


def resolve_openml_datasets(
    meta: MetaDataset,
    *,
    cache_dir: str | Path | None = None,
    online: bool | None = None,
    metafeature_fn: MetafeatureFn | None = None,
    max_datasets: int | None = None,
    progress: bool = True,
) -> MetaDataset:
    """Load the data of each ``openml-task:<id>`` / ``openml:<id>`` dataset and describe it.

    Online, tasks resolve through OpenML. Offline, a task's dataset id comes from the shipped
    OpenML-CC18 list and its data from the local mirror (``datasets/openml``, then PMLB copies
    that record an OpenML id). Datasets whose data cannot be found are dropped and listed in
    :attr:`MetaDataset.skipped` with the reason, never silently.

    Args:
        meta: The meta-dataset (e.g. from :func:`read_openml_runs`).
        cache_dir: Where fingerprints and metafeatures are cached as parquet (recomputed only
            for datasets not yet in the cache).
        online: Use OpenML; default: whether it is reachable.
        metafeature_fn: ``Dataset -> pd.Series``; default :func:`default_metafeatures`.
        max_datasets: Describe at most this many datasets (in order), skipping the rest.
        progress: Show a progress bar.

    Returns:
        A copy with ``fingerprint``, ``openml_did`` and ``name`` facts and metafeatures, restricted
        to the datasets that were found.
    """
    from metaopt import load_dataset
    from metaopt._settings import shared_dir

    if online is None:
        online = network_available()
    if not online:
        logger.warning(
            "OpenML is unreachable: resolving %s offline through the shipped OpenML-CC18 list "
            "and the local mirror %s",
            meta.name,
            shared_dir() / "datasets",
        )
    metafeature_fn = metafeature_fn or default_metafeatures
    cache_path = Path(cache_dir) / f"{meta.name}-datasets.parquet" if cache_dir else None
    cached = pd.read_parquet(cache_path) if cache_path and cache_path.is_file() else None
    task_map = openml_task_dataset_ids() if not online else {}
    files = local_files_by_openml_id(shared_dir()) if not online else {}
    facts, features, skipped = [], {}, dict(meta.skipped)
    names = meta.dataset_names
    if max_datasets is not None:
        for dataset in names[max_datasets:]:
            skipped[dataset] = f"beyond --max-datasets {max_datasets}"
        names = names[:max_datasets]
    for dataset in tqdm(names, desc=f"describing {meta.name}", disable=not progress):
        if cached is not None and dataset in cached.index:
            row = cached.loc[dataset]
            if row["status"] != "ok":
                skipped[dataset] = str(row["reason"])
                continue
            facts.append(row[["fingerprint", "openml_did", "name"]].rename(dataset))
            features[dataset] = row.drop(["fingerprint", "openml_did", "name", "status", "reason"])
            continue
        kind, _, ident = dataset.partition(":")
        try:
            if online:
                data = load_dataset(dataset)
            else:
                data = _load_offline(kind, int(ident), task_map, files, load_dataset)
        except (ValueError, LookupError, FileNotFoundError) as error:
            reason = str(error).split("\n")[0][:200]
            skipped[dataset] = reason
            _append_cache(cache_path, dataset, {"status": "skipped", "reason": reason})
            continue
        did = data.metadata.get("openml_did")
        fact = {"fingerprint": data.fingerprint, "openml_did": did, "name": data.name}
        vector = metafeature_fn(data).astype(float)
        facts.append(pd.Series(fact, name=dataset))
        features[dataset] = vector
        _append_cache(cache_path, dataset, {**fact, "status": "ok", "reason": "", **vector})
    if skipped:
        logger.warning(
            "%s: %d of %d datasets skipped (data not found or not requested)",
            meta.name,
            len(skipped),
            len(meta.dataset_names),
        )
    table = pd.DataFrame(facts)
    table.index.name = "dataset"
    datasets = meta.datasets.drop(columns=["fingerprint", "openml_did"], errors="ignore")
    datasets = datasets.join(table, how="inner")
    metafeatures = pd.DataFrame(features).T.astype(float)
    metafeatures.index.name = "dataset"
    resolved = replace(meta, datasets=datasets, skipped=skipped)
    return resolved.with_metafeatures(metafeatures)


def _load_offline(
    kind: str,
    ident: int,
    task_map: dict[int, int],
    files: dict[int, tuple[Path, str | None]],
    load_dataset: Callable[..., object],
) -> object:
    if kind == "openml-task":
        did = task_map.get(ident)
        if did is None:
            raise LookupError(
                f"task {ident} is not in the shipped OpenML-CC18 list, so its dataset id is "
                "unknown offline"
            )
    elif kind == "openml":
        did = ident
    else:
        raise LookupError(f"cannot locate data for {kind}:{ident} offline")
    if did not in files:
        raise LookupError(f"OpenML dataset {did} is not in the local mirror")
    path, target = files[did]
    data = load_dataset(str(path), target=target)
    data.metadata["openml_did"] = did
    return data


def _append_cache(path: Path | None, dataset: str, row: dict[str, object]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    new = pd.DataFrame([row], index=pd.Index([dataset], name="dataset"))
    if "openml_did" in new.columns:
        new["openml_did"] = pd.to_numeric(new["openml_did"], errors="coerce")
    if path.is_file():
        old = pd.read_parquet(path)
        new = pd.concat([old[~old.index.isin([dataset])], new])
    tmp = path.with_suffix(".tmp")
    new.to_parquet(tmp)
    tmp.replace(path)
