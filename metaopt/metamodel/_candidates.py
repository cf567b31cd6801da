"""Fresh configurations, for models that rank beyond the known ones: space-filling or local."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution

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


#: Standard deviations (in the unit cube) of the moves :func:`local_configs` makes, in turn:
#: several scales, so neighbours both refine a good configuration and leave its basin.
LOCAL_SCALES = (0.02, 0.05, 0.1, 0.2)


def local_configs(
    centres: Sequence[Mapping[str, Any]],
    distributions: Mapping[str, BaseDistribution],
    n: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """``n`` random neighbours of ``centres`` (taken in turn) in ``distributions``.

    Every numeric parameter moves by a Gaussian step in the unit cube (log scale where the
    distribution is), of one of :data:`LOCAL_SCALES` in turn; a categorical one switches to
    another choice with the probability of that scale times 2. Parameters a centre lacks stay
    unset.

    Example:
        >>> import numpy as np
        >>> from optuna.distributions import FloatDistribution
        >>> near = local_configs(
        ...     [{"x": 0.5}], {"x": FloatDistribution(0.0, 1.0)}, 4, np.random.default_rng(0)
        ... )
        >>> len(near), all(abs(c["x"] - 0.5) < 0.5 for c in near)
        (4, True)
    """
    from metaopt.spaces._space import _from_unit, _to_unit

    if not centres or n <= 0:
        return []
    # Each centre's position in the unit cube, once; then all moves drawn at once.
    units = [{k: _to_unit(c[k], d) for k, d in distributions.items() if k in c} for c in centres]
    names = list(distributions)
    steps = rng.normal(size=(n, len(names)))
    switches = rng.uniform(size=(n, len(names)))
    out: list[dict[str, Any]] = []
    for i in range(n):
        centre, unit = centres[i % len(centres)], units[i % len(centres)]
        scale = LOCAL_SCALES[(i // len(centres)) % len(LOCAL_SCALES)]
        config = dict(centre)
        for j, name in enumerate(names):
            if name not in unit:
                continue
            dist = distributions[name]
            if isinstance(dist, CategoricalDistribution):
                if len(dist.choices) > 1 and switches[i, j] < 2.0 * scale:
                    others = [c for c in dist.choices if c != centre[name]]
                    config[name] = others[int(switches[i, j] / (2.0 * scale) * len(others))]
                continue
            config[name] = _from_unit(min(max(unit[name] + scale * steps[i, j], 0.0), 1.0), dist)
        out.append(config)
    return out
