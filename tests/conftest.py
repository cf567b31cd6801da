"""Shared fixtures: where the real data lives, and a skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaopt._settings import shared_dir as _shared_dir


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared real data folder (``METAOPT_SHARED``); skips the test when it is absent."""
    path = _shared_dir()
    if not (path / "README.md").is_file():
        pytest.skip(
            f"real data not found at {path}: set METAOPT_SHARED to the shared data folder "
            "(CI always has it)"
        )
    return path


@pytest.fixture(scope="session")
def openml_arff_dir(shared_dir: Path) -> Path:
    """Folder of the 63 real OpenML datasets as ARFF (``datasets/openml``)."""
    return shared_dir / "datasets" / "openml"


@pytest.fixture(scope="session")
def pmlb_dir(shared_dir: Path) -> Path:
    """Folder of the PMLB datasets as gzip TSV (``datasets/pmlb``)."""
    return shared_dir / "datasets" / "pmlb"
