"""MetaSearchCV: a scikit-learn search estimator whose Optuna study MetaSampler warm-starts."""

from __future__ import annotations

import copy
import inspect
import logging
import numbers
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier, is_regressor
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv, cross_validate
from sklearn.utils import get_tags, indexable
from sklearn.utils._tags import ClassifierTags, RegressorTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_is_fitted,
    check_random_state,
    column_or_1d,
    validate_data,
)

from metaopt.exceptions import warn_fallback

_logger = logging.getLogger("metaopt.search_cv")

#: Trial user attribute holding one trial's per-split scores and times.
TRIAL_CV = "metaopt:cv"
#: Trial user attribute MetaSampler writes on its warm-start trials.
_TRIAL_WARM_START = "metaopt:warm_start"
_TASKS = ("classification", "regression")
_DEFAULT_SPACE = "hist_gradient_boosting"


def _estimator_has(attr: str) -> Callable[[MetaSearchCV], bool]:
    """Whether the refitted best estimator (or, before fit, the one to tune) has ``attr``."""

    def check(self: MetaSearchCV) -> bool:
        if hasattr(self, "best_estimator_"):
            return hasattr(self.best_estimator_, attr)
        return hasattr(self._unfitted_estimator(), attr)

    return check


class MetaSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Hyperparameter search with cross-validation, warm-started by :class:`~metaopt.MetaSampler`.

    ``fit(X, y)`` describes the data by its metafeatures, runs an Optuna study whose first
    ``n_warm`` trials evaluate the configurations the meta-model proposes for such data (later
    trials are transfer proposals re-weighted by the search's own results, or TPE's), and
    refits the best configuration on all of ``X``. Like
    :class:`~sklearn.model_selection.GridSearchCV` it then predicts through
    ``best_estimator_`` and reports every trial in ``cv_results_``.

    What is tuned is either a named search space (``space="random_forest"``: the space's
    scikit-learn pipeline, preprocessing included, see :mod:`metaopt.spaces`) or your own
    ``estimator`` with ``param_distributions``, a dict of Optuna distributions keyed by
    :meth:`~sklearn.base.BaseEstimator.set_params` names. The warm start matches parameters by
    name, and a parameter of a pipeline step (``"model__C"``) is known to the study by its last
    part (``"C"``) when that is unambiguous, so a pipeline ending in ``SVC`` is warm-started from
    the ``svm`` space; ``best_params_`` and ``cv_results_`` keep your names.

    Every trial is scored on the same splits (``cv`` is split once per fit), so scores are
    comparable across trials; ``random_state`` fixes the sampler, and with it the whole search.

    Args:
        space: Name of a registered search space (see :func:`metaopt.spaces.names`) to tune,
            or, with ``estimator``, the knowledge-base space whose configurations warm-start
            the study. ``None``: ``"hist_gradient_boosting"`` without ``estimator``; with it,
            the knowledge-base space sharing most parameter names with ``param_distributions``.
            With ``estimator``, a name the knowledge base lacks raises ``ValueError``.
        param_distributions: With ``estimator``: parameter name to Optuna distribution
            (:class:`~optuna.distributions.FloatDistribution`,
            :class:`~optuna.distributions.IntDistribution`,
            :class:`~optuna.distributions.CategoricalDistribution`). Must be ``None`` for a
            named space.
        estimator: An unfitted scikit-learn estimator to tune instead of a named space.
        task: ``"classification"`` or ``"regression"``; ``None``: from ``estimator`` (a
            classifier or a regressor) or else from ``y`` at fit time
            (:func:`metaopt.datasets.infer_task`: strings, booleans or at most 20 distinct
            integers are class labels).
        n_trials: Trials to run in one ``fit``.
        cv: Anything :func:`~sklearn.model_selection.check_cv` accepts (an int gives
            stratified folds for classification).
        scoring: A scorer name, a callable ``scorer(estimator, X, y)`` or ``None`` for the
            estimator's ``score`` (accuracy or R^2). The shipped knowledge base ranked
            configurations by balanced accuracy. Several metrics, as in
            :class:`~sklearn.model_selection.GridSearchCV`: a list, tuple or set of scorer
            names, or a dict of name -> scorer name or callable; every trial records all of
            them and the search maximises the one ``refit`` names (with ``refit=False`` or a
            callable, the first).
        n_jobs: Parallel jobs over the cross-validation folds of a trial (joblib; ``None``: 1).
            Trials themselves run one after another, so results do not depend on ``n_jobs``.
        refit: Refit the best configuration on all the data, enabling ``predict`` and the like.
            A callable ``refit(cv_results_) -> index`` chooses the configuration instead of the
            best mean score (as in :class:`~sklearn.model_selection.GridSearchCV`; then
            ``best_score_`` is not set). With several metrics, the name of the one to refit by
            (and to search for), a callable or False; with one, a str must be ``scoring`` itself.
        error_score: Score of a fold whose fit fails (a trial with a NaN fold fails and is
            ignored for the best trial), or ``"raise"`` to raise the error.
        return_train_score: Also record training scores in ``cv_results_``.
        timeout: Optional seconds after which no new trial starts (the search then depends
            on the machine's speed; off by default).
        n_warm: Warm-start trials (0 turns the warm start off: a plain TPE search).
        model: Meta-model name or instance (see :func:`metaopt.suggest`); ``None``: default.
        knowledge: A :class:`metaopt.knowledge.KnowledgeBase`, a directory holding one, or
            ``None`` for the shipped knowledge base.
        rerank: Passed to :class:`~metaopt.MetaSampler` (0: off).
        base_sampler: The Optuna sampler of the trials the transfer hands on; ``None``: TPE
            seeded by ``random_state``. Copied at every fit, so refits are reproducible.
        storage: Optuna storage (URL or object); ``None``: in memory.
        study_name: Name of the study in ``storage``; an existing study of that name is
            continued, and its earlier trials count in ``cv_results_``.
        random_state: Seed of the sampler (an int, a ``RandomState`` or ``None``).
        verbose: 0: silent; 1 or more: a progress bar over the trials.

    Attributes:
        best_estimator_: The best configuration refitted on all the data (``refit=True``).
        best_params_: Its parameters, under your names.
        best_score_: Its mean cross-validated score (not set when ``refit`` is a callable).
            With several metrics, ``best_*`` refer to the ``refit`` metric and are not set when
            ``refit=False``.
        best_index_: Its row in ``cv_results_``.
        cv_results_: One entry per trial, in scikit-learn's layout (``params``,
            ``param_<name>``, ``split<k>_test_score``, ``mean_test_score``,
            ``rank_test_score``, times; with several metrics ``..._test_<metric>``), plus
            ``trial_number`` and ``warm_start`` (whether the configuration came from the
            meta-model).
        study_: The Optuna study.
        n_trials_: Trials in ``cv_results_``.
        n_splits_: Cross-validation splits.
        scorer_: The scorer used (with several metrics, a dict of name -> scorer).
        refit_time_: Seconds spent refitting the best configuration.
        classes_: Class labels (classifiers, ``refit=True``).
        n_features_in_: Number of features seen in ``fit``.
        feature_names_in_: Feature names seen in ``fit`` (only when they are all strings).

    Example:
        >>> import optuna
        >>> from sklearn.datasets import load_breast_cancer
        >>> from metaopt import MetaSearchCV
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> search = MetaSearchCV("knn", n_trials=4, n_warm=2, cv=3, random_state=0).fit(X, y)
        >>> search.n_trials_, int(search.cv_results_["warm_start"].sum())
        (4, 2)
        >>> bool(search.best_score_ > 0.8), search.predict(X[:3]).shape
        (True, (3,))
    """

    def __init__(
        self,
        space: str | None = None,
        param_distributions: Mapping[str, BaseDistribution] | None = None,
        *,
        estimator: BaseEstimator | None = None,
        task: str | None = None,
        n_trials: int = 20,
        cv: Any = 5,
        scoring: str | Callable[..., float] | None = None,
        n_jobs: int | None = None,
        refit: bool | str | Callable[[dict[str, Any]], int] = True,
        error_score: float | str = np.nan,
        return_train_score: bool = False,
        timeout: float | None = None,
        n_warm: int = 10,
        model: Any = None,
        knowledge: Any = None,
        rerank: int = 0,
        base_sampler: BaseSampler | None = None,
        storage: Any = None,
        study_name: str | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.space = space
        self.param_distributions = param_distributions
        self.estimator = estimator
        self.task = task
        self.n_trials = n_trials
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.timeout = timeout
        self.n_warm = n_warm
        self.model = model
        self.knowledge = knowledge
        self.rerank = rerank
        self.base_sampler = base_sampler
        self.storage = storage
        self.study_name = study_name
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks

    def _check_params(self) -> None:
        """Raise for arguments that are wrong whatever the data."""
        if self.estimator is None:
            if self.param_distributions is not None:
                raise ValueError(
                    "param_distributions needs an estimator: pass estimator=... with it, or "
                    "space=<name> alone to tune a named search space"
                )
            if self.space is not None and not isinstance(self.space, str):
                raise TypeError(
                    f"space must be a search-space name (str) or None, got "
                    f"{type(self.space).__name__}"
                )
        else:
            if not hasattr(self.estimator, "fit") or not hasattr(self.estimator, "set_params"):
                raise TypeError(
                    "estimator must be a scikit-learn estimator (with fit and set_params), got "
                    f"{type(self.estimator).__name__}"
                )
            if not isinstance(self.param_distributions, Mapping) or not self.param_distributions:
                raise ValueError(
                    "with an estimator, param_distributions must be a non-empty dict of "
                    f"parameter name -> optuna distribution, got {self.param_distributions!r}"
                )
            for name, dist in self.param_distributions.items():
                if not isinstance(dist, BaseDistribution):
                    raise TypeError(
                        f"param_distributions[{name!r}] must be an optuna distribution "
                        f"(FloatDistribution, IntDistribution, CategoricalDistribution), got "
                        f"{type(dist).__name__}"
                    )
            if self.space is not None and not isinstance(self.space, str):
                raise TypeError(
                    f"space must be a knowledge-base space name (str) or None, got "
                    f"{type(self.space).__name__}"
                )
        if self.task is not None and self.task not in _TASKS:
            raise ValueError(f"task must be one of {_TASKS} or None, got {self.task!r}")
        _check_int("n_trials", self.n_trials, 1)
        _check_int("n_warm", self.n_warm, 0)
        _check_int("rerank", self.rerank, 0)
        if self.timeout is not None and (
            not isinstance(self.timeout, numbers.Real)
            or isinstance(self.timeout, bool)
            or self.timeout <= 0
        ):
            raise ValueError(f"timeout must be a positive number or None, got {self.timeout!r}")
        if not (
            self.error_score == "raise"
            or (
                isinstance(self.error_score, numbers.Real)
                and not isinstance(self.error_score, bool)
            )
        ):
            raise ValueError(f"error_score must be a number or 'raise', got {self.error_score!r}")
        metrics = _metric_names(self.scoring)
        if metrics is None and not (
            isinstance(self.refit, bool | np.bool_)
            or callable(self.refit)
            or (isinstance(self.refit, str) and self.refit == self.scoring)
        ):
            raise ValueError(
                "refit must be True, False or a callable cv_results_ -> index; a metric name "
                "is accepted only when it is the scoring name (or one of several metrics in "
                f"scoring), got refit={self.refit!r} with scoring={self.scoring!r}"
            )
        if metrics is not None and not (
            (isinstance(self.refit, bool | np.bool_) and not self.refit)
            or callable(self.refit)
            or (isinstance(self.refit, str) and self.refit in metrics)
        ):
            raise ValueError(
                "with several metrics, refit must name the one to search for and refit by "
                f"(one of {metrics}), be a callable cv_results_ -> index, or be False, got "
                f"refit={self.refit!r}"
            )
        if self.base_sampler is not None and not isinstance(self.base_sampler, BaseSampler):
            raise TypeError(
                "base_sampler must be an optuna BaseSampler or None, got "
                f"{type(self.base_sampler).__name__}"
            )

    def _resolved_task(self, y: Any = None) -> str | None:
        if self.task is not None:
            return self.task
        if self.estimator is not None:
            if is_classifier(self.estimator):
                return "classification"
            if is_regressor(self.estimator):
                return "regression"
        if y is None:
            return None
        from metaopt.datasets import infer_task

        return infer_task(pd.Series(np.asarray(y).ravel()))

    def _named_space(self, task: str | None) -> Any:
        from metaopt import spaces

        return spaces.get(self.space or _DEFAULT_SPACE, task or "classification")

    def _unfitted_estimator(self) -> Any:
        if self.estimator is not None:
            return self.estimator
        return self._named_space(self._resolved_task()).build()

    def _search_space(self, task: str) -> tuple[Any, dict[str, str]]:
        """The :class:`SearchSpace` to suggest from, and study name -> ``set_params`` name."""
        from metaopt.spaces import SearchSpace

        if self.estimator is None:
            space = self._named_space(task)
            if space.task != task:
                raise ValueError(f"space {space.name!r} is for {space.task}, the data is {task}")
            return space, {name: name for name in space.distributions}
        names = _study_names(list(self.param_distributions))
        distributions = {names[full]: dist for full, dist in self.param_distributions.items()}
        to_user = {short: full for full, short in names.items()}
        template = self.estimator

        def factory(params: dict[str, Any], **fidelity: Any) -> Any:
            return clone(template).set_params(**{to_user[k]: v for k, v in params.items()})

        space = SearchSpace(
            "estimator",
            task,
            distributions,
            {name: _any_value(dist) for name, dist in distributions.items()},
            factory,
            description=f"{type(template).__name__} with user distributions",
        )
        return space, to_user

    def _check_knowledge_space(self) -> None:
        """With ``estimator``, a ``space`` the knowledge base lacks is a typo: raise."""
        if self.estimator is None or self.space is None or self.n_warm == 0:
            return
        from metaopt.metamodel._default import resolve_knowledge

        known = resolve_knowledge(self.knowledge).spaces
        if self.space not in known:
            raise ValueError(
                f"unknown knowledge space {self.space!r} (space= names the knowledge-base space "
                f"that warm-starts your estimator): the knowledge base holds {known}; pass "
                "space=None to choose it from the parameter names, or n_warm=0 for no warm start"
            )

    def _route_fit_params(self, space: Any, fit_params: dict[str, Any]) -> dict[str, Any]:
        """For a named space, ``sample_weight=...`` goes to the pipeline's ``model`` step.

        A parameter with a ``step__`` prefix is passed as it is. Raises ``TypeError`` at once
        for a parameter the space's model does not take, rather than after every trial failed.
        """
        if self.estimator is not None or not fit_params:
            return fit_params
        pipeline = space.build(space.default)
        steps = getattr(pipeline, "named_steps", {})
        if "model" not in steps:
            return fit_params
        model = steps["model"]
        if isinstance(model, TransformedTargetRegressor) and model.regressor is not None:
            model = model.regressor  # it passes every fit parameter on to its regressor
        accepted = inspect.signature(model.fit).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
        routed = {}
        for name, value in fit_params.items():
            if "__" in name:
                routed[name] = value
                continue
            if not takes_any and name not in accepted:
                names = [n for n in accepted if n not in ("self", "X", "y")]
                raise TypeError(
                    f"the {space.name!r} space's model ({type(model).__name__}) does not take the "
                    f"fit parameter {name!r}; its fit takes {names or 'only X and y'}"
                )
            routed[f"model__{name}"] = value
        return routed

    # ------------------------------------------------------------------ data

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        """Check ``X``; for a named space, the DataFrame its pipeline expects."""
        if self.estimator is not None:
            return X
        min_samples = 2 if reset else 1
        if isinstance(X, pd.DataFrame):
            # The pipelines take the frame itself. check_array would turn a frame with string or
            # categorical columns into one object array (a boxed copy of every cell, several
            # times the frame's memory), so the frame is checked as it is.
            X = _plain_dtypes(X)
            _check_frame(X, min_samples)
            validate_data(self, X, reset=reset, skip_check_array=True)  # names, n_features_in_
            if reset:
                self._columns_ = list(X.columns)
            elif not hasattr(self, "feature_names_in_"):
                # Fitted without feature names (validate_data warned): columns by position.
                X = X.set_axis(self._columns_, axis=1)
            return X
        if hasattr(X, "toarray") or hasattr(X, "tocsr"):
            raise TypeError(
                "a named search space needs dense X (a numpy array or a pandas DataFrame), "
                "got a sparse matrix"
            )
        checked = validate_data(
            self,
            X,
            reset=reset,
            dtype=None,
            ensure_all_finite="allow-nan",
            ensure_min_samples=min_samples,
        )
        if reset:
            self._columns_ = [f"x{i}" for i in range(checked.shape[1])]
        frame = pd.DataFrame(checked, columns=self._columns_)
        if checked.dtype == object:
            _check_object_values(checked)
            frame = frame.infer_objects()  # numbers held as objects become numeric columns
        return frame

    def _as_input(self, X: Any) -> Any:
        check_is_fitted(self)
        return self._validate_X(X, reset=False)

    def _guess_knowledge_space(self, space: Any, task: str) -> str | None:
        """The knowledge space best matching all of ``param_distributions``' names."""
        from metaopt.metamodel._default import resolve_knowledge

        if self.n_warm == 0:
            return None
        names = sorted(space.distributions)
        matches = resolve_knowledge(self.knowledge).space_matches(names, task)
        if not len(matches) or int(matches["shared"].iloc[0]) == 0:
            return None  # MetaSampler says the warm start is off, and why
        best = str(matches["space"].iloc[0])
        warn_fallback(
            _logger,
            f"MetaSearchCV chose the knowledge space {best!r} for the parameters {names} "
            f"(shares {int(matches['shared'].iloc[0])}); pass space= to choose it yourself",
            stacklevel=4,
        )
        return best

    def _metasampler_dataset(self, X: Any, y: Any, task: str) -> Any:
        """The data as a :class:`~metaopt.Dataset` for the metafeatures, or None if impossible."""
        from metaopt.datasets import make_dataset

        reason = "sparse input" if hasattr(X, "toarray") else None
        if reason is None:
            try:
                return make_dataset(X, y, task=task, name="MetaSearchCV input", source="in-memory")
            except (TypeError, ValueError) as error:
                reason = str(error).rstrip(".")
        if self.model is None:  # the default model would ask for what cannot be computed
            warn_fallback(
                _logger,
                f"no metafeatures for this data ({reason}): the warm start uses the portfolio",
                stacklevel=4,
            )
        return None

    # ------------------------------------------------------------------ fit

    def fit(self, X: Any, y: Any = None, *, groups: Any = None, **fit_params: Any) -> MetaSearchCV:
        """Run the search on ``X, y`` and refit the best configuration.

        Args:
            X: Features: an array-like or a pandas DataFrame (categorical and missing values,
                ``pd.NA`` of nullable columns included, are handled by a named space's
                preprocessing).
            y: Target.
            groups: Group labels for a group-aware ``cv`` splitter.
            **fit_params: Passed to the estimator's ``fit`` (split with the folds). For a named
                space a parameter without a ``step__`` prefix, such as ``sample_weight``, goes
                to the space's model step (``model__sample_weight``).

        Raises:
            TypeError: for a fit parameter a named space's model does not take (before any
                trial runs).
            ValueError: for invalid arguments, or a regression target that is not numeric.

        Returns:
            self.
        """
        self._check_params()
        if y is None:
            raise ValueError("MetaSearchCV is supervised: y is required, got None")
        X_input = self._validate_X(X, reset=True)
        X_input, y, groups = indexable(X_input, y, groups)
        y_array = column_or_1d(y, warn=True)
        y = y_array if not isinstance(y, pd.Series) else y
        task = self._resolved_task(y_array)
        assert task is not None  # y is given, so the task is decided
        if task == "classification":
            from sklearn.utils.multiclass import check_classification_targets

            check_classification_targets(y_array)
            _check_weighted_classes(y_array, fit_params.get("sample_weight"))
        else:
            _check_numeric_target(y_array)
        space, to_user = self._search_space(task)
        self._check_knowledge_space()
        fit_params = self._route_fit_params(space, fit_params)
        cv = check_cv(self.cv, y_array, classifier=task == "classification")
        splits = list(cv.split(X_input, y_array, groups))
        self.n_splits_ = len(splits)
        template = space.build(space.default) if self.estimator is None else self.estimator
        metrics = _metric_names(self.scoring)
        if metrics is None:
            self.scorer_ = check_scoring(template, scoring=self.scoring)
        else:
            scorers = self.scoring if isinstance(self.scoring, Mapping) else {}
            self.scorer_ = {
                name: check_scoring(template, scoring=scorers.get(name, name)) for name in metrics
            }
        # The metric the study maximises: the refit one, else the first.
        searched = self.refit if isinstance(self.refit, str) else (metrics or [None])[0]

        seed = _seed(self.random_state)
        base = copy.deepcopy(self.base_sampler) if self.base_sampler is not None else None
        from metaopt.samplers import MetaSampler

        knowledge_space = space.name
        if self.estimator is not None:
            knowledge_space = self.space or self._guess_knowledge_space(space, task)
        dataset = self._metasampler_dataset(X_input, y_array, task)
        sampler = MetaSampler(
            dataset,
            space=knowledge_space,
            n_warm=self.n_warm,
            base_sampler=base,
            knowledge=self.knowledge,
            model="portfolio" if dataset is None and self.model is None else self.model,
            task=task,
            seed=seed,
            rerank=self.rerank,
        )
        study = optuna.create_study(
            storage=self.storage,
            study_name=self.study_name,
            sampler=sampler,
            direction="maximize",
            load_if_exists=self.study_name is not None,
        )

        def objective(trial: optuna.Trial) -> float:
            estimator = space.build(space.suggest(trial))  # invalid parameters raise here
            try:
                result = cross_validate(
                    estimator,
                    X_input,
                    y,
                    groups=groups,
                    cv=splits,
                    scoring=self.scorer_,
                    n_jobs=self.n_jobs,
                    error_score=self.error_score,
                    return_train_score=self.return_train_score,
                    params=fit_params or None,
                )
            except ValueError as error:
                if self.error_score == "raise":
                    raise
                # scikit-learn raises when every fold failed; error_score says what that scores.
                warnings.warn(
                    f"trial {trial.number}: every fold failed, scored {self.error_score}: "
                    f"{str(error).strip()[:2000]}",
                    FitFailedWarning,
                    stacklevel=2,
                )
                result = _failed_result(
                    len(splits), self.error_score, self.return_train_score, metrics
                )
            record: dict[str, Any] = {
                "fit_time": [float(s) for s in result["fit_time"]],
                "score_time": [float(s) for s in result["score_time"]],
            }
            for kind in ("test", "train") if self.return_train_score else ("test",):
                if metrics is None:
                    record[kind] = [float(s) for s in result[f"{kind}_score"]]
                else:  # one list per metric
                    record[kind] = {m: [float(s) for s in result[f"{kind}_{m}"]] for m in metrics}
            trial.set_user_attr(TRIAL_CV, record)
            return float(np.mean(record["test"] if metrics is None else record["test"][searched]))

        study.optimize(
            objective,
            n_trials=self.n_trials,
            timeout=self.timeout,
            show_progress_bar=bool(self.verbose),
            catch=(),
        )
        self.study_ = study
        self._store_results(study, space, to_user, X_input, y, fit_params, metrics, searched)
        if self.refit:
            best = space.build(self._study_params_[self.best_index_])
            start = time.perf_counter()
            best.fit(X_input, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
            self.best_estimator_ = best
            if self.estimator is not None:  # a named space set these in _validate_X
                for name in ("n_features_in_", "feature_names_in_"):
                    if hasattr(best, name):
                        setattr(self, name, getattr(best, name))
        return self

    def _store_results(
        self,
        study: optuna.Study,
        space: Any,
        to_user: dict[str, str],
        X: Any,
        y: Any,
        fit_params: dict[str, Any],
        metrics: list[str] | None,
        searched: str | None,
    ) -> None:
        trials = [
            t
            for t in study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)
            )
            if TRIAL_CV in t.user_attrs
        ]
        self._study_params_ = [dict(t.params) for t in trials]
        self.cv_results_ = _cv_results(
            trials, to_user, self.n_splits_, self.return_train_score, metrics
        )
        self.n_trials_ = len(trials)
        complete = [i for i, t in enumerate(trials) if t.state == TrialState.COMPLETE]
        if not complete:
            message = (
                f"all {len(trials)} trials of MetaSearchCV failed: every configuration scored "
                "NaN on some fold"
            )
            if trials:  # show the estimator's own error: fit the first configuration
                try:
                    space.build(self._study_params_[0]).fit(X, y, **fit_params)
                except Exception as error:
                    if hasattr(error, "add_note"):
                        error.add_note(message)
                    raise
            raise ValueError(f"{message}; set error_score='raise' to see the error")
        if metrics is not None and not self.refit:
            return  # as GridSearchCV: no best_* without a metric to choose by
        if callable(self.refit):
            best = _refit_index(self.refit, self.cv_results_)
        else:
            best = max(complete, key=lambda i: (trials[i].value, -i))
            key = "mean_test_score" if metrics is None else f"mean_test_{searched}"
            self.best_score_ = float(self.cv_results_[key][best])
        self.best_index_ = int(best)
        self.best_params_ = dict(self.cv_results_["params"][best])

    # ------------------------------------------------------------------ delegation

    def _check_refit(self, method: str) -> None:
        if not self.refit:
            raise AttributeError(
                f"this MetaSearchCV was fitted with refit=False: {method} needs refit=True"
            )
        check_is_fitted(self)

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any) -> np.ndarray:
        """Predict with the refitted best estimator."""
        self._check_refit("predict")
        return self.best_estimator_.predict(self._as_input(X))

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from the refitted best estimator."""
        self._check_refit("predict_proba")
        return self.best_estimator_.predict_proba(self._as_input(X))

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities from the refitted best estimator."""
        self._check_refit("predict_log_proba")
        return self.best_estimator_.predict_log_proba(self._as_input(X))

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        """Decision function of the refitted best estimator."""
        self._check_refit("decision_function")
        return self.best_estimator_.decision_function(self._as_input(X))

    @available_if(_estimator_has("transform"))
    def transform(self, X: Any) -> Any:
        """Transform with the refitted best estimator."""
        self._check_refit("transform")
        return self.best_estimator_.transform(self._as_input(X))

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        """Inverse transform with the refitted best estimator."""
        self._check_refit("inverse_transform")
        return self.best_estimator_.inverse_transform(X)

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X: Any) -> np.ndarray:
        """Sample scores of the refitted best estimator."""
        self._check_refit("score_samples")
        return self.best_estimator_.score_samples(self._as_input(X))

    def score(self, X: Any, y: Any = None) -> float:
        """The ``scoring`` metric (or the estimator's own score) of the best estimator on X, y."""
        self._check_refit("score")
        scorer = self.scorer_
        if isinstance(scorer, dict):
            if not isinstance(self.refit, str):
                raise AttributeError(
                    "score needs a metric: with several metrics it uses the one refit names, "
                    f"got refit={self.refit!r}"
                )
            scorer = scorer[self.refit]
        return float(scorer(self.best_estimator_, self._as_input(X), y))

    @property
    def classes_(self) -> np.ndarray:
        """Class labels of the refitted best estimator."""
        self._check_refit("classes_")
        return self.best_estimator_.classes_

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "cv_results_")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            inner = get_tags(self.estimator)
            tags.estimator_type = inner.estimator_type
            tags.classifier_tags = copy.deepcopy(inner.classifier_tags)
            tags.regressor_tags = copy.deepcopy(inner.regressor_tags)
            tags.input_tags.pairwise = inner.input_tags.pairwise
            tags.input_tags.sparse = inner.input_tags.sparse
            tags.input_tags.allow_nan = inner.input_tags.allow_nan
            return tags
        task = self._resolved_task()
        if task == "classification":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        tags.input_tags.allow_nan = True  # every named space imputes or handles NaN natively
        return tags


# ---------------------------------------------------------------------- helpers


def _check_int(name: str, value: Any, low: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _refit_index(refit: Callable[[dict[str, Any]], Any], results: dict[str, Any]) -> int:
    """The ``cv_results_`` row a callable ``refit`` chose, checked."""
    index = refit(results)
    n = len(results["params"])
    if not isinstance(index, numbers.Integral) or isinstance(index, bool) or not 0 <= index < n:
        raise ValueError(
            f"refit={getattr(refit, '__name__', refit)!r} must return an int index into "
            f"cv_results_ (0 to {n - 1}), got {index!r}"
        )
    return int(index)


def _check_numeric_target(y: np.ndarray) -> None:
    """A regression target must be numbers."""
    if y.dtype.kind in "biuf":
        return
    try:
        y.astype(float)
    except (TypeError, ValueError):
        raise ValueError(
            f"regression needs a numeric target, got y of dtype {y.dtype} (e.g. {y[0]!r}); "
            "class labels need task='classification' (or a classifier as estimator)"
        ) from None


def _failed_result(
    n_splits: int, error_score: float, train: bool, metrics: list[str] | None
) -> dict[str, np.ndarray]:
    """What :func:`~sklearn.model_selection.cross_validate` returns when every fold failed."""
    result = {"fit_time": np.zeros(n_splits), "score_time": np.zeros(n_splits)}
    for kind in ("test", "train") if train else ("test",):
        for suffix in ["score"] if metrics is None else metrics:
            result[f"{kind}_{suffix}"] = np.full(n_splits, float(error_score))
    return result


def _metric_names(scoring: Any) -> list[str] | None:
    """The metric names of a multi-metric ``scoring``, in its order; None for one metric.

    Raises:
        TypeError, ValueError: for a malformed list or dict of metrics.
    """
    if not isinstance(scoring, list | tuple | set | Mapping):
        return None
    names = list(scoring) if not isinstance(scoring, set) else sorted(scoring, key=str)
    accepted = (
        "a non-empty list, tuple or set of scorer names, or a dict of name -> scorer name or "
        "callable"
    )
    if not names or not all(isinstance(name, str) for name in names):
        raise TypeError(f"several metrics in scoring must be {accepted}, got {scoring!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"scoring names a metric twice: {names}; accepted: {accepted}")
    if isinstance(scoring, Mapping):
        bad = [k for k, v in scoring.items() if not (isinstance(v, str) or callable(v))]
        if bad:
            raise TypeError(f"scoring[{bad[0]!r}] must be a scorer name or a callable")
    return names


def _check_object_values(X: np.ndarray) -> None:
    """Object-dtype features must hold strings, numbers or missing values."""
    values = X.ravel()
    # Checking each distinct type once is ~15x faster than an isinstance per cell; only a
    # suspicious type needs the cell-by-cell scan, which finds the first bad value as before.
    if all(t is type(None) or issubclass(t, str | numbers.Number) for t in set(map(type, values))):
        return
    for value in values:
        if value is None or isinstance(value, str | numbers.Number):
            continue
        raise TypeError(
            f"X holds the {type(value).__name__} value {value!r:.60}; every feature value "
            "argument must be a string or a number (or missing)"
        )


def _check_weighted_classes(y: np.ndarray, sample_weight: Any) -> None:
    """Raise ``ValueError`` when ``sample_weight`` leaves fewer than two classes to learn."""
    if sample_weight is None or np.ndim(sample_weight) != 1 or len(sample_weight) != len(y):
        return  # no weights, or ones the estimator itself will refuse
    weights = np.asarray(sample_weight, dtype=float)
    kept = np.unique(y[weights > 0])
    if len(kept) < 2:
        raise ValueError(
            "sample_weight leaves fewer than 2 classes with positive weight (classes with "
            f"positive weight: {kept.tolist()}, of {np.unique(y).tolist()}); a classifier needs "
            "at least 2"
        )


def _check_frame(frame: pd.DataFrame, min_samples: int) -> None:
    """What ``check_array`` checks of a frame, column by column: no copy of the data."""
    shape = frame.shape
    for found, minimum, what in ((shape[0], min_samples, "sample"), (shape[1], 1, "feature")):
        if found < minimum:  # scikit-learn's message
            raise ValueError(
                f"Found array with {found} {what}(s) (shape={shape}) while a minimum of "
                f"{minimum} is required by MetaSearchCV."
            )
    if not frame.columns.is_unique:  # the pipelines select columns by name
        duplicated = list(frame.columns[frame.columns.duplicated()].unique())
        raise ValueError(f"X has duplicate column names: {duplicated}")
    dtypes = list(frame.dtypes)
    if any(dtype.kind == "c" for dtype in dtypes):
        raise ValueError("Complex data not supported")
    # check_array sees infinity only where the whole frame becomes one numeric array; in a frame
    # with string or categorical columns the pipelines' preprocessing makes it missing, as before.
    if all(isinstance(dtype, np.dtype) and dtype.kind in "biuf" for dtype in dtypes):
        for i, dtype in enumerate(dtypes):
            if dtype.kind == "f" and np.isinf(frame.iloc[:, i].to_numpy()).any():
                raise ValueError(
                    "Input X contains infinity or a value too large for "
                    f"{np.result_type(*dtypes)!r}."
                )


def _plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with pandas' ``pd.NA``-based columns in NumPy types, ``pd.NA`` as ``NaN``.

    Nullable numbers and booleans (``Int64``, ``boolean``, ...) become float64, as
    :func:`metaopt.datasets.make_dataset` stores them, and ``string`` columns object: neither
    scikit-learn's input checks nor the spaces' imputers accept ``pd.NA``.
    """
    converted = frame
    for i, dtype in enumerate(frame.dtypes):
        if not isinstance(dtype, pd.api.extensions.ExtensionDtype) or isinstance(
            dtype, pd.CategoricalDtype
        ):
            continue
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            values = frame.iloc[:, i].to_numpy(dtype=float, na_value=np.nan)
        elif isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA:
            values = frame.iloc[:, i].to_numpy(dtype=object, na_value=np.nan)
        else:
            continue
        if converted is frame:
            converted = frame.copy()
        converted.isetitem(i, values)
    return converted


def _seed(random_state: Any) -> int | None:
    """An int seed for Optuna from a scikit-learn ``random_state``."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _study_names(names: list[str]) -> dict[str, str]:
    """``set_params`` name -> study name: the part after the last ``__`` when unambiguous."""
    leaves = [name.rsplit("__", 1)[-1] for name in names]
    return {
        name: leaf if leaves.count(leaf) == 1 and leaf not in names or leaf == name else name
        for name, leaf in zip(names, leaves, strict=True)
    }


def _any_value(dist: BaseDistribution) -> Any:
    """A valid value of ``dist`` (the lower end, or the first choice)."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[0]
    return dist.low  # type: ignore[attr-defined]


def _cv_results(
    trials: list[FrozenTrial],
    to_user: dict[str, str],
    n_splits: int,
    train: bool,
    metrics: list[str] | None = None,
) -> dict[str, Any]:
    """``cv_results_`` in scikit-learn's layout, one entry per trial."""
    results: dict[str, Any] = {}
    records = [t.user_attrs[TRIAL_CV] for t in trials]
    for key in ("fit_time", "score_time"):
        values = np.array([r[key] for r in records], dtype=float).reshape(len(trials), -1)
        results[f"mean_{key}"] = values.mean(axis=1)
        results[f"std_{key}"] = values.std(axis=1)
    names = [n for n in to_user if any(n in t.params for t in trials)]
    params = [{to_user[k]: v for k, v in t.params.items()} for t in trials]
    for name in names:
        dtype = _param_dtype([t.params[name] for t in trials if name in t.params])
        column = np.ma.MaskedArray(np.empty(len(trials), dtype=dtype), mask=True)
        for i, t in enumerate(trials):
            if name in t.params:
                column[i] = t.params[name]
        results[f"param_{to_user[name]}"] = column
    results["params"] = params
    for kind in ("test", "train") if train else ("test",):
        for metric in [None] if metrics is None else metrics:
            suffix = "score" if metric is None else metric
            scores = np.array(
                [r[kind] if metric is None else r[kind][metric] for r in records], dtype=float
            ).reshape(len(trials), n_splits)
            for k in range(n_splits):
                results[f"split{k}_{kind}_{suffix}"] = scores[:, k]
            means = scores.mean(axis=1)
            results[f"mean_{kind}_{suffix}"] = means
            results[f"std_{kind}_{suffix}"] = scores.std(axis=1)
            if kind == "test":
                results[f"rank_test_{suffix}"] = _rank(means)
    results["trial_number"] = np.array([t.number for t in trials], dtype=int)
    results["warm_start"] = np.array([_TRIAL_WARM_START in t.user_attrs for t in trials])
    return results


def _param_dtype(values: list[Any]) -> np.dtype:
    """The dtype of a ``param_<name>`` column, as :class:`~sklearn.model_selection.GridSearchCV`
    infers it: the values' own (numbers, booleans), or object for strings and mixtures."""
    try:
        array = np.array(values)
    except ValueError:
        return np.dtype(object)
    return array.dtype if array.dtype.kind in "biuf" and array.ndim == 1 else np.dtype(object)


def _rank(means: np.ndarray) -> np.ndarray:
    """Rank 1 for the best mean score; NaN scores rank last (as in scikit-learn)."""
    if np.isnan(means).all():
        return np.ones(len(means), dtype=np.int32)
    filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
    return rankdata(-filled, method="min").astype(np.int32)
