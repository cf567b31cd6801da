"""MetaSampler: an Optuna sampler warm-started by a meta-model of many past datasets."""

from __future__ import annotations

import difflib
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState, create_trial

from metaopt.exceptions import MetaoptWarning, warn_fallback
from metaopt.knowledge._base import KnowledgeBase
from metaopt.metamodel._base import MetaModel
from metaopt.metamodel._data import plain
from metaopt.metamodel._default import dataset_metafeatures, fitted_model, resolve_knowledge
from metaopt.metamodel._registry import MODEL_NAMES
from metaopt.samplers import _attrs
from metaopt.samplers._mapping import UNMAPPABLE, fit_config, fit_to_distribution
from metaopt.samplers._rerank import MIN_WEIGHT, fading_weight, rerank_candidates
from metaopt.samplers._transfer import InSearchTransfer, intersection

_logger = logging.getLogger("metaopt.samplers")


#: What :meth:`MetaSampler._guess_space` returns while the objective's names fit several spaces.
_UNDECIDED = object()

#: System attribute of a trial created by Optuna's ``RetryHeartbeatStaleTrialCallback`` (for a
#: trial whose worker died, once the heartbeat marked it failed): the number of the trial it
#: retries (what ``RetryHeartbeatStaleTrialCallback.retried_trial_number`` reads).
_RETRY_OF = "failed_trial"


def _is_fixed(trial: FrozenTrial) -> bool:
    """Whether the trial carries parameters fixed by the user (``study.enqueue_trial``)."""
    return bool(trial.system_attrs.get("fixed_params"))


def _is_retry(trial: FrozenTrial) -> bool:
    """Whether the trial is Optuna's retry of a stale trial (``RetryHeartbeatStaleTrialCallback``).

    Such a trial is created with the failed trial's parameters, user attributes and system
    attributes, copied: it evaluates what the failed trial evaluated, not a configuration of
    its own number.
    """
    return isinstance(trial.system_attrs.get(_RETRY_OF), int)


def _retried_warm_index(trial: FrozenTrial, n_warm: int) -> int | None:
    """The warm-start index a retry (see :func:`_is_retry`) evaluates, or ``None``.

    That of the trial it retries, read from the attributes the retry copied: the warm-start
    rank, or the index a handed-on trial evaluated; when the failed trial had not yet sampled
    anything, its own number below ``n_warm``. A retry of any other trial (the base sampler's,
    the transfer's, one the user fixed) evaluates no warm configuration.
    """
    if not _is_retry(trial) or _is_fixed(trial):
        return None
    warm = trial.user_attrs.get(_attrs.TRIAL_WARM_START)
    if isinstance(warm, dict) and isinstance(warm.get("rank"), int):
        return int(warm["rank"]) - 1
    handed_on = trial.system_attrs.get(_attrs.TRIAL_HANDED_ON)
    if isinstance(handed_on, int):
        return handed_on
    original = int(trial.system_attrs[_RETRY_OF])
    if trial.params or original >= n_warm or _attrs.TRIAL_WARM_REPEAT in trial.user_attrs:
        return None
    return original


def _added(trial: FrozenTrial) -> bool:
    """Whether the trial was added finished (``study.add_trial``) rather than run.

    A finished trial that evaluated a handed-on warm configuration carries
    :data:`_attrs.TRIAL_HANDED_ON` (or, from older versions, the warm-start attribute); one added
    finished never went through :meth:`MetaSampler.before_trial` and carries neither. A trial
    still running is never one that was added.
    """
    return (
        trial.state.is_finished()
        and _attrs.TRIAL_HANDED_ON not in trial.system_attrs
        and _attrs.TRIAL_WARM_START not in trial.user_attrs
    )


def _check_space_known(space: str, known: list[str]) -> None:
    """Raise a ``ValueError`` for a ``space=`` that the knowledge base lacks (a misspelt name)."""
    if space in known:
        return
    close = difflib.get_close_matches(space, known, n=3)
    hint = f" (did you mean {close}?)" if close else ""
    raise ValueError(
        f"unknown knowledge space {space!r}{hint}: space= names the knowledge-base space whose "
        f"configurations warm-start the study, and the knowledge base holds {known}; pass "
        "space=None to choose it from the objective's parameter names, or n_warm=0 for no "
        "warm start"
    )


@dataclass(frozen=True)
class WarmStart:
    """One warm-start configuration: what it is and why."""

    params: dict[str, Any]
    score: float
    source: str


class MetaSampler(BaseSampler):
    """Optuna sampler that transfers what worked on other datasets into the study, throughout.

    Trials numbered ``0 .. n_warm - 1`` evaluate the meta-model's first suggestions for the
    dataset. After them, with the default meta-model (:class:`~metaopt.metamodel.
    TransferEnsemble`), transfer goes on inside the search: after every trial the known
    datasets are re-weighted by how well each one's recorded results rank the configurations
    this study has observed, and the next trial evaluates the configuration with the highest
    expected improvement under that mixture, generated and ranked in the objective's own
    distributions (parameters it lacks are dropped, ones the knowledge lacks come from the base
    sampler, no configuration is proposed twice). A growing share of trials, ``n / (n + fade)``
    after ``n`` own trials, and every trial once transfer expects no improvement, goes to the
    wrapped ``base_sampler``, which sees all trials as ordinary history. Each suggested value is
    mapped to the distribution the objective asks for by parameter name: numbers are clipped to
    the range and rounded to the step, categories must match a choice, anything else goes to
    the base sampler.

    Every :class:`~optuna.samplers.BaseSampler` hook is passed to the base sampler, so any
    Optuna sampler can be wrapped (TPE by default).

    **Distributed studies.** Trial numbers are assigned atomically by every Optuna storage, so
    the worker that creates trial ``k < n_warm`` evaluates warm-start configuration ``k``: with
    any number of processes on one RDB or journal storage each configuration is evaluated
    exactly once and no worker waits for another. When trial ``k`` carries parameters the user
    fixed (``study.enqueue_trial``), its configuration moves to a later trial number that every
    worker computes the same way from the study's trials. Warm starting applies to the first
    trial numbers of a study: a study resumed past them simply continues.

    **Attributes written.** Each warm-start trial gets the user attribute
    ``"metaopt:warm_start"`` (rank, model, source, predicted score; shown by
    optuna-dashboard). The study gets the dataset's metafeatures, task, space and identity as
    user attributes, so :func:`metaopt.knowledge.from_studies` can learn from it later.

    **Past studies as sources.** ``source_studies`` adds the user's own finished studies (any
    Optuna storage, any search space) to the knowledge, or replaces it with
    ``knowledge=False``; each study is one more known dataset.

    **Fallbacks.** An objective sharing no parameter with the knowledge base, a dataset whose
    metafeatures cannot be computed or a knowledge base that cannot be read emit a
    :class:`metaopt.exceptions.FallbackWarning` (and are logged on ``"metaopt.samplers"``),
    and the study continues with the portfolio or the base sampler alone; errors in the
    arguments themselves raise at construction, a ``space`` the knowledge base lacks as soon
    as it is read (at construction for a :class:`~metaopt.knowledge.KnowledgeBase` object,
    else when the first trial starts, which then ends failed).

    Args:
        dataset: The dataset being tuned: anything :func:`metaopt.load_dataset` accepts. May be
            ``None`` when ``metafeatures`` are given.
        space: Knowledge-base space whose configurations warm-start the study (e.g.
            ``"random_forest"``; a name the knowledge base lacks raises ``ValueError``, see
            *Fallbacks*). ``None``: the space sharing most parameter names with the
            objective's parameters, chosen at the first warm-start trial.
        n_warm: How many warm-start trials. The default, 5, was chosen by replaying searches on
            knowledge pools the benchmark does not report: re-weighting the known datasets on
            fewer results costs more than it gains. 0 turns the knowledge off (no warm start,
            transfer or re-ranking): the base sampler alone, the study still recorded.
        base_sampler: The sampler for everything else; default ``TPESampler(seed=seed)``.
        knowledge: A :class:`metaopt.knowledge.KnowledgeBase`, a directory holding one, or
            ``None`` for the shipped knowledge base.
        model: Meta-model name or instance (see :func:`metaopt.suggest`); ``None``: default.
        metafeatures: Precomputed metafeatures of the dataset (skips extraction).
        task: ``"classification"`` or ``"regression"``; taken from ``dataset`` when omitted.
        seed: Seed of the default base sampler, of the space-filling candidates and of which
            trials go to the base sampler.
        source_studies: Finished :class:`optuna.Study` objects (or names in ``storage``) whose
            trials are known datasets too (see :func:`metaopt.knowledge.from_studies`).
        storage: The storage of ``source_studies`` given by name.
        transfer: Keep transferring after the warm start (needs a meta-model with
            ``session``, as the default has); ``False``: the base sampler takes over.
        fade: After ``n`` own trials, a trial goes to the base sampler with probability
            ``n / (n + fade)``.
        rerank: After the warm start, draw this many candidates from the base sampler and keep
            the one the meta-model predicts best, with probability
            ``n_warm / (n_warm + trials of the study's own)`` until that falls below 0.2.
            0 (default) turns it off. Needs a model with ``predict`` (the surrogate) and is meant
            for independent base samplers such as the default TPE.

    Example:
        >>> import optuna
        >>> import metaopt
        >>> from metaopt.samplers import MetaSampler
        >>> dataset = metaopt.load_dataset("sklearn:breast_cancer")
        >>> objective = metaopt.spaces.objective(metaopt.spaces.get("knn"), dataset, cv=3)
        >>> sampler = MetaSampler(dataset, space="knn", n_warm=3, seed=0)
        >>> study = optuna.create_study(direction="maximize", sampler=sampler)
        >>> study.optimize(objective, n_trials=5)
        >>> sum("metaopt:warm_start" in t.user_attrs for t in study.trials)
        3
    """

    def __init__(
        self,
        dataset: Any = None,
        *,
        space: str | None = None,
        n_warm: int = 5,
        base_sampler: BaseSampler | None = None,
        knowledge: Any = None,
        model: str | MetaModel | None = None,
        metafeatures: pd.Series | dict[str, float] | None = None,
        task: str | None = None,
        seed: int | None = None,
        rerank: int = 0,
        source_studies: Sequence[optuna.Study | str] | None = None,
        storage: str | optuna.storages.BaseStorage | None = None,
        transfer: bool = True,
        fade: float = 100.0,
    ) -> None:
        if not isinstance(fade, int | float) or isinstance(fade, bool) or not fade > 0:
            raise ValueError(f"fade must be a positive number, got {fade!r}")
        if source_studies is not None and not isinstance(source_studies, list | tuple):
            raise TypeError(
                "source_studies must be a list of optuna.Study objects or study names, got "
                f"{type(source_studies).__name__}"
            )
        if not isinstance(rerank, int) or isinstance(rerank, bool) or rerank < 0:
            raise ValueError(f"rerank must be an int >= 0 (0 = off), got {rerank!r}")
        if not isinstance(n_warm, int) or isinstance(n_warm, bool) or n_warm < 0:
            raise ValueError(f"n_warm must be an int >= 0, got {n_warm!r}")
        if base_sampler is not None and not isinstance(base_sampler, BaseSampler):
            raise TypeError(
                f"base_sampler must be an optuna BaseSampler, got {type(base_sampler).__name__}"
            )
        if space is not None and not isinstance(space, str):
            raise TypeError(f"space must be a str or None, got {type(space).__name__}")
        if model is not None and not isinstance(model, MetaModel) and model not in MODEL_NAMES:
            raise ValueError(
                f"unknown meta-model {model!r}; accepted: {list(MODEL_NAMES)} or a MetaModel"
            )
        if task is not None and task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        if seed is not None and (
            not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0
        ):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        if not isinstance(transfer, bool):
            raise ValueError(f"transfer must be a bool, got {transfer!r}")
        if source_studies and storage is None:
            names = [s for s in source_studies if isinstance(s, str)]
            if names:
                raise ValueError(
                    f"source_studies names {names} need storage= (the Optuna storage that "
                    "holds them); or pass the optuna.Study objects"
                )
        if knowledge is False and not source_studies:
            raise ValueError(
                "knowledge=False leaves MetaSampler nothing to learn from: pass source_studies= "
                "(your past Optuna studies), or leave knowledge= unset for the shipped base"
            )
        if space is not None and n_warm > 0 and not source_studies:
            if isinstance(knowledge, KnowledgeBase):  # known now; a stored base at first use
                _check_space_known(space, knowledge.spaces)
        self._base_sampler = base_sampler if base_sampler is not None else TPESampler(seed=seed)
        self._n_warm = n_warm
        self._seed = (
            int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        )
        self._transfer_enabled = bool(transfer)
        self._fade = float(fade)
        self._source_studies = list(source_studies or [])
        self._storage = storage
        self._transfer: InSearchTransfer | None = None
        self._roles: dict[tuple[str, int], str] = {}
        self._space = space
        self._knowledge = knowledge
        # What reloads it after unpickling: the argument as given (None or a folder), or the
        # table itself when it cannot be reloaded (an object, or merged with source studies).
        self._knowledge_origin = knowledge
        self._model = model
        self._dataset_info: dict[str, Any] = {}
        self._metafeatures = self._init_metafeatures(dataset, metafeatures)
        self._task = task or self._dataset_info.get("task")
        if self._task is None and self._metafeatures is not None:
            self._task = self._metafeatures.attrs.get("task")
        self._warm: list[WarmStart] | None = None
        self._warm_origin: dict[str, Any] = {}
        self._assigned: dict[tuple[str, int], int] = {}
        self._rerank = rerank
        self._rng = np.random.RandomState(seed)
        self._fitted: MetaModel | None = None
        self._reranked: set[tuple[str, int]] = set()
        self._recorded_studies: set[str] = set()
        # Studies the knowledge cannot help (warned once each): the base sampler runs them.
        self._unhelped: set[str] = set()
        self._multi_objective: set[str] = set()  # warned that transfer is off for them
        self._undecided: set[tuple[str, int]] = set()  # trials run before the space is known
        # What the transfer proposed to this process's running trials (see InSearchTransfer).
        self._proposals: dict[tuple[str, int], dict[str, Any]] = {}
        # Parameters of a warm or transfer trial left to the base sampler's relative sampling.
        self._completed_by_base: dict[tuple[str, int], set[str]] = {}
        self._lock = threading.Lock()
        self._transfer_lock = threading.Lock()  # one transfer proposal at a time

    # ------------------------------------------------------------------ set-up

    def _init_metafeatures(
        self, dataset: Any, metafeatures: pd.Series | dict[str, float] | None
    ) -> pd.Series | None:
        if metafeatures is not None:
            if isinstance(metafeatures, dict):
                metafeatures = pd.Series(metafeatures, dtype=float)
            if not isinstance(metafeatures, pd.Series):
                raise TypeError(
                    f"metafeatures must be a pandas Series or a dict, got "
                    f"{type(metafeatures).__name__}"
                )
        if dataset is None:
            return metafeatures  # without either, a model needing them warns when it ranks
        from metaopt.datasets import Dataset, load_dataset

        data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
        self._dataset_info = {
            "name": data.name,
            "source": data.source,
            "fingerprint": data.fingerprint,
            "task": data.task,
            "shape": list(data.shape),
        }
        if metafeatures is not None:
            return metafeatures
        try:
            return dataset_metafeatures(data)
        except Exception as error:  # extraction failure must not stop the study
            warn_fallback(
                _logger,
                f"metafeature extraction failed for {data.name} ({error}): warm-starting "
                "without the dataset's description",
            )
            return None

    def _warm_configs(
        self, study: Study, trial: FrozenTrial, param: str | None
    ) -> list[WarmStart]:
        """The warm-start list, computed once (thread-safe)."""
        key = (study.study_name, trial.number)
        with self._lock:
            if key in self._undecided:
                return []  # this trial is the base sampler's (see _guess_space)
            if self._warm is None:
                space = self._space or self._guess_space(study, trial, param)
                if space is _UNDECIDED:
                    if param is not None:
                        self._undecided.add(key)
                    return []
                if space is None and self._space is None and param is None:
                    return []  # decided at the first parameter request, which names one
                self._warm = self._compute_warm(space)
                guessed = self._warm_origin.get("space") if self._space is None else None
                if guessed is not None:
                    # The study's record names the space it tuned (read by from_studies).
                    _attrs.set_study_user_attr(study, _attrs.STUDY_SPACE, guessed)
            return self._warm

    def _compute_warm(self, space: str | None) -> list[WarmStart]:
        """The warm-start list for ``space``.

        Raises:
            ValueError: for a ``space=`` the knowledge base lacks (source studies given as
                well are that space's, whatever its name). Any other problem falls back to the
                base sampler with a warning.
        """
        if space is None:
            return []
        try:
            kb = self._knowledge_base()
        except Exception as error:  # logged fallback to the base sampler, never a crash
            warn_fallback(_logger, f"warm start disabled ({error}); using the base sampler only")
            return []
        if space == self._space:
            _check_space_known(space, kb.spaces)
        try:
            kb.check_covers(space, self._task)
            ranked, model_name = self._ranked(kb, space)
        except Exception as error:  # logged fallback to the base sampler, never a crash
            warn_fallback(_logger, f"warm start disabled ({error}); using the base sampler only")
            return []
        self._warm_origin = {"model": model_name, "space": space}
        model = self._fitted
        if self._transfer_enabled and model is not None and hasattr(model, "session"):
            self._transfer = InSearchTransfer(model, self._metafeatures, space, self._task)
        return [
            WarmStart(plain(p), float(s), str(src))
            for p, s, src in zip(ranked["params"], ranked["score"], ranked["source"], strict=True)
        ]

    def _ranked(self, kb: Any, space: str) -> tuple[pd.DataFrame, str]:
        task = self._task
        model = fitted_model(self._model, kb, space)
        self._fitted = model
        if not model.uses_metafeatures:  # the model's own ranking needs no description
            frame = model.explain(None, self._n_warm, space=space, task=task)
            return frame, type(model).__name__
        if self._metafeatures is None:
            warn_fallback(
                _logger,
                f"{type(model).__name__} needs the dataset's metafeatures, which are unknown "
                "(no dataset or metafeatures given): using the portfolio",
            )
        else:
            try:
                frame = model.explain(self._metafeatures, self._n_warm, space=space, task=task)
                return frame, type(model).__name__
            except ValueError as error:
                warn_fallback(_logger, f"meta-model failed ({error}): using the portfolio")
        portfolio = fitted_model("portfolio", kb, space)
        return portfolio.explain(None, self._n_warm, space=space, task=task), "Portfolio"

    def _knowledge_base(self) -> Any:
        if self._source_studies:
            from metaopt.knowledge import from_studies

            studies = from_studies(self._storage, self._source_studies)
            if self._space is not None:  # the studies tuned this same space
                studies.evaluations["space"] = self._space
            shipped = None if self._knowledge is False else resolve_knowledge(self._knowledge)
            self._knowledge = studies if shipped is None else shipped.concat(studies)
            self._knowledge_origin = self._knowledge
            self._source_studies = []
        elif self._knowledge is False:
            raise ValueError("knowledge=False needs source_studies to learn from")
        kb = resolve_knowledge(self._knowledge)
        self._knowledge = kb  # later calls reuse the loaded table
        return kb

    def _guess_space(self, study: Study, trial: FrozenTrial, param: str | None) -> Any:
        """The knowledge space for the objective's parameters seen so far (see
        :meth:`KnowledgeBase.space_matches`), ``None`` when none fits, or :data:`_UNDECIDED`.

        Undecided: before any trial has finished, the first names fit several spaces equally
        (``C`` fits ``svm`` and ``logistic_regression``, ``max_features`` the forests and
        gradient boosting). That trial is then the base sampler's, and its warm-start
        configuration goes to a later trial, once a finished trial shows all the names.
        """
        names = set(trial.distributions) | ({param} if param else set())
        finished = False
        for past in study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)
        ):
            finished = finished or bool(past.distributions)
            names |= set(past.distributions)
        if not names:
            return None
        try:
            kb = self._knowledge_base()
            matches = kb.space_matches(names, self._task)
        except Exception as error:  # logged fallback to the base sampler
            warn_fallback(_logger, f"warm start disabled: knowledge base unusable ({error})")
            return None
        most = int(matches["shared"].max()) if len(matches) else 0
        if most == 0:
            warn_fallback(
                _logger,
                f"warm start disabled: the objective's parameters {sorted(names)} match no "
                f"space of the knowledge base {sorted(matches['space'])}",
            )
            return None
        if not finished and int((matches["shared"] == most).sum()) > 1:
            return _UNDECIDED
        best = str(matches["space"].iloc[0])
        warn_fallback(
            _logger,
            f"MetaSampler chose the knowledge space {best!r} for the parameters "
            f"{sorted(names)} (shares {int(matches['shared'].iloc[0])}); pass space= to choose "
            "it yourself",
        )
        return best

    # ------------------------------------------------------------------ hooks

    def reseed_rng(self) -> None:
        self._base_sampler.reseed_rng()
        self._rng.seed()
        self._seed = int(np.random.SeedSequence().entropy % 2**31)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._base_sampler.before_trial(study, trial)
        self._record_study(study)
        if self._n_warm == 0:
            return
        if _is_fixed(trial):
            return  # the user's own parameters (enqueue_trial, a retry of such a trial)
        if trial.number > 0 and self._knowledge_cannot_help(study):
            return
        index: int | None = None
        skipped = False
        if _is_retry(trial):
            # Optuna's retry of a failed trial: it evaluates what that trial evaluated.
            index = _retried_warm_index(trial, self._n_warm)
            if index is None:
                return  # the failed trial's parameters; the base sampler samples the rest
            if trial.system_attrs.get(_attrs.TRIAL_HANDED_ON) != index:
                _attrs.set_trial_system_attr(study, trial, _attrs.TRIAL_HANDED_ON, index)
        elif trial.number < self._n_warm:
            index = trial.number
            same_as = self._repeats_earlier_warm(study, index)
            if same_as is not None:
                # Counted as done (never handed on); the trial gets a new configuration.
                info = {"rank": index + 1, "same_as_rank": same_as + 1}
                _attrs.set_trial_user_attr(study, trial, _attrs.TRIAL_WARM_REPEAT, info)
                index, skipped = None, True
        else:
            index = self._handed_on_index(study, trial.number)
            if index is not None:
                # Tells the other workers that this trial took it, once it has finished.
                _attrs.set_trial_system_attr(study, trial, _attrs.TRIAL_HANDED_ON, index)
        if index is not None:
            with self._lock:
                self._assigned[(study.study_name, trial.number)] = index
        elif (trial.number >= self._n_warm or skipped) and self._transfers(study, trial):
            with self._lock:
                self._roles[(study.study_name, trial.number)] = "transfer"

    def _knowledge_cannot_help(self, study: Study) -> bool:
        """Whether no warm-start configuration can be expressed in the objective's space.

        The objective's space is that of the study's first trial with parameters (as for
        :meth:`_repeats_earlier_warm`). When none of the configurations maps into it (no shared
        parameter name, or values of another kind, such as strings for an integer), neither the
        warm start nor the transfer has anything to offer: the study is the base sampler's.
        """
        if study.study_name in self._unhelped:
            return True
        if self._warm is None:
            return False  # not known yet in this process; decided on a later trial
        distributions = next(
            (t.distributions for t in study.get_trials(deepcopy=False) if t.distributions), None
        )
        if not distributions or any(fit_config(w.params, distributions) for w in self._warm):
            return False
        with self._lock:
            self._unhelped.add(study.study_name)
        if self._warm:
            warn_fallback(
                _logger,
                f"warm start disabled: no configuration of the knowledge space "
                f"{self._warm_origin.get('space')!r} can be expressed in the objective's "
                f"parameters {sorted(distributions)}; using the base sampler only",
            )
        return True

    def _transfers(self, study: Study, trial: FrozenTrial) -> bool:
        """Whether in-search transfer proposes this trial (deterministic per seed and number)."""
        if not self._transfer_enabled:
            return False
        if len(study.directions) > 1:
            if study.study_name not in self._multi_objective:
                with self._lock:
                    self._multi_objective.add(study.study_name)
                warn_fallback(
                    _logger,
                    "in-search transfer needs a single objective: this multi-objective study "
                    "gets the warm start, then the base sampler",
                )
            return False
        if self._warm is None:  # the warm start ran in another process: set it up here too
            try:
                self.warm_start_configs(study)
            except ValueError:
                # An unknown space= (see _compute_warm), raised while Optuna creates the trial:
                # end the trial rather than leave it running.
                _attrs.fail_trial(study, trial)
                raise
        if self._transfer is None:
            return False
        n_own = trial.number - self._n_warm
        share_to_base = n_own / (n_own + self._fade)
        draw = np.random.default_rng([self._seed, trial.number]).uniform()
        return bool(draw >= share_to_base)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        index = self._warm_index(study, trial)
        if index is not None:
            # Warm-start values come from sample_independent; the base sampler's relative
            # sampling only for parameters of its space the configuration cannot give.
            warm = self._warm if self._warm is not None and index < len(self._warm) else None
            if warm is None or isinstance(self._base_sampler, TPESampler):
                return {}  # TPE samples the rest independently (see _base_relative)
            base_space = self._base_sampler.infer_relative_search_space(study, trial)
            rest = {
                name
                for name, distribution in base_space.items()
                if fit_to_distribution(warm[index].params.get(name), distribution) is UNMAPPABLE
            }
            if not rest:
                return {}
            with self._lock:
                self._completed_by_base[(study.study_name, trial.number)] = rest
            return base_space
        if (study.study_name, trial.number) in self._roles:
            space = intersection(study)
            if space:
                return space
            with self._lock:
                self._roles.pop((study.study_name, trial.number), None)
        if self._rerank > 0:
            space = self._rerank_space(study, trial)
            if space:
                with self._lock:
                    self._reranked.add((study.study_name, trial.number))
                return space
        return self._base_sampler.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        key = (study.study_name, trial.number)
        if self._warm_index(study, trial) is not None:
            rest = self._completed_by_base.get(key)
            if not rest or not search_space:
                return {}
            values = self._base_sampler.sample_relative(study, trial, search_space)
            return {name: value for name, value in values.items() if name in rest}
        if key in self._roles:
            assert self._transfer is not None  # a role is only given with transfer set up
            with self._transfer_lock:  # threads: one proposal at a time, each sees the others
                running = {
                    number: params
                    for (name, number), params in self._proposals.items()
                    if name == study.study_name
                }
                proposal = self._transfer.propose(study, trial, search_space, self._seed, running)
                if proposal is not None:
                    self._proposals[key] = proposal
            if proposal is not None:
                return {**self._base_relative(study, trial, search_space, proposal), **proposal}
            # Nothing left to transfer: this trial is the base sampler's, as a whole.
            with self._lock:
                self._roles.pop(key, None)
            return self._base_relative(study, trial, search_space, {})
        if key in self._reranked and search_space:
            assert self._fitted is not None and self._metafeatures is not None  # set together
            chosen = rerank_candidates(
                study,
                trial,
                search_space,
                self._base_sampler,
                self._fitted,
                self._metafeatures,
                space=self._warm_origin["space"],
                task=self._task,
                n_candidates=self._rerank,
            )
            _attrs.set_trial_user_attr(study, trial, _attrs.TRIAL_RERANKED, self._rerank)
            return chosen
        return self._base_sampler.sample_relative(study, trial, search_space)

    def _base_relative(
        self,
        study: Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
        given: dict[str, Any],
    ) -> dict[str, Any]:
        """The base sampler's relative values for the parameters of ``search_space`` not given.

        The base sampler samples its own relative search space; only the values Optuna can take
        as relative ones (those of ``search_space``, which this trial's relative search space
        is) and not in ``given`` are kept. A relative-only base sampler (CMA-ES, QMC, GP) thus
        models the parameters the knowledge lacks, instead of falling back to random sampling
        with a warning for each of them. TPE, whose independent sampling is a model of its own,
        samples them independently, as it always has.
        """
        if given and isinstance(self._base_sampler, TPESampler):
            return {}
        base_space = self._base_sampler.infer_relative_search_space(study, trial)
        if not any(name in search_space and name not in given for name in base_space):
            return {}
        values = self._base_sampler.sample_relative(study, trial, base_space)
        return {
            name: value
            for name, value in values.items()
            if name in search_space and name not in given
        }

    def _rerank_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        """The parameters to re-rank for this trial, or {} when it is not re-ranked."""
        if self._warm is None or not self._warm or self._metafeatures is None:
            return {}
        if self._fitted is None or not hasattr(self._fitted, "predict"):
            return {}
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        n_own = sum(_attrs.TRIAL_WARM_START not in t.user_attrs for t in done)
        weight = fading_weight(self._n_warm, n_own)
        if weight < MIN_WEIGHT or self._rng.uniform() >= weight:
            return {}
        space = optuna.search_space.IntersectionSearchSpace().calculate(study)
        known = {name for warm in self._warm for name in warm.params}
        return {k: d for k, d in space.items() if k in known and not d.single()}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        index = self._warm_index(study, trial)
        if index is not None:
            warm = self._warm_configs(study, trial, param_name)
            if index < len(warm):
                value = fit_to_distribution(warm[index].params.get(param_name), param_distribution)
                if value is not UNMAPPABLE:
                    self._mark_warm(study, trial, index, warm[index])
                    return value
        return self._base_sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._assigned.pop((study.study_name, trial.number), None)
            self._reranked.discard((study.study_name, trial.number))
            self._roles.pop((study.study_name, trial.number), None)
            self._undecided.discard((study.study_name, trial.number))
            self._proposals.pop((study.study_name, trial.number), None)
            self._completed_by_base.pop((study.study_name, trial.number), None)
        self._base_sampler.after_trial(study, trial, state, values)

    # ------------------------------------------------------------------ helpers

    def _handed_on_index(self, study: Study, number: int) -> int | None:
        """The warm index trial ``number`` (>= n_warm) evaluates for an earlier trial.

        A trial number below ``n_warm`` hands its warm configuration on when it could not or
        did not evaluate it: it carries parameters the user fixed (``enqueue_trial``), it is
        Optuna's retry of another failed trial (``RetryHeartbeatStaleTrialCallback``), it was added
        finished (``add_trial``), or it failed (its configuration is retried once, e.g. after
        a worker died and Optuna's heartbeat marked the trial failed; not when Optuna retries
        it already). Each such configuration goes to the first later trial from ``n_warm``
        on, without fixed parameters, not a retry and not itself added finished (see
        :func:`_added`), created after the configuration became available (the failure's
        time), in trial-number order. Every storage numbers trials densely in creation order
        and stores their start and end times, so every worker computes the same answer from
        the trials before ``number`` without coordinating.
        """
        trials = {t.number: t for t in study.get_trials(deepcopy=False) if t.number <= number}
        retried = {_retried_warm_index(t, self._n_warm) for t in trials.values()}
        available: list[tuple[Any, int]] = []
        earliest = datetime.min
        for k in range(self._n_warm):
            past = trials.get(k)
            if past is None:
                continue
            if _is_fixed(past) or _is_retry(past):
                available.append((earliest, k))  # it evaluates other parameters
                continue
            if _attrs.TRIAL_WARM_REPEAT in past.user_attrs:
                continue  # its configuration is an earlier warm trial's
            if k in retried:
                continue  # Optuna's retry of the failed trial evaluates it
            done = past.state.is_finished()
            if past.state == TrialState.FAIL or (
                done and _attrs.TRIAL_WARM_START not in past.user_attrs
            ):
                available.append((past.datetime_complete or earliest, k))
        if not available:
            return None
        available.sort()
        taken: set[int] = set()
        for m in range(self._n_warm, number + 1):
            candidate = trials.get(m)
            if candidate is None or _is_fixed(candidate) or _is_retry(candidate):
                continue  # absent, or evaluating parameters given to it
            if _added(candidate):
                continue
            recorded = candidate.system_attrs.get(_attrs.TRIAL_HANDED_ON)
            if isinstance(recorded, int):
                taken.add(recorded)  # what that trial took, whatever became of it since
                continue
            start = candidate.datetime_start or datetime.max
            for when, k in available:
                if k not in taken and when <= start:
                    taken.add(k)
                    if m == number:
                        return k
                    break
        return None

    def _repeats_earlier_warm(self, study: Study, index: int) -> int | None:
        """The earlier warm index that ``index`` repeats in the objective's own space, if any.

        The objective's distributions are those of the study's first trial with parameters;
        clipped and rounded into them (a narrower range, a step), two configurations of the
        list can become the same trial, which would then be evaluated twice.
        """
        if index == 0 or self._warm is None or index >= len(self._warm):
            return None
        distributions = next(
            (t.distributions for t in study.get_trials(deepcopy=False) if t.distributions), None
        )
        if not distributions:
            return None
        mapped = fit_config(self._warm[index].params, distributions)
        for j in range(index):
            if fit_config(self._warm[j].params, distributions) == mapped:
                return j
        return None

    def _warm_index(self, study: Study, trial: FrozenTrial) -> int | None:
        return self._assigned.get((study.study_name, trial.number))

    def _mark_warm(self, study: Study, trial: FrozenTrial, index: int, warm: WarmStart) -> None:
        if _attrs.TRIAL_WARM_START in trial.user_attrs:
            return
        info = {
            "rank": index + 1,
            "model": self._warm_origin.get("model"),
            "space": self._warm_origin.get("space"),
            "source": warm.source,
            "score": round(warm.score, 6) if np.isfinite(warm.score) else None,
        }
        _attrs.set_trial_user_attr(study, trial, _attrs.TRIAL_WARM_START, info)

    def _record_study(self, study: Study) -> None:
        """Write the dataset's description to the study once per process."""
        if study.study_name in self._recorded_studies:
            return
        self._recorded_studies.add(study.study_name)
        present = _attrs.study_user_attrs(study)
        updates: dict[str, Any] = {}
        if self._metafeatures is not None:
            updates[_attrs.STUDY_METAFEATURES] = _attrs.json_floats(self._metafeatures.to_dict())
        if self._dataset_info:
            updates[_attrs.STUDY_DATASET] = self._dataset_info
        if self._task is not None:
            updates[_attrs.STUDY_TASK] = self._task
        space = self._space or self._warm_origin.get("space")
        if space is not None:
            updates[_attrs.STUDY_SPACE] = space
        import metaopt

        updates[_attrs.STUDY_VERSION] = metaopt.__version__
        recorded = present.get(_attrs.STUDY_DATASET)
        ours = self._dataset_info.get("fingerprint")
        if isinstance(recorded, dict) and recorded.get("fingerprint") not in (None, ours) and ours:
            # The study's record describes its earlier trials: keep it, and say so.
            message = (
                f"study {study.study_name!r} was run on other data ({recorded.get('name')}, "
                f"fingerprint {recorded.get('fingerprint')}) than this sampler's "
                f"({self._dataset_info.get('name')}, fingerprint {ours}): its earlier trials' "
                "values do not describe this data, yet the search learns from them; use a new "
                "study for new data"
            )
            _logger.warning(message)
            warnings.warn(message, MetaoptWarning, stacklevel=3)
            updates.pop(_attrs.STUDY_DATASET, None)
            updates.pop(_attrs.STUDY_METAFEATURES, None)
        for key, value in updates.items():
            if present.get(key) != value:
                _attrs.set_study_user_attr(study, key, value)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"], state["_transfer_lock"]
        if self._knowledge_origin is None or isinstance(self._knowledge_origin, str | os.PathLike):
            # The loaded table (about 50 MB for the shipped one) is reloaded where needed.
            state["_knowledge"] = self._knowledge_origin
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_proposals", {})  # pickled by an earlier version
        self.__dict__.setdefault("_completed_by_base", {})
        self._lock = threading.Lock()
        self._transfer_lock = threading.Lock()

    @property
    def base_sampler(self) -> BaseSampler:
        """The wrapped sampler."""
        return self._base_sampler

    @property
    def metafeatures(self) -> pd.Series | None:
        """The dataset's metafeatures (``None`` when they could not be computed)."""
        return self._metafeatures

    def warm_start_configs(self, study: optuna.Study | None = None) -> list[WarmStart]:
        """The warm-start configurations, best first (computes them when needed).

        With ``space=None``, the space is guessed from ``study``'s completed trials.
        """
        if self._warm is None and self._space is None:
            if study is None:
                return []
            dummy = create_trial(state=TrialState.WAITING)
            return self._warm_configs(study, dummy, None)
        if self._warm is None:
            with self._lock:
                if self._warm is None:
                    self._warm = self._compute_warm(self._space)
        return list(self._warm)
