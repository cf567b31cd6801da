"""Cross-validated evaluation of one configuration, and the Optuna objective built on it.

The builder of the knowledge base and a user's own Optuna study share this code, so a score in
the knowledge base and a score from :func:`objective` mean the same thing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
import optuna
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, StratifiedKFold

from metaopt.datasets import Dataset
from metaopt.exceptions import warn_fallback
from metaopt.spaces._registry import get
from metaopt.spaces._space import SearchSpace

logger = logging.getLogger("metaopt.spaces")

CLASSIFICATION_METRICS = ("balanced_accuracy", "accuracy", "roc_auc", "neg_log_loss")
REGRESSION_METRICS = ("r2", "neg_rmse", "neg_mae")
#: Metrics computed from class probabilities (``predict_proba``).
PROBABILITY_METRICS = ("roc_auc", "neg_log_loss")
#: The primary metric per task (higher is better).
DEFAULT_METRIC = {"classification": "balanced_accuracy", "regression": "r2"}
#: The secondary metric recorded beside the primary one.
SECONDARY_METRIC = {"classification": "neg_log_loss", "regression": "neg_rmse"}


class ConfigTimeout(Exception):
    """Raised inside an evaluation that ran past its time limit."""


@dataclass
class Evaluation:
    """The outcome of cross-validating one configuration.

    Attributes:
        score: Mean primary score over folds (higher is better); NaN unless ``status == "ok"``.
        fold_scores: Primary score per completed fold.
        secondary_score: Mean secondary score (NaN where the model cannot give it, e.g. log
            loss for a model without ``predict_proba``).
        fit_time: Seconds spent fitting and predicting, all folds together.
        status: ``"ok"``, ``"failed"`` or ``"timeout"``.
        error: ``"ExceptionType: message"`` for a failure or timeout, else ``None``.
    """

    score: float
    fold_scores: list[float] = field(default_factory=list)
    secondary_score: float = math.nan
    fit_time: float = 0.0
    status: str = "ok"
    error: str | None = None


def prepare(
    dataset: Dataset, *, max_rows: int | None = None, cv: int = 3, seed: int = 0
) -> Dataset:
    """The data an evaluation sees: rare classes dropped, rows capped by seeded subsampling.

    For classification, classes with fewer than ``cv`` rows are dropped (a stratified split
    cannot place them in every fold) and the subsample is stratified: each class keeps its
    share of rows, and at least ``cv`` rows. For regression the subsample is uniform.

    Raises:
        ValueError: when fewer than two classes remain, or ``max_rows`` is not a positive int
            or is too small.
    """
    _check_max_rows(max_rows)
    X, y = dataset.X, dataset.y
    notes: dict[str, object] = {"n_rows_original": int(len(y))}
    if dataset.task == "classification":
        counts = y.value_counts()
        rare = counts[counts < cv].index
        if len(rare):
            keep = ~y.isin(rare).to_numpy() & y.notna().to_numpy()
            X, y = X.loc[keep], y.loc[keep]
            notes["dropped_classes"] = [str(c) for c in rare]
        if y.nunique() < 2:
            raise ValueError(
                f"dataset {dataset.name!r} has fewer than two classes with at least {cv} rows; "
                "lower cv or use a dataset with more rows per class."
            )
    if max_rows is not None and len(y) > max_rows:
        rows = _subsample_rows(y, dataset.task, max_rows, cv, seed)
        X, y = X.iloc[rows], y.iloc[rows]
    if isinstance(y.dtype, pd.CategoricalDtype):
        y = y.cat.remove_unused_categories()
    notes["n_rows_used"] = int(len(y))
    return Dataset(
        X=X.reset_index(drop=True),
        y=y.reset_index(drop=True),
        task=dataset.task,
        name=dataset.name,
        source=dataset.source,
        metadata={**dataset.metadata, **notes},
    )


def _subsample_rows(y: pd.Series, task: str, max_rows: int, cv: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if task != "classification":
        return np.sort(rng.choice(len(y), size=max_rows, replace=False))
    codes = pd.factorize(y)[0]
    classes, counts = np.unique(codes, return_counts=True)
    if max_rows < cv * len(classes):
        raise ValueError(
            f"max_rows={max_rows} is below {cv} rows for each of {len(classes)} classes; "
            f"accepted: at least {cv * len(classes)}."
        )
    exact = counts * (max_rows / len(y))
    quota = np.maximum(np.floor(exact).astype(int), np.minimum(counts, cv))
    while quota.sum() > max_rows:  # the per-class minimum overshot: trim the largest classes
        quota[np.argmax(quota)] -= 1
    # Largest remainders first until the cap is reached.
    for index in np.argsort(-(exact - np.floor(exact))):
        if quota.sum() >= max_rows:
            break
        if quota[index] < counts[index]:
            quota[index] += 1
    chosen = [
        rng.choice(np.flatnonzero(codes == c), size=q, replace=False)
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _check_folds(cv: Any) -> int:
    """``cv`` as an int number of folds (at least 2), or a ValueError/TypeError saying why."""
    if _is_int(cv) and cv >= 2:
        return int(cv)
    if _is_int(cv):
        raise ValueError(f"cv must be an int >= 2 (the number of folds); got {cv!r}.")
    if hasattr(cv, "split") or isinstance(cv, list | tuple):
        raise TypeError(
            f"cv is the number of folds (an int >= 2); got {type(cv).__name__}. To evaluate "
            "on splits of your own, pass them to metaopt.spaces.evaluate(space, X, y, params, "
            "splits), e.g. splits=list(KFold(5).split(X))."
        )
    raise TypeError(f"cv must be an int >= 2 (the number of folds); got {cv!r}.")


def _check_max_rows(max_rows: Any) -> None:
    if max_rows is not None and not (_is_int(max_rows) and max_rows >= 1):
        raise ValueError(f"max_rows must be a positive int or None (no cap); got {max_rows!r}.")


def _check_seed(seed: Any) -> None:
    if not (_is_int(seed) and seed >= 0):
        raise ValueError(f"seed must be a non-negative int; got {seed!r}.")


def _check_timeout(timeout: Any) -> None:
    number = isinstance(timeout, int | float | np.integer | np.floating) and not isinstance(
        timeout, bool | np.bool_
    )
    if timeout is not None and not (number and math.isfinite(timeout) and timeout > 0):
        raise ValueError(
            f"timeout must be a positive number of seconds or None (no limit); got {timeout!r}."
        )


def check_probabilities(space: SearchSpace, metric: str, estimator: Any = None) -> None:
    """Refuse a metric on class probabilities for a space whose models have none.

    Args:
        space: The search space.
        metric: The primary metric.
        estimator: A model of the space (default: its default configuration).

    Raises:
        ValueError: ``metric`` needs ``predict_proba``, which the space's models lack.
    """
    if metric not in PROBABILITY_METRICS:
        return
    estimator = space.build(space.default) if estimator is None else estimator
    if not hasattr(estimator, "predict_proba"):
        accepted = [m for m in CLASSIFICATION_METRICS if m not in PROBABILITY_METRICS]
        raise ValueError(
            f"metric {metric!r} needs class probabilities, which the models of space "
            f"{space.name!r} do not give; accepted for it: {accepted}."
        )


def cv_splits(
    y: pd.Series | np.ndarray, task: str, cv: int = 3, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed, seeded ``cv``-fold splits (stratified for classification)."""
    cv = _check_folds(cv)
    target = np.asarray(pd.factorize(pd.Series(y))[0] if task == "classification" else y)
    splitter = (
        StratifiedKFold(cv, shuffle=True, random_state=seed)
        if task == "classification"
        else KFold(cv, shuffle=True, random_state=seed)
    )
    return [(train, test) for train, test in splitter.split(np.zeros(len(target)), target)]


def check_metric(metric: str | None, task: str) -> str:
    """``metric`` (default: the task's :data:`DEFAULT_METRIC`) if it is available for ``task``.

    Raises:
        ValueError: for a metric not available for the task, naming the accepted ones.

    Example:
        >>> from metaopt.spaces import check_metric
        >>> check_metric(None, "regression")
        'r2'
    """
    metric = metric or DEFAULT_METRIC[task]
    accepted = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    if metric not in accepted:
        raise ValueError(f"metric {metric!r} is not available for {task}; accepted: {accepted}.")
    return metric


_check_metric = check_metric  # the name other modules imported before it was public


def predict_fold(
    estimator: Any, X: pd.DataFrame, n_classes: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and, where the model has them, class probabilities of a fitted estimator.

    For classification the estimator was fitted on class codes ``0..n_classes-1``; the
    probabilities get one column per code and the predictions are their argmax, so a model is
    asked to predict only once.
    """
    if n_classes and hasattr(estimator, "predict_proba"):
        raw = np.asarray(estimator.predict_proba(X), dtype=float)
        probabilities = np.zeros((len(X), n_classes))
        probabilities[:, np.asarray(estimator.classes_, dtype=int)] = raw
        return np.argmax(probabilities, axis=1), probabilities
    return np.asarray(estimator.predict(X)), None


def score_predictions(
    metric: str,
    y: np.ndarray,
    predicted: np.ndarray,
    probabilities: np.ndarray | None,
    n_classes: int,
) -> float:
    """``metric`` (higher is better) of one fold's predictions; NaN where undefined.

    For classification ``y`` holds class codes ``0..n_classes-1``; metrics on probabilities
    are NaN when ``probabilities`` is None.
    """
    scorers: dict[str, Callable[[Any, Any], float]] = {
        "balanced_accuracy": _balanced_accuracy,
        "accuracy": accuracy_score,
        "r2": r2_score,
        "neg_rmse": lambda t, p: -root_mean_squared_error(t, p),
        "neg_mae": lambda t, p: -mean_absolute_error(t, p),
    }
    if metric in scorers:
        return float(scorers[metric](y, predicted))
    if probabilities is None:
        return math.nan
    if metric == "neg_log_loss":
        return _neg_log_loss(y, probabilities)
    if n_classes == 2:
        return float(roc_auc_score(y, probabilities[:, 1]))
    return float(roc_auc_score(y, probabilities, multi_class="ovr", labels=range(n_classes)))


# Plain numpy versions of two scikit-learn metrics: the same values, without the input
# validation that dominates the cost of scoring thousands of small folds.
def _balanced_accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    """Mean recall over the classes present in ``y`` (``balanced_accuracy_score``)."""
    y, predicted = np.asarray(y), np.asarray(predicted)
    return float(np.mean([np.mean(predicted[y == c] == c) for c in np.unique(y)]))


def _neg_log_loss(y: np.ndarray, probabilities: np.ndarray) -> float:
    """Minus the mean log probability of the true class, clipped at 1e-15 (``log_loss``)."""
    rows = np.arange(len(y))
    return float(np.mean(np.log(np.clip(probabilities[rows, np.asarray(y)], 1e-15, 1.0))))


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block with :class:`ConfigTimeout` after ``seconds`` (Unix main thread).

    Elsewhere (threads, e.g. a Dask worker) the limit is only checked between folds.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise ConfigTimeout(f"evaluation exceeded {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_SILENCE_LOCK = threading.Lock()
_silence_depth = 0
_silence_saved: Any = None


@contextlib.contextmanager
def _fit_warnings_silenced() -> Iterator[None]:
    """Ignore convergence and user warnings of the models while any evaluation runs.

    Warning filters are global to the process. Evaluations in threads (Optuna's ``n_jobs``)
    share one silencing: the first to start installs it, the last to end restores the filters
    as they were before, so overlapping evaluations cannot leave the filters changed.
    """
    global _silence_depth, _silence_saved
    with _SILENCE_LOCK:
        if _silence_depth == 0:
            _silence_saved = warnings.catch_warnings()
            _silence_saved.__enter__()
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
        _silence_depth += 1
    try:
        yield
    finally:
        with _SILENCE_LOCK:
            _silence_depth -= 1
            if _silence_depth == 0:
                _silence_saved.__exit__(None, None, None)
                _silence_saved = None


def _check_features(X: Any) -> pd.DataFrame:
    """``X`` as a DataFrame (a 2-d array becomes one), or a TypeError/ValueError."""
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, np.ndarray | list):
        array = np.asarray(X)
        if array.ndim == 2:
            return pd.DataFrame(array)
        raise ValueError(f"X must be 2-dimensional (rows x features); got shape {array.shape}.")
    raise TypeError(f"X must be a pandas DataFrame or a 2-d numpy array; got {type(X).__name__}.")


def _check_splits(splits: Any, n_rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``splits`` as a list of (train, test) row-position arrays within ``n_rows`` rows."""
    if _is_int(splits) or hasattr(splits, "split") or not hasattr(splits, "__iter__"):
        raise TypeError(
            "splits must be a list of (train, test) row-position arrays, e.g. "
            "metaopt.spaces.cv_splits(y, task, cv, seed) or list(KFold(5).split(X)); got "
            f"{type(splits).__name__}."
        )
    checked = []
    for fold, split in enumerate(splits):
        if not isinstance(split, tuple | list) or len(split) != 2:
            raise ValueError(f"split {fold} must be a (train, test) pair; got {split!r:.80}.")
        pair = []
        for part, index in zip(("train", "test"), split, strict=True):
            index = np.asarray(index)
            if index.dtype == bool and len(index) == n_rows:
                index = np.flatnonzero(index)
            if index.ndim != 1 or len(index) == 0 or not np.issubdtype(index.dtype, np.integer):
                raise ValueError(
                    f"split {fold}: {part} must be a non-empty 1-d array of row positions; "
                    f"got {index!r:.80}."
                )
            if index.min() < 0 or index.max() >= n_rows:
                raise ValueError(
                    f"split {fold}: {part} holds row positions outside [0, {n_rows - 1}] "
                    f"(min {index.min()}, max {index.max()}); X and y have {n_rows} rows."
                )
            pair.append(index)
        checked.append((pair[0], pair[1]))
    if not checked:
        raise ValueError(
            "splits is empty (an exhausted generator?); pass a list of (train, test) pairs."
        )
    return checked


def _fold_inputs(
    pipeline: Any,
    X: pd.DataFrame,
    train: np.ndarray,
    test: np.ndarray,
    fold: int,
    cache: dict[Any, Any] | None,
    preprocess_key: str | None,
) -> tuple[Any, Any, Any]:
    """The model to fit and its train/test inputs, reusing cached fitted preprocessing."""
    steps = getattr(pipeline, "steps", None)
    if cache is None or preprocess_key is None or not steps:
        return clone(pipeline), X.iloc[train], X.iloc[test]
    preprocess = steps[0][1]
    model = steps[1][1] if len(steps) == 2 else pipeline[1:]
    key = (preprocess_key, fold)
    if key not in cache:
        fitted = clone(preprocess).fit(X.iloc[train])
        cache[key] = (fitted.transform(X.iloc[train]), fitted.transform(X.iloc[test]))
    X_train, X_test = cache[key]
    return clone(model), X_train, X_test


def evaluate(
    space: SearchSpace | str,
    X: pd.DataFrame,
    y: pd.Series | np.ndarray,
    params: Mapping[str, Any],
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    metric: str | None = None,
    secondary_metric: str | None = None,
    timeout: float | None = None,
    cache: dict[Any, Any] | None = None,
) -> Evaluation:
    """Cross-validate ``space.build(params)`` on the given splits; never raises for the model.

    An exception while fitting or scoring is recorded as ``status="failed"``, running past
    ``timeout`` seconds as ``status="timeout"``; both keep the folds completed so far.
    Invalid ``params`` (unknown name, out of range) still raise ``ValueError``.

    ``cache`` (a dict owned by the caller, one per ``(X, splits)``) keeps each fold's fitted
    preprocessing, which no hyperparameter changes, so many configurations on the same data
    fit it once; results are the same as fitting the whole pipeline each time.

    ``space`` is a :class:`SearchSpace` or a registered name, resolved for the task ``y``
    implies (:func:`metaopt.datasets.infer_task`). ``X`` is a DataFrame (a 2-d array is
    wrapped in one); ``splits`` a list of ``(train, test)`` row positions, e.g. from
    :func:`cv_splits` or ``list(KFold(5).split(X))``.

    Raises:
        TypeError: ``X`` or ``splits`` of an unsupported type (e.g. a splitter object instead
            of its splits).
        ValueError: invalid ``params``; ``X`` and ``y`` of different lengths; missing values in
            ``y``; a non-numeric ``y`` for a regression space; empty splits or row positions
            out of range; an unknown metric, or one on class probabilities for a space
            without them; a ``timeout`` that is not a positive number.
    """
    X = _check_features(X)
    labels = pd.Series(np.asarray(y).ravel() if not isinstance(y, pd.Series) else y)
    if len(labels) != len(X):
        raise ValueError(
            f"X and y must have the same number of rows; got {len(X)} rows in X and "
            f"{len(labels)} values in y."
        )
    if labels.isna().any():
        raise ValueError(
            f"y has {int(labels.isna().sum())} missing values; drop those rows (as "
            "metaopt.load_dataset does) before evaluating."
        )
    if isinstance(space, str):
        from metaopt.datasets import infer_task

        space = get(space, infer_task(pd.Series(np.asarray(y))))
    elif not isinstance(space, SearchSpace):
        raise TypeError(
            f"space must be a SearchSpace or a registered space name, got {type(space).__name__}"
        )
    metric = check_metric(metric, space.task)
    secondary = check_metric(secondary_metric or SECONDARY_METRIC[space.task], space.task)
    _check_timeout(timeout)
    splits = _check_splits(splits, len(X))
    estimator_template = space.build(params)
    if space.task == "classification":
        check_probabilities(space, metric, estimator_template)
        target = pd.Series(pd.Categorical(np.asarray(y))).cat.codes.to_numpy()
        n_classes = int(target.max()) + 1
    else:
        try:
            target = np.asarray(y, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"space {space.name!r} is for regression, which needs a numeric y; got "
                f"values such as {labels.iloc[0]!r}. Use the classification space."
            ) from None
        n_classes = 0
    steps = getattr(estimator_template, "steps", None)
    has_preprocess = bool(steps) and steps[0][0] == "preprocess"
    preprocess_key = joblib.hash(steps[0][1]) if cache is not None and has_preprocess else None
    folds: list[float] = []
    secondaries: list[float] = []
    status, error = "ok", None
    start = time.perf_counter()
    try:
        with _time_limit(timeout), _fit_warnings_silenced():
            for fold, (train, test) in enumerate(splits):
                model, X_train, X_test = _fold_inputs(
                    estimator_template, X, train, test, fold, cache, preprocess_key
                )
                model.fit(X_train, target[train])
                predicted, probabilities = predict_fold(model, X_test, n_classes)
                for name, scores in ((metric, folds), (secondary, secondaries)):
                    scores.append(
                        score_predictions(name, target[test], predicted, probabilities, n_classes)
                    )
                if timeout is not None and time.perf_counter() - start > timeout:
                    raise ConfigTimeout(f"evaluation exceeded {timeout:g} s")
    except ConfigTimeout as exc:
        status, error = "timeout", f"ConfigTimeout: {exc}"
    except Exception as exc:  # noqa: BLE001 -- a failing configuration is data, not a crash
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:500]
    elapsed = time.perf_counter() - start
    ok = status == "ok"
    if ok and not all(math.isfinite(s) for s in folds):
        status, error, ok = "failed", "ValueError: non-finite fold score", False
    return Evaluation(
        score=float(np.mean(folds)) if ok else math.nan,
        fold_scores=[float(s) for s in folds],
        secondary_score=float(np.mean(secondaries)) if ok and secondaries else math.nan,
        fit_time=elapsed,
        status=status,
        error=error,
    )


def objective(
    space: str | SearchSpace,
    dataset: Dataset | Any,
    *,
    cv: int = 5,
    metric: str | None = None,
    seed: int = 0,
    max_rows: int | None = None,
    timeout: float | None = None,
) -> Callable[[optuna.Trial], float]:
    """An Optuna objective: suggest from ``space``, cross-validate on fixed seeded splits.

    The returned callable gives the mean fold score (higher is better, so create the study
    with ``direction="maximize"``). A configuration that fails or times out returns NaN, which
    Optuna records as a failed trial; the per-fold scores, secondary score, fit time and error
    are stored as the trial's user attributes.

    Args:
        space: A space name (resolved for the dataset's task) or a :class:`SearchSpace`.
        dataset: A :class:`~metaopt.datasets.Dataset` or anything
            :func:`metaopt.load_dataset` accepts.
        cv: Number of folds (an int >= 2). For splits of your own (a splitter, groups,
            time order) call :func:`evaluate` with them instead.
        metric: Primary metric; default ``balanced_accuracy`` (classification) or ``r2``.
        seed: Seed of the splits and of row subsampling (a non-negative int).
        max_rows: Optional cap on rows (stratified seeded subsample).
        timeout: Optional seconds per configuration (a positive number).

    Classes with fewer than ``cv`` rows are left out (a stratified split cannot place them in
    every fold), with a :class:`~metaopt.exceptions.FallbackWarning` naming them.

    Raises:
        TypeError: ``cv`` that is not a number of folds (a splitter, a list of splits).
        ValueError: an unknown space or metric, a metric the space cannot compute, a space
            of the other task, invalid ``cv``, ``seed``, ``max_rows`` or ``timeout``, or
            fewer than two classes with at least ``cv`` rows.

    Example:
        >>> import optuna, metaopt
        >>> from metaopt.spaces import objective
        >>> study = optuna.create_study(direction="maximize")
        >>> iris = metaopt.load_dataset("sklearn:iris")
        >>> study.optimize(objective("knn", iris, cv=3), n_trials=2)
        >>> 0.0 <= study.best_value <= 1.0
        True
    """
    cv = _check_folds(cv)
    _check_seed(seed)
    _check_max_rows(max_rows)
    _check_timeout(timeout)
    if not isinstance(dataset, Dataset):
        from metaopt.datasets import load_dataset

        dataset = load_dataset(dataset)
    resolved = get(space, dataset.task)
    if resolved.task != dataset.task:
        raise ValueError(
            f"space {resolved.name!r} is for {resolved.task}; got a {dataset.task} dataset."
        )
    metric = check_metric(metric, dataset.task)
    check_probabilities(resolved, metric)
    data = prepare(dataset, max_rows=max_rows, cv=cv, seed=seed)
    dropped = data.metadata.get("dropped_classes")
    if dropped:
        warn_fallback(
            logger,
            f"classes {dropped} of dataset {dataset.name!r} have fewer than cv={cv} rows, "
            "which a stratified split cannot place in every fold; the objective scores the "
            "other classes only (lower cv to keep them)",
        )
    splits = cv_splits(data.y, data.task, cv, seed)
    cache: dict[Any, Any] = {}

    def _objective(trial: optuna.Trial) -> float:
        params = resolved.suggest(trial)
        result = evaluate(
            resolved, data.X, data.y, params, splits, metric=metric, timeout=timeout, cache=cache
        )
        trial.set_user_attr("fold_scores", result.fold_scores)
        trial.set_user_attr("secondary_score", result.secondary_score)
        trial.set_user_attr("fit_time", result.fit_time)
        trial.set_user_attr("status", result.status)
        if result.error is not None:
            trial.set_user_attr("error", result.error)
            logger.info("trial %d %s: %s", trial.number, result.status, result.error)
        return result.score

    return _objective
