"""MetaSampler as a benchmark method, once per meta-model (``metasampler-<model>``)."""

from __future__ import annotations

from functools import partial

from metaopt.benchmark._methods import Method, MethodContext, Plan
from metaopt.metamodel import MODEL_NAMES, make_model
from metaopt.samplers import MetaSampler


def metasampler_methods() -> dict[str, Method]:
    """One method per meta-model name of :mod:`metaopt.metamodel`."""
    methods = {}
    for model in MODEL_NAMES:
        name = f"metasampler-{model}"
        methods[name] = Method(
            name,
            partial(_build, model=model),
            True,
            f"metaopt.MetaSampler(model={model!r}): warm start from the meta-model, then TPE",
            partial(_prepare, model=model),
        )
    return methods


def _prepare(context: MethodContext, *, model: str) -> None:
    """Fit the meta-model on the leave-one-out knowledge (shared by the seeds)."""
    meta = context.require_meta(f"metasampler-{model}")
    knowledge = meta.to_knowledge_base()
    space = meta.space or meta.name
    context.cache["knowledge"] = knowledge
    context.cache["space"] = space
    context.cache["model"] = make_model(model).fit(knowledge, space)


def _build(context: MethodContext, seed: int, *, model: str) -> Plan:
    meta = context.require_meta(f"metasampler-{model}")
    sampler = MetaSampler(
        None,
        space=str(context.cache["space"]),
        n_warm=context.n_warm,
        knowledge=context.cache["knowledge"],
        model=context.cache["model"],  # type: ignore[arg-type]
        metafeatures=context.metafeatures,
        task=meta.task,
        seed=seed,
    )
    # Computing the warm start here makes its cost part of the run's set-up, and a MetaSampler
    # that fell back to plain TPE (it logs why) fails the run instead of passing for itself.
    warm = sampler.warm_start_configs()
    if context.n_warm > 0 and not warm:
        raise RuntimeError(
            f"MetaSampler(model={model!r}) produced no warm start on {context.dataset!r}; "
            "see the metaopt log for the reason."
        )
    return Plan(sampler)
