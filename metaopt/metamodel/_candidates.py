"""Fresh configurations from a registered search space, for models that rank beyond the table."""

from __future__ import annotations

import logging
from typing import Any

from metaopt.metamodel._data import plain

_logger = logging.getLogger("metaopt.metamodel")


def sample_space(space: str, task: str, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` space-filling configurations of ``metaopt.spaces.get(space, task)``.

    Spaces known only from the knowledge table (e.g. from a user's Optuna studies) are not
    registered; they give an empty list and models rank the table's configurations alone.
    """
    if n <= 0:
        return []
    try:
        from metaopt import spaces

        search_space = spaces.get(space, task)
    except (ImportError, ValueError, KeyError) as error:
        _logger.debug("no registered space %r (%s) to sample from: %s", space, task, error)
        return []
    return [plain(config) for config in search_space.sample(n, seed=seed)]
