"""Warnings and errors of metaopt.

Fallbacks that change what a call returns or what a study does (the warm start disabled, the
portfolio used instead of the requested model, a search space guessed) are logged on the
``metaopt`` logger *and* emitted as a :class:`FallbackWarning`, so a user who configured no logging
still sees them. Filter them like any warning::

    import warnings
    from metaopt.exceptions import FallbackWarning

    warnings.simplefilter("error", FallbackWarning)   # make every fallback an error
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["FallbackWarning", "MetaoptWarning", "MissingExtraError", "warn_fallback"]


class MetaoptWarning(UserWarning):
    """Base class of every warning metaopt emits."""


class FallbackWarning(MetaoptWarning):
    """metaopt fell back to a simpler behaviour that changes the result (see the message)."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def warn_fallback(logger: logging.Logger, message: str, *, stacklevel: int = 3) -> None:
    """Log ``message`` as a warning on ``logger`` and emit it as a :class:`FallbackWarning`."""
    logger.warning(message)
    warnings.warn(message, FallbackWarning, stacklevel=stacklevel)
