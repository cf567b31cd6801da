"""Benchmark suites: OpenML suites (shipped or online) and local folders of data files."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from metaopt.datasets._catalog import resolve_shipped_name, shipped_suites
from metaopt.datasets._dataset import Dataset
from metaopt.datasets._groups import (
    DatasetSketch,
    file_cache_key,
    group_datasets,
    sketch_sources,
)
from metaopt.datasets._load import SCHEMES, load_dataset, load_file
from metaopt.datasets._readers import file_kind

logger = logging.getLogger("metaopt.datasets")


@dataclass(frozen=True)
class SuiteEntry:
    """One dataset of a suite, loadable with :meth:`load`.

    Attributes:
        source: What :func:`metaopt.load_dataset` takes to load it (``"openml-task:3"``, a path).
        name: Dataset name.
        task_id: OpenML task id, when known.
        dataset_id: OpenML dataset id, when known.
        target: Target column, when the suite names one.
        task: ``"classification"`` or ``"regression"``, when the suite says.
        fingerprint: Content fingerprint (local suites only).
    """

    source: str
    name: str
    task_id: int | None = None
    dataset_id: int | None = None
    target: str | None = None
    task: str | None = None
    fingerprint: str | None = None

    def load(self) -> Dataset:
        """Load the dataset."""
        if self.source.partition(":")[0] in SCHEMES:
            dataset = load_dataset(self.source, target=self.target)
        else:
            dataset = load_file(self.source, target=self.target, task=self.task, name=self.name)
        if self.dataset_id is not None:
            dataset.metadata.setdefault("openml_did", self.dataset_id)
        return dataset


@dataclass(frozen=True)
class Suite:
    """An ordered collection of datasets.

    Attributes:
        name: Suite name (e.g. ``"OpenML-CC18"``) or the folders it was read from.
        entries: The datasets, duplicates removed.
        duplicates: ``(dropped, kept)`` source pairs of datasets removed as duplicates.
    """

    name: str
    entries: tuple[SuiteEntry, ...]
    duplicates: tuple[tuple[str, str], ...] = field(default=())

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[SuiteEntry]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> SuiteEntry:
        return self.entries[index]

    @property
    def task_ids(self) -> list[int]:
        """OpenML task ids of the entries that have one."""
        return [e.task_id for e in self.entries if e.task_id is not None]

    @property
    def dataset_ids(self) -> list[int]:
        """OpenML dataset ids of the entries that have one."""
        return [e.dataset_id for e in self.entries if e.dataset_id is not None]

    def datasets(self, *, progress: bool = True) -> Iterator[Dataset]:
        """Load the datasets one by one."""
        for entry in tqdm(self.entries, desc=f"loading {self.name}", disable=not progress):
            yield entry.load()


def suite(
    name_or_folders: str | Path | Sequence[str | Path],
    *,
    task: str | None = None,
    progress: bool = True,
) -> Suite:
    """Resolve a suite of datasets.

    Args:
        name_or_folders: ``"OpenML-CC18"`` (or an alias such as ``"cc18"`` / ``"99"``), which
            resolves offline from the shipped list; any other OpenML suite id or alias, resolved
            through ``openml.study.get_suite`` (needs network); or one or several local folders
            of data files, whose datasets are deduplicated by content (the same data under
            another name, encoding, column order or row subset, see
            :func:`~metaopt.datasets.group_datasets`) and by OpenML dataset id (first folder
            wins).
        task: For local folders, keep only ``"classification"`` or ``"regression"`` datasets.
        progress: Show a progress bar while local datasets are sketched.

    Returns:
        The suite.

    Example:
        >>> from metaopt.datasets import suite
        >>> cc18 = suite("OpenML-CC18")
        >>> len(cc18), cc18[0].source
        (72, 'openml-task:3')
    """
    if isinstance(name_or_folders, (list, tuple)):
        return _local_suite([Path(p) for p in name_or_folders], task=task, progress=progress)
    if isinstance(name_or_folders, Path) or Path(str(name_or_folders)).is_dir():
        return _local_suite([Path(name_or_folders)], task=task, progress=progress)
    if not isinstance(name_or_folders, str):
        raise TypeError(
            "suite() takes a suite name, a folder or a list of folders; got "
            f"{type(name_or_folders).__name__}."
        )
    canonical = resolve_shipped_name(name_or_folders)
    if canonical is not None:
        tasks = shipped_suites()[canonical]["tasks"]
        entries = tuple(
            SuiteEntry(
                source=f"openml-task:{t['task_id']}",
                name=str(t["name"]),
                task_id=int(t["task_id"]),
                dataset_id=int(t["dataset_id"]),
                task="classification",
            )
            for t in tasks  # type: ignore[union-attr]
        )
        return Suite(name=canonical, entries=entries)
    return _openml_suite(name_or_folders)


def _openml_suite(name: str) -> Suite:
    shipped = sorted(shipped_suites())
    try:
        import openml
    except ImportError as error:
        raise ValueError(
            f"unknown suite {name!r}: it is not shipped (shipped: {shipped}) and looking it up "
            'on OpenML needs the openml package: pip install "metaopt-hpo[openml]". Or pass '
            "a local folder."
        ) from error
    try:
        study = openml.study.get_suite(int(name) if name.isdigit() else name)
    except Exception as error:  # noqa: BLE001 - reported with what to do instead
        raise ValueError(
            f"unknown suite {name!r}: it is not shipped (shipped: {shipped}) and "
            f"openml.study.get_suite failed ({type(error).__name__}: {error}). Pass a shipped "
            "suite name, an OpenML suite id/alias with network access, or a local folder."
        ) from error
    entries = tuple(
        SuiteEntry(source=f"openml-task:{tid}", name=f"task {tid}", task_id=int(tid))
        for tid in (study.tasks or [])
    )
    return Suite(name=str(study.name or name), entries=entries)


def _manifest(folder: Path) -> pd.DataFrame | None:
    """A folder's ``index.csv`` when it has a ``file`` column (PMLB and OpenML mirrors do)."""
    index = folder / "index.csv"
    if not index.is_file():
        return None
    table = pd.read_csv(index)
    return table if "file" in table.columns else None


def _openml_ids(value: object) -> list[int]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [int(float(token)) for token in re.findall(r"\d+(?:\.0+)?", str(value))]


def _folder_entries(folder: Path) -> list[SuiteEntry]:
    if not folder.is_dir():
        raise ValueError(f"suite folder {str(folder)!r} does not exist or is not a folder.")
    manifest = _manifest(folder)
    if manifest is None:
        files = sorted(
            p for p in folder.iterdir() if file_kind(p) is not None and p.name != "index.csv"
        )
        return [SuiteEntry(source=str(p), name=p.stem.split(".")[0]) for p in files]
    entries = []
    for row in manifest.to_dict("records"):
        path = folder / str(row["file"])
        did = row.get("openml_did")
        ids = _openml_ids(did) or _openml_ids(row.get("openml_ids"))
        task = row.get("task") if isinstance(row.get("task"), str) else None
        target = row.get("target") if isinstance(row.get("target"), str) else None
        name = str(row.get("name") or path.stem)
        entries.append(
            SuiteEntry(
                source=str(path),
                name=name,
                dataset_id=ids[0] if ids else None,
                target=target,
                task=task,
            )
        )
    return entries


def sketch_folders(
    folders: str | Path | Sequence[str | Path], *, progress: bool = True
) -> dict[str, DatasetSketch]:
    """Sketch every data file of one or several folders, with a JSON cache between runs.

    Targets, task types and OpenML ids come from each folder's ``index.csv`` when it has one
    (as for :func:`suite`). Sketches are cached in ``~/.cache/metaopt/sketches-v<version>/``
    (``$XDG_CACHE_HOME`` when set), one JSON file per dataset, keyed by resolved path, size,
    modification time and target, so only new or changed files are read again. A file that
    cannot be loaded is skipped with a warning on the ``metaopt`` logger.

    Args:
        folders: A folder or a list of folders.
        progress: Show a progress bar.

    Returns:
        ``{path: sketch}`` in folder and file order.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from sklearn.datasets import load_iris
        >>> from metaopt.datasets import group_datasets, sketch_folders
        >>> folder = Path(tempfile.mkdtemp())
        >>> frame = load_iris(as_frame=True).frame
        >>> frame.to_csv(folder / "iris.csv", index=False)
        >>> frame.sample(frac=1.0, random_state=0).to_csv(folder / "copy.csv", index=False)
        >>> sketches = sketch_folders(folder, progress=False)
        >>> sorted(set(group_datasets(sketches).values())) == [str(folder / "copy.csv")]
        True
    """
    paths = [folders] if isinstance(folders, (str, Path)) else list(folders)
    entries = {e.source: e for p in paths for e in _folder_entries(Path(p))}
    sketched = sketch_sources(
        entries,
        lambda source: entries[source].load(),
        cache_key=lambda source: file_cache_key(source, entries[source].target),
        progress=progress,
    )
    return {source: r.sketch for source, r in sketched.items() if r.sketch is not None}


def _local_suite(folders: list[Path], *, task: str | None, progress: bool) -> Suite:
    candidates = [entry for folder in folders for entry in _folder_entries(folder)]
    sketches = sketch_folders(folders, progress=progress)
    entries: list[SuiteEntry] = []
    for entry in candidates:
        sketch = sketches.get(entry.source)
        if sketch is None or (task is not None and sketch.task != task):
            continue
        entries.append(replace(entry, task=sketch.task, fingerprint=sketch.fingerprint))
    # Entries naming the same OpenML dataset are one group too, whatever their content.
    by_openml_id: dict[int, list[str]] = defaultdict(list)
    for entry in entries:
        if entry.dataset_id is not None:
            by_openml_id[entry.dataset_id].append(entry.source)
    links = [(same[0], other) for same in by_openml_id.values() for other in same[1:]]
    groups = group_datasets({e.source: sketches[e.source] for e in entries}, links=links)
    kept: list[SuiteEntry] = []
    duplicates: list[tuple[str, str]] = []
    first_of_group: dict[str, SuiteEntry] = {}
    for entry in entries:  # the first folder wins
        twin = first_of_group.get(groups[entry.source])
        if twin is not None:
            duplicates.append((entry.source, twin.source))
            continue
        first_of_group[groups[entry.source]] = entry
        kept.append(entry)
    if duplicates:
        logger.info("dropped %d duplicate datasets", len(duplicates))
    return Suite(
        name="+".join(str(f) for f in folders), entries=tuple(kept), duplicates=tuple(duplicates)
    )


def unseen_entries(
    candidates: Sequence[SuiteEntry],
    known: Sequence[SuiteEntry],
    *,
    min_rows: int = 0,
    max_rows: int | None = None,
    n: int | None = None,
    progress: bool = True,
) -> list[SuiteEntry]:
    """The candidates that are new data: their group holds none of ``known``.

    Groups are found as by :func:`~metaopt.datasets.group_datasets` (the same data under
    another name, encoding, row order, class subset or target), so a candidate that is a copy
    or a variant of a known dataset is left out, and of candidates that are copies of each
    other only one is kept. Use it to pick real data that a knowledge base, a meta-training set
    or a shared folder has never seen.

    Args:
        candidates: Entries to choose from.
        known: Entries whose groups are taken.
        min_rows: Leave out candidates with fewer rows.
        max_rows: Leave out candidates with more rows (``None``: no limit).
        n: Keep at most this many (``None``: all).
        progress: Show a progress bar while sketching.

    Returns:
        One entry per new group, the largest first (ties by source).
    """
    loaders = {e.source: e for e in [*known, *candidates]}
    sketched = sketch_sources(list(loaders), lambda s: loaders[s].load(), progress=progress)
    sketches = {s: r.sketch for s, r in sketched.items() if r.sketch is not None}
    groups = group_datasets(sketches)
    taken = {groups[e.source] for e in known if e.source in groups}
    ranked = sorted(
        (e for e in candidates if e.source in sketches),
        key=lambda e: (-sketches[e.source].n_rows, e.source),
    )
    chosen: list[SuiteEntry] = []
    for entry in ranked:
        group = groups[entry.source]
        rows = sketches[entry.source].n_rows
        if group in taken or rows < min_rows or (max_rows is not None and rows > max_rows):
            continue
        taken.add(group)
        chosen.append(entry)
        if n is not None and len(chosen) == n:
            break
    return chosen
