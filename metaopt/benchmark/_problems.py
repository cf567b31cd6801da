"""Benchmark problems: what one trial evaluates, in pool mode (recorded) or live mode (real)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from metaopt.benchmark._metadataset import MetaDataset, params_records
from metaopt.metamodel import unit_encode


def suggest_flat(trial: optuna.Trial, distributions: dict[str, BaseDistribution]) -> dict:
    """Suggest every parameter of a flat search space (conditional ones included).

    Every method sees the same static search space, which CMA-ES needs; the objective ignores
    parameters that the configuration leaves inactive.
    """
    params: dict[str, object] = {}
    for name, dist in distributions.items():
        if isinstance(dist, FloatDistribution):
            params[name] = trial.suggest_float(
                name, dist.low, dist.high, log=dist.log, step=dist.step
            )
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(
                name, dist.low, dist.high, log=dist.log, step=dist.step
            )
        elif isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, list(dist.choices))
        else:
            raise TypeError(f"unsupported distribution for {name!r}: {type(dist).__name__}.")
    return params


class NearestConfig:
    """Vectorised nearest-configuration lookup in a pool of recorded configurations.

    Numbers are encoded by :func:`metaopt.metamodel.unit_encode` (``[0, 1]`` over the
    distribution's range, log-scaled where it is log); categorical parameters count 1 when they
    differ. A parameter inactive (missing) in a recorded configuration adds nothing, so a query
    snaps to the closest configuration among those whose active parameters it matches best.
    """

    def __init__(
        self, distributions: dict[str, BaseDistribution], records: list[dict[str, object]]
    ) -> None:
        self._numeric_dists = {
            n: d
            for n, d in distributions.items()
            if isinstance(d, (FloatDistribution, IntDistribution))
        }
        self.categorical = [
            n for n, d in distributions.items() if isinstance(d, CategoricalDistribution)
        ]
        self._choices = {
            n: {_label(c): i for i, c in enumerate(distributions[n].choices)}  # type: ignore[attr-defined]
            for n in self.categorical
        }
        numeric = unit_encode(self._numeric_dists, records, missing=np.nan)
        self._active = ~np.isnan(numeric)
        self._numeric = np.where(self._active, numeric, 0.0)
        self._codes = np.array(
            [
                [
                    self._choices[n].get(_label(r[n]), -2) if n in r else -1
                    for n in self.categorical
                ]
                for r in records
            ],
            dtype=int,
        ).reshape(len(records), len(self.categorical))

    def nearest(self, params: dict[str, object], exclude: np.ndarray | None = None) -> int:
        """Row index of the recorded configuration closest to ``params``.

        Rows where ``exclude`` is True are skipped unless every row is excluded.
        """
        distance = np.zeros(len(self._numeric))
        if self._numeric_dists:
            query = unit_encode(self._numeric_dists, [params], missing=np.nan)[0]
            known = ~np.isnan(query)
            diff = (self._numeric[:, known] - query[known]) ** 2
            distance += (diff * self._active[:, known]).sum(axis=1)
        if self.categorical:
            query_codes = np.array(
                [
                    self._choices[n].get(_label(params[n]), -3) if n in params else -1
                    for n in self.categorical
                ]
            )
            known = query_codes != -1
            codes = self._codes[:, known]
            distance += ((codes != query_codes[known]) & (codes != -1)).sum(axis=1)
        if exclude is not None and not exclude.all():
            distance = np.where(exclude, np.inf, distance)
        return int(np.argmin(distance))


@dataclass
class PoolProblem:
    """One dataset's pool of recorded evaluations: a trial scores the nearest untried config.

    Within one run every trial reveals a configuration not revealed before (the nearest among
    the rest of the pool, as in HPO-B's discrete search spaces), so a sampler that asks for
    nearly the same point twice gets the next-nearest configuration rather than a free repeat;
    only once the whole pool is used may configurations repeat. :meth:`reset` starts a run.

    Attributes:
        meta_name: Name of the meta-dataset the pool comes from.
        dataset: Dataset id.
        distributions: The flat search space.
        scores: Recorded score of each pool configuration.
        config_ids: Their ``config_id``.
        params: Their parameter dicts (for traces).
        encoder: Finds the pool configuration nearest to a requested one.
        used: Which pool configurations this run has revealed (``None`` before
            :meth:`reset`).
    """

    meta_name: str
    dataset: str
    distributions: dict[str, BaseDistribution]
    scores: np.ndarray
    config_ids: np.ndarray
    params: list[dict[str, object]]
    encoder: NearestConfig = field(repr=False)
    used: np.ndarray | None = field(default=None, repr=False)

    mode = "pool"

    @classmethod
    def from_meta(cls, meta: MetaDataset, dataset: str) -> PoolProblem:
        """The pool of ``dataset`` in ``meta``."""
        pool = meta.pool(dataset)
        records = params_records(pool, meta.param_names)
        return cls(
            meta_name=meta.name,
            dataset=dataset,
            distributions=meta.distributions,
            scores=pool["score"].to_numpy(dtype=float),
            config_ids=pool["config_id"].to_numpy(dtype=int),
            params=records,
            encoder=NearestConfig(meta.distributions, records),
        )

    @property
    def best(self) -> float:
        """Best recorded score."""
        return float(np.max(self.scores))

    @property
    def worst(self) -> float:
        """Worst recorded score."""
        return float(np.min(self.scores))

    def reset(self) -> None:
        """Start a new run: every configuration of the pool is untried again."""
        self.used = np.zeros(len(self.scores), dtype=bool)

    def evaluate(self, params: dict[str, object]) -> tuple[float, int]:
        """Score and ``config_id`` of the untried recorded configuration nearest to ``params``."""
        if self.used is None:
            self.reset()
        row = self.encoder.nearest(params, exclude=self.used)
        self.used[row] = True  # type: ignore[index]
        return float(self.scores[row]), int(self.config_ids[row])


@dataclass
class LiveProblem:
    """Real cross-validation of a :mod:`metaopt.spaces` model on a dataset.

    Attributes:
        meta_name: Name of the live benchmark (e.g. ``"live-random_forest"``).
        dataset: Dataset id (``"openml:<did>"``).
        space: Registered space name.
        data: The :class:`metaopt.Dataset`.
        cv: Number of CV folds.
        max_rows: Subsample larger datasets to this many rows (stratified by the objective).
    """

    meta_name: str
    dataset: str
    space: str
    data: object
    cv: int = 3
    max_rows: int | None = 2000
    mode = "live"
    _objective: object = field(default=None, repr=False)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        """The flat search space of the model."""
        from metaopt import spaces

        return dict(spaces.get(self.space, self.data.task).distributions)  # type: ignore[attr-defined]

    def evaluate(self, params: dict[str, object]) -> tuple[float, int]:
        """Mean CV score of the configuration (``config_id`` is -1: not from a pool)."""
        if self._objective is None:
            from metaopt import spaces

            space = spaces.get(self.space, self.data.task)  # type: ignore[attr-defined]
            self._objective = spaces.objective(
                space, self.data, cv=self.cv, seed=0, max_rows=self.max_rows
            )
        # The space's own suggest() reads exactly the parameters this configuration activates.
        score = self._objective(optuna.trial.FixedTrial(params))  # type: ignore[operator]
        return float(score), -1


def _label(value: object) -> str:
    return str(value)
