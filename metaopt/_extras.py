"""Optional dependencies: import them on first use, or say which extra installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from metaopt.exceptions import MissingExtraError

# The extra of pyproject.toml that brings each optional top-level module.
EXTRA_OF = {
    "torch": "torch",
    "matplotlib": "benchmark",
    "cmaes": "benchmark",
    "dask": "benchmark",
    "distributed": "benchmark",
    "openml": "openml",
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra that provides it.

    Args:
        module: The module to import, e.g. ``"torch"`` or ``"matplotlib.pyplot"``.
        feature: What needs it, for the message, e.g. ``"LSTMOptimizer"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        if getattr(error, "name", None) not in (None, top) and not str(error).count(top):
            raise
        extra = EXTRA_OF.get(top, "all")
        raise MissingExtraError(
            f"{feature} needs the optional dependency {top!r}, which is not installed: "
            f'pip install "metaopt-hpo[{extra}]"'
        ) from error
