"""OptunaHub package ``samplers/meta_sampler``: metaopt's MetaSampler.

The sampler itself lives in the ``metaopt-hpo`` distribution (see ``requirements.txt``); this
package makes it loadable with ``optunahub.load_module("samplers/meta_sampler")``.
"""

from __future__ import annotations

try:
    from metaopt.samplers import MetaSampler, WarmStart
except ImportError as error:  # pragma: no cover - depends on the user's environment
    raise ImportError(
        "samplers/meta_sampler needs the metaopt-hpo package: pip install metaopt-hpo "
        "(or pip install -r requirements.txt from this package)"
    ) from error

__all__ = ["MetaSampler", "WarmStart"]
