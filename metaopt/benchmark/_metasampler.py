"""The methods built on metaopt.MetaSampler: the library's own meta-models, one code path.

- ``metasampler``: MetaSampler as users get it (the default meta-model and settings);
- ``nearest+tpe``: the best configurations of the nearest datasets (auto-sklearn 1.0), then TPE;
- ``portfolio+tpe``: a greedy portfolio (auto-sklearn 2.0 style), then TPE;
- ``metasampler-surrogate``: the surrogate ranker's warm start, then TPE.

The baselines are MetaSampler with another meta-model and in-search transfer off, so a
comparison measures the idea, not two implementations of it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from metaopt.benchmark._methods import Method, MethodContext, Plan
from metaopt.metamodel import make_model
from metaopt.samplers import MetaSampler

#: name -> (meta-model, MetaSampler options beyond the defaults, description)
VARIANTS: dict[str, tuple[str | None, dict[str, Any], str]] = {
    "metasampler": (
        None,
        {},
        "metaopt.MetaSampler as shipped: transfer ensemble re-weighted after every trial",
    ),
    "nearest+tpe": (
        "nearest",
        {"transfer": False, "n_warm": None},
        "best configurations of the --n-warm nearest datasets (auto-sklearn 1.0), then TPE",
    ),
    "portfolio+tpe": (
        "portfolio",
        {"transfer": False, "n_warm": None},
        "greedy portfolio of --n-warm configurations (auto-sklearn 2.0 style), then TPE",
    ),
    "metasampler-surrogate": (
        "surrogate",
        {"transfer": False, "n_warm": None},
        "the surrogate ranker's --n-warm configurations, then TPE",
    ),
}


def metasampler_methods() -> dict[str, Method]:
    """One method per entry of :data:`VARIANTS`."""
    return {
        name: Method(
            name,
            partial(_build, name=name),
            True,
            description,
            partial(_prepare, name=name),
        )
        for name, (_, _, description) in VARIANTS.items()
    }


def _prepare(context: MethodContext, *, name: str) -> None:
    """Fit the meta-model on the leave-one-group-out knowledge (shared by the seeds)."""
    meta = context.require_meta(name)
    knowledge = meta.to_knowledge_base()
    space = meta.space or meta.name
    model, _, _ = VARIANTS[name]
    context.cache["knowledge"] = knowledge
    context.cache["space"] = space
    context.cache["model"] = make_model(model).fit(knowledge, space)


def _build(context: MethodContext, seed: int, *, name: str) -> Plan:
    meta = context.require_meta(name)
    _, options, _ = VARIANTS[name]
    options = dict(options)
    if "n_warm" in options:
        options["n_warm"] = context.n_warm
    sampler = MetaSampler(
        None,
        space=str(context.cache["space"]),
        knowledge=context.cache["knowledge"],
        model=context.cache["model"],  # type: ignore[arg-type]
        metafeatures=context.metafeatures,
        task=meta.task,
        seed=seed,
        **options,
    )
    # Computing the warm start here makes its cost part of the run's set-up, and a MetaSampler
    # that fell back to plain TPE (it warns why) fails the run instead of passing for itself.
    warm = sampler.warm_start_configs()
    if not warm:
        raise RuntimeError(
            f"{name} produced no warm start on {context.dataset!r}; see the metaopt log for "
            "the reason."
        )
    return Plan(sampler)
