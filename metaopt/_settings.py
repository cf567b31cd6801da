"""Settings read from the environment, in one place."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parent


def shared_dir() -> Path:
    """Directory holding the shared real data (``METAOPT_SHARED``, default ``../shared``).

    A relative ``METAOPT_SHARED`` is resolved against the working directory. Without the setting,
    ``../shared`` is looked for beside the working directory and then beside the source checkout,
    so tests find it whether they run from the repository root or elsewhere.
    """
    configured = os.environ.get("METAOPT_SHARED")
    if configured:
        return Path(configured).expanduser().resolve()
    for candidate in (Path.cwd() / ".." / "shared", _PACKAGE_ROOT.parent.parent / "shared"):
        if candidate.is_dir():
            return candidate.resolve()
    return (Path.cwd() / ".." / "shared").resolve()


def openml_mirror_dir() -> Path | None:
    """Local folder of ``<did>-<name>.arff`` files used when OpenML is unreachable.

    ``METAOPT_OPENML_MIRROR`` when set; otherwise ``datasets/openml`` inside :func:`shared_dir`
    when that exists; otherwise ``None``.
    """
    configured = os.environ.get("METAOPT_OPENML_MIRROR")
    if configured:
        return Path(configured).expanduser().resolve()
    default = shared_dir() / "datasets" / "openml"
    return default if default.is_dir() else None
