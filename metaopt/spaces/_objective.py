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
        ValueError: when fewer than two classes remain, or ``max_rows`` is too small.
    """
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


def cv_splits(
    y: pd.Series | np.ndarray, task: str, cv: int = 3, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed, seeded ``cv``-fold splits (stratified for classification)."""
    if not isinstance(cv, int) or cv < 2:
        raise ValueError(f"cv must be an int >= 2; got {cv!r}.")
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
    implies (:func:`metaopt.datasets.infer_task`).
    """
    if isinstance(space, str):
        from metaopt.datasets import infer_task

        space = get(space, infer_task(pd.Series(np.asarray(y))))
    elif not isinstance(space, SearchSpace):
        raise TypeError(
            f"space must be a SearchSpace or a registered space name, got {type(space).__name__}"
        )
    metric = check_metric(metric, space.task)
    secondary = check_metric(secondary_metric or SECONDARY_METRIC[space.task], space.task)
    estimator_template = space.build(params)
    if space.task == "classification":
        target = pd.Series(pd.Categorical(np.asarray(y))).cat.codes.to_numpy()
        n_classes = int(target.max()) + 1
    else:
        target = np.asarray(y, dtype=float)
        n_classes = 0
    steps = getattr(estimator_template, "steps", None)
    has_preprocess = bool(steps) and steps[0][0] == "preprocess"
    preprocess_key = joblib.hash(steps[0][1]) if cache is not None and has_preprocess else None
    folds: list[float] = []
    secondaries: list[float] = []
    status, error = "ok", None
    start = time.perf_counter()
    try:
        with _time_limit(timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
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
        cv: Number of folds.
        metric: Primary metric; default ``balanced_accuracy`` (classification) or ``r2``.
        seed: Seed of the splits and of row subsampling.
        max_rows: Optional cap on rows (stratified seeded subsample).
        timeout: Optional seconds per configuration.

    Example:
        >>> import optuna, metaopt
        >>> from metaopt.spaces import objective
        >>> study = optuna.create_study(direction="maximize")
        >>> iris = metaopt.load_dataset("sklearn:iris")
        >>> study.optimize(objective("knn", iris, cv=3), n_trials=2)
        >>> 0.0 <= study.best_value <= 1.0
        True
    """
    if not isinstance(dataset, Dataset):
        from metaopt.datasets import load_dataset

        dataset = load_dataset(dataset)
    resolved = get(space, dataset.task)
    if resolved.task != dataset.task:
        raise ValueError(
            f"space {resolved.name!r} is for {resolved.task}; got a {dataset.task} dataset."
        )
    metric = check_metric(metric, dataset.task)
    if metric in PROBABILITY_METRICS and not hasattr(
        resolved.build(resolved.default), "predict_proba"
    ):
        accepted = [m for m in CLASSIFICATION_METRICS if m not in PROBABILITY_METRICS]
        raise ValueError(
            f"metric {metric!r} needs class probabilities, which the models of space "
            f"{resolved.name!r} do not give; accepted for it: {accepted}."
        )
    data = prepare(dataset, max_rows=max_rows, cv=cv, seed=seed)
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
