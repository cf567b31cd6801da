"""The methods built on metaopt.MetaSampler: the library's own meta-models, one code path.

- ``metasampler``: MetaSampler as users get it (the default meta-model and settings);
- ``nearest+tpe``: the best configurations of the nearest datasets (auto-sklearn 1.0), then TPE;
- ``portfolio+tpe``: a greedy portfolio (auto-sklearn 2.0 style), then TPE;
- ``metasampler-surrogate``: the surrogate ranker's warm start, then TPE;
- ``metasampler:<option>=<value>,...``: MetaSampler as shipped with some of its options, or of
  its default meta-model's, changed (e.g. ``metasampler:fade=25`` or
  ``metasampler:evidence=2``), to compare settings with the harness.

The baselines are MetaSampler with another meta-model and in-search transfer off, so a
comparison measures the idea, not two implementations of it.
"""

from __future__ import annotations

import inspect
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


#: Prefix of a method name that sets MetaSampler options: ``metasampler:fade=25,n_warm=3``.
CONFIGURED_PREFIX = "metasampler:"
#: MetaSampler arguments the harness sets itself, so a configured method cannot.
_HARNESS_ARGUMENTS = frozenset(
    {"self", "dataset", "space", "knowledge", "model", "metafeatures", "task", "seed"}
)


def metasampler_methods() -> dict[str, Method]:
    """One method per entry of :data:`VARIANTS`."""
    return {
        name: _method(name, model, options, description)
        for name, (model, options, description) in VARIANTS.items()
    }


def configured_method(name: str) -> Method:
    """The method ``metasampler:<option>=<value>,...``: the shipped MetaSampler, some options set.

    An option is MetaSampler's own (``n_warm``, ``fade``, ...) or one of its default
    meta-model's parameters (``evidence``, ``temperature``, ...), which the meta-model is then
    fitted with. Values are read as ``true``/``false``, ``none``, an int, a float, or else a
    string.

    Raises:
        ValueError: when the name is malformed, sets an option neither has, or gives an option
            a value its owner refuses.
    """
    spec = name[len(CONFIGURED_PREFIX) :] if name.startswith(CONFIGURED_PREFIX) else ""
    sampler_options = set(inspect.signature(MetaSampler).parameters) - _HARNESS_ARGUMENTS
    model_options = set(make_model(None).get_params())
    accepted = sorted(sampler_options | model_options)
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, value = (text.strip() for text in item.partition("="))
        if not sep or key not in accepted or key in options:
            raise ValueError(
                f"method {name!r}: expected '{CONFIGURED_PREFIX}<option>=<value>,...' with each "
                f"option once, got {item!r}; accepted options: {accepted}"
            )
        options[key] = _parse_value(value)
    if not options:
        raise ValueError(
            f"method {name!r} sets no option; write e.g. '{CONFIGURED_PREFIX}fade=25' "
            f"(accepted options: {accepted})"
        )
    description = "metaopt.MetaSampler as shipped with " + ", ".join(
        f"{k}={v!r}" for k, v in options.items()
    )
    settings = {k: v for k, v in options.items() if k in model_options}
    sampler = {k: v for k, v in options.items() if k not in model_options}
    # Values are checked now, where their owners check them, not in every run of the method.
    try:
        MetaSampler(
            None, **{k: (1 if k == "n_warm" and v is None else v) for k, v in sampler.items()}
        )
        make_model(None).set_params(**settings)._check()
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"method {name!r}: {error} (values are read as true/false, none, an int, a float, "
            "or else a string)"
        ) from None
    return _method(name, None, sampler, description, settings)


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _method(
    name: str,
    model: str | None,
    options: dict[str, Any],
    description: str,
    settings: dict[str, Any] | None = None,
) -> Method:
    return Method(
        name,
        partial(_build, name=name, options=options),
        True,
        description,
        partial(_prepare, name=name, model=model, settings=settings or {}),
    )


def _prepare(
    context: MethodContext, *, name: str, model: str | None, settings: dict[str, Any]
) -> None:
    """Fit the meta-model on the leave-one-group-out knowledge (shared by the seeds)."""
    meta = context.require_meta(name)
    knowledge = meta.to_knowledge_base()
    space = meta.space or meta.name
    context.cache["knowledge"] = knowledge
    context.cache["space"] = space
    context.cache["model"] = make_model(model).set_params(**settings).fit(knowledge, space)


def _build(context: MethodContext, seed: int, *, name: str, options: dict[str, Any]) -> Plan:
    meta = context.require_meta(name)
    options = dict(options)
    if "n_warm" in options and options["n_warm"] is None:  # the harness's --n-warm
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
