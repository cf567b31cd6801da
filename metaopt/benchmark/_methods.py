"""The compared methods, each an Optuna sampler plus optional warm-start configurations."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import optuna
import pandas as pd

from metaopt.benchmark._metadataset import MetaDataset
from metaopt.benchmark._warmstart import cmaes_source_trials

logger = logging.getLogger("metaopt.benchmark")


@dataclass
class MethodContext:
    """What a method may learn from when evaluated on one held-out dataset.

    Attributes:
        meta: The meta-dataset without the held-out dataset and its duplicates (``None`` for a
            benchmark without meta-knowledge).
        metafeatures: The held-out dataset's metafeatures.
        space: Registered space name, or ``None`` for an external search space.
        distributions: The flat search space.
        n_warm: Number of warm-start configurations for warm-starting methods.
        dataset: The held-out dataset's id.
        cache: What a method's seed-independent preparation computed (see :meth:`prepare`),
            shared by the seeds of one held-out dataset.
    """

    meta: MetaDataset | None
    metafeatures: pd.Series | None
    space: str | None
    distributions: dict[str, optuna.distributions.BaseDistribution]
    n_warm: int = 10
    dataset: str = ""
    cache: dict[str, object] = field(default_factory=dict)

    def prepare(self, method: Method) -> float:
        """Run ``method``'s seed-independent preparation once; return the seconds it took."""
        key = f"prepared:{method.name}"
        if key not in self.cache:
            began = time.perf_counter()
            if method.prepare is not None:
                method.prepare(self)
            self.cache[key] = time.perf_counter() - began
        return float(self.cache[key])  # type: ignore[arg-type]

    def require_meta(self, method: str) -> MetaDataset:
        """The meta-dataset and held-out metafeatures, or a ValueError naming the method."""
        if self.meta is None or self.metafeatures is None or self.meta.metafeatures is None:
            raise ValueError(
                f"method {method!r} learns from other datasets: it needs a meta-dataset with "
                "metafeatures and the held-out dataset's metafeatures."
            )
        return self.meta


@dataclass
class Plan:
    """A method's setup for one run: the sampler and configurations to try first."""

    sampler: optuna.samplers.BaseSampler
    warm_start: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class Method:
    """A named method: ``prepare(context)`` once per held-out dataset, ``build`` per seed.

    Attributes:
        name: Name in reports.
        build: ``(context, seed) -> Plan``: the sampler and warm start of one run.
        learns: Whether it uses other datasets (and so needs the leave-one-out meta-dataset).
        description: One line for ``--help`` and the report.
        prepare: Seed-independent work (fitting a meta-model, computing a warm-start list),
            stored in ``context.cache``; timed separately from the per-run set-up.
    """

    name: str
    build: Callable[[MethodContext, int], Plan]
    learns: bool
    description: str
    prepare: Callable[[MethodContext], None] | None = None

    @classmethod
    def from_sampler(
        cls,
        name: str,
        sampler: Callable[[int], optuna.samplers.BaseSampler],
        description: str = "",
    ) -> Method:
        """A method that learns nothing from other datasets: ``sampler(seed)`` per run.

        Args:
            name: Name in reports and trace folders (not one of the built-in names).
            sampler: Factory taking the run's seed and returning a fresh Optuna sampler.
            description: One line for the report.

        Returns:
            The method, to pass in ``methods=`` of :func:`run_pool_benchmark` or
            :func:`run_live_benchmark`.

        Example:
            >>> import optuna
            >>> qmc = lambda seed: optuna.samplers.QMCSampler(seed=seed)
            >>> mine = Method.from_sampler("qmc", qmc)
            >>> mine.name, mine.learns
            ('qmc', False)
        """
        if not callable(sampler):
            raise TypeError(
                f"sampler must be a callable taking the seed and returning an Optuna sampler; "
                f"got {type(sampler).__name__}."
            )
        return cls(name, _SamplerFactory(sampler), False, description or f"custom sampler {name}")


@dataclass(frozen=True)
class _SamplerFactory:
    """``(context, seed) -> Plan`` around a ``seed -> sampler`` factory (picklable)."""

    factory: Callable[[int], optuna.samplers.BaseSampler]

    def __call__(self, context: MethodContext, seed: int) -> Plan:
        sampler = self.factory(seed)
        if not isinstance(sampler, optuna.samplers.BaseSampler):
            raise TypeError(
                f"the sampler factory returned {type(sampler).__name__}; expected an "
                "optuna.samplers.BaseSampler."
            )
        return Plan(sampler)


def _random(context: MethodContext, seed: int) -> Plan:
    return Plan(optuna.samplers.RandomSampler(seed=seed))


def _tpe(context: MethodContext, seed: int) -> Plan:
    return Plan(optuna.samplers.TPESampler(seed=seed))


def _cmaes(context: MethodContext, seed: int) -> Plan:
    return Plan(optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False))


def _prepare_ws_cmaes(context: MethodContext) -> None:
    meta = context.require_meta("ws-cmaes")
    sources = cmaes_source_trials(meta, context.metafeatures, n_datasets=3)
    if not sources:
        raise ValueError("ws-cmaes needs at least one numeric parameter in the search space.")
    context.cache["sources"] = sources


def _ws_cmaes(context: MethodContext, seed: int) -> Plan:
    return Plan(
        optuna.samplers.CmaEsSampler(
            seed=seed,
            source_trials=context.cache["sources"],  # type: ignore[arg-type]
            warn_independent_sampling=False,
        )
    )


BUILTIN_METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("random", _random, False, "random search (optuna RandomSampler)"),
        Method("tpe", _tpe, False, "TPE, Optuna's default sampler"),
        Method("cmaes", _cmaes, False, "CMA-ES (optuna CmaEsSampler)"),
        Method(
            "ws-cmaes",
            _ws_cmaes,
            True,
            "warm-started CMA-ES: CmaEsSampler(source_trials=...) from the 3 most similar "
            "datasets",
            _prepare_ws_cmaes,
        ),
    )
}


#: Built-in methods that need the optional ``cmaes`` package (the ``[benchmark]`` extra).
NEEDS_CMAES = ("cmaes", "ws-cmaes")


def available_methods() -> dict[str, Method]:
    """Every method that can run here: the built-in baselines and MetaSampler's meta-models.

    The CMA-ES methods are left out when the ``cmaes`` package is not installed.
    """
    methods = dict(BUILTIN_METHODS)
    try:
        import cmaes  # noqa: F401
    except ImportError:
        for name in NEEDS_CMAES:
            methods.pop(name)
    methods.update(_metasampler_methods())
    return methods


def resolve_methods(names: Sequence[str | Method] | None) -> list[Method]:
    """Methods by name or as :class:`Method` objects (``None``: all available).

    ``metasampler:<option>=<value>,...`` names MetaSampler as shipped with some options set
    (e.g. ``metasampler:fade=25``). A :class:`Method` (e.g. :meth:`Method.from_sampler`) is used
    as given; its name must not be a built-in one.

    Raises:
        TypeError: ``names`` is a single string, or holds something else than names and methods.
        ValueError: Unknown or repeated names.
    """
    methods = available_methods()
    if names is None:
        return list(methods.values())
    if isinstance(names, str | Method):
        raise TypeError(
            f"methods must be a list of names or Method objects; got {names!r} alone "
            f"(write [{names!r}])."
        )
    wrong = [n for n in names if not isinstance(n, str | Method)]
    if wrong:
        raise TypeError(
            f"methods must be names (str) or metaopt.benchmark.Method objects; got {wrong!r}. "
            "Wrap a sampler factory with Method.from_sampler(name, lambda seed: ...)."
        )
    given = [n.name for n in names if isinstance(n, Method)]
    labels = [n.name if isinstance(n, Method) else n for n in names]
    repeated = sorted({n for n in labels if labels.count(n) > 1})
    if repeated:
        raise ValueError(f"methods {repeated} are given more than once; names must be unique.")
    clash = [n for n in given if n in methods or n.startswith("metasampler:")]
    if clash:
        raise ValueError(f"custom methods {clash} reuse a built-in name; give them another name.")
    for name in labels:
        if name in given:
            continue
        if name not in methods and name.startswith("metasampler:"):
            from metaopt.benchmark._metasampler import configured_method

            methods[name] = configured_method(name)
    for name in labels:
        if name in NEEDS_CMAES and name not in methods:
            from metaopt._extras import require

            require("cmaes", f"the {name!r} benchmark method")
    unknown = [n for n in labels if n not in methods and n not in given]
    if unknown:
        raise ValueError(
            f"unknown methods {unknown}; available: {sorted(methods)}, or "
            "'metasampler:<option>=<value>,...'."
        )
    return [n if isinstance(n, Method) else methods[n] for n in names]


def _metasampler_methods() -> dict[str, Method]:
    """The methods built on :class:`metaopt.MetaSampler` (empty when it cannot be imported)."""
    try:
        from metaopt.benchmark._metasampler import metasampler_methods
    except ImportError as error:  # the meta-model package is optional for the harness
        logger.info("MetaSampler methods unavailable: %s", error)
        return {}
    return metasampler_methods()
