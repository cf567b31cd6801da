"""N-way K-shot classification tasks drawn from a labelled dataset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch

from metaopt.datasets import Dataset
from metaopt.maml._task import Task

DataLike = Dataset | tuple[object, object]


def as_arrays(data: DataLike) -> tuple[np.ndarray, np.ndarray]:
    """Features as a float matrix and labels as a 1-d array, from a Dataset or ``(X, y)``."""
    if isinstance(data, Dataset):
        if data.task != "classification":
            raise ValueError(
                f"few-shot tasks need a classification dataset, got task={data.task!r} "
                f"for {data.name!r}."
            )
        X, y = data.X, data.y
    elif isinstance(data, tuple) and len(data) == 2:
        X, y = data
    else:
        raise TypeError(
            f"data must be a metaopt Dataset or an (X, y) tuple, got {type(data).__name__}."
        )
    if isinstance(X, pd.DataFrame):
        categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if categorical:
            raise TypeError(
                f"few-shot tasks need numeric features; columns {categorical[:5]} are not "
                "numeric (encode them first)."
            )
    features = np.asarray(X, dtype=np.float64)
    labels = np.asarray(y)
    if features.ndim != 2:
        raise ValueError(f"X must be 2-d (rows, features), got shape {features.shape}.")
    if labels.ndim != 1 or labels.shape[0] != features.shape[0]:
        raise ValueError(
            f"y must be 1-d with one label per row of X: X has shape {features.shape}, "
            f"y has shape {labels.shape}."
        )
    if not np.isfinite(features).all():
        raise ValueError("X contains NaN or infinite values; impute them first.")
    if pd.isna(labels).any():
        raise ValueError("y contains missing labels.")
    return features, labels


def pool_datasets(datasets: Mapping[str, DataLike]) -> tuple[np.ndarray, np.ndarray]:
    """Pool several classification datasets with the same features into one many-class set.

    Every class keeps its identity: label ``c`` of dataset ``name`` becomes the string label
    ``"name:c"``, so a digit 3 of one dataset and a 3 of another are different classes. Use it
    to reach enough classes for class-disjoint meta-splits (e.g. letter's 26 classes and
    pendigits' 10, both 16 numeric features). Features are stacked as given: put them on a
    common scale first (e.g. divide by each dataset's known range).

    Args:
        datasets: Mapping from a short name to a classification Dataset or ``(X, y)``; all must
            have the same number of features.

    Returns:
        ``(X, y)``: a float matrix with the rows of all datasets and a 1-d array of string
        labels.

    Example:
        >>> import numpy as np
        >>> a = (np.zeros((4, 2)), np.array([0, 0, 1, 1]))
        >>> b = (np.ones((2, 2)), np.array([0, 1]))
        >>> X, y = pool_datasets({"a": a, "b": b})
        >>> X.shape, sorted(set(y.tolist()))
        ((6, 2), ['a:0', 'a:1', 'b:0', 'b:1'])
    """
    if not isinstance(datasets, Mapping) or not datasets:
        raise TypeError(
            "datasets must be a non-empty mapping name -> Dataset or (X, y), got "
            f"{type(datasets).__name__}."
        )
    features, labels, widths = [], [], {}
    for name, data in datasets.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"dataset names must be non-empty strings, got {name!r}.")
        X, y = as_arrays(data)
        widths[name] = X.shape[1]
        features.append(X)
        labels.append(np.asarray([f"{name}:{label}" for label in y], dtype=object))
    if len(set(widths.values())) > 1:
        raise ValueError(
            f"datasets must share their number of features to be pooled, got {widths}; "
            "select or project features to a common set first."
        )
    return np.concatenate(features), np.concatenate(labels)


def split_classes(
    data: DataLike, *, n_test: int, seed: int = 0
) -> tuple[list[object], list[object]]:
    """Split the classes into disjoint meta-train and meta-test sets.

    Args:
        data: A classification Dataset or ``(X, y)``.
        n_test: Number of classes held out for meta-testing.
        seed: Seed of the random split.

    Returns:
        ``(train_classes, test_classes)``, sorted lists of labels with no class in both.
    """
    _, labels = as_arrays(data)
    classes = np.unique(labels)
    if isinstance(n_test, bool) or not isinstance(n_test, Integral):
        raise TypeError(f"n_test must be an int, got {type(n_test).__name__}.")
    n_test = int(n_test)
    if not 1 <= n_test < len(classes):
        raise ValueError(f"n_test must be between 1 and {len(classes) - 1}, got {n_test}.")
    order = np.random.default_rng(seed).permutation(len(classes))
    test = sorted(classes[order[:n_test]].tolist())
    train = sorted(classes[order[n_test:]].tolist())
    return train, test


def split_rows(
    data: DataLike, *, test_size: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split the rows into disjoint meta-train and meta-test sets, stratified by class.

    Returns:
        ``(train_rows, test_rows)``, sorted integer row indices.
    """
    _, labels = as_arrays(data)
    if isinstance(test_size, bool) or not isinstance(test_size, Real):
        raise TypeError(f"test_size must be a float, got {type(test_size).__name__}.")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}.")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        n_test = max(1, round(test_size * len(rows)))
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _check_count(value: object, name: str) -> int:
    """A positive integer (int or numpy integer, not bool), as an int."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}.")
    return int(value)


def _same(a: object, b: object) -> bool:
    """Whether two labels are equal, never raising (e.g. for array-like labels)."""
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class FewShotTasks:
    """Sample N-way K-shot classification tasks from a labelled dataset.

    Each task picks ``n_way`` classes, relabels them ``0..n_way-1`` in random order, and draws
    ``k_shot`` support and ``n_query`` query examples per class without overlap. Restrict the
    sampler to ``classes`` (class-disjoint meta-splits, see :func:`split_classes`) and/or
    ``rows`` (sample-disjoint meta-splits, see :func:`split_rows`).

    Args:
        data: A classification :class:`metaopt.Dataset` or an ``(X, y)`` pair with numeric
            ``X``. Features are used as given: scale them beforehand if needed.
        n_way: Classes per task.
        k_shot: Support examples per class.
        n_query: Query examples per class.
        classes: Labels to draw from (default: all).
        rows: Row indices to draw from (default: all).
        dtype: Floating dtype of the features; labels are ``torch.long``.
        seed: Seed of the sampler's generator; ``None`` draws a fresh seed.

    Example:
        >>> from sklearn.datasets import load_digits
        >>> X, y = load_digits(return_X_y=True)
        >>> train_classes, test_classes = split_classes((X, y), n_test=3, seed=0)
        >>> tasks = FewShotTasks((X / 16, y), n_way=3, k_shot=1, classes=test_classes, seed=0)
        >>> task = tasks.sample(1)[0]
        >>> task.support_x.shape, task.support_y.tolist()  # doctest: +SKIP
        (torch.Size([3, 64]), [2, 0, 1])
    """

    def __init__(
        self,
        data: DataLike,
        *,
        n_way: int = 5,
        k_shot: int = 1,
        n_query: int = 15,
        classes: Sequence[object] | None = None,
        rows: Sequence[int] | np.ndarray | None = None,
        dtype: torch.dtype = torch.float32,
        seed: int | None = None,
    ) -> None:
        features, labels = as_arrays(data)
        n_way, k_shot, n_query = (
            _check_count(value, name)
            for name, value in (("n_way", n_way), ("k_shot", k_shot), ("n_query", n_query))
        )
        if n_way < 2:
            raise ValueError(f"n_way must be at least 2, got {n_way}.")
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}.")
        self.n_way, self.k_shot, self.n_query, self.dtype = n_way, k_shot, n_query, dtype

        allowed = np.ones(len(labels), dtype=bool)
        if rows is not None:
            rows = np.asarray(rows)
            if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
                raise TypeError("rows must be a 1-d sequence of integer row indices.")
            if rows.size and (rows.min() < 0 or rows.max() >= len(labels)):
                raise ValueError(f"rows must index 0..{len(labels) - 1}.")
            allowed[:] = False
            allowed[rows] = True
        present = np.unique(labels)
        if classes is None:
            chosen = present
        else:
            # Compared as given: casting to y's dtype would truncate 1.5 to 1, or fail on "a".
            wanted = list(classes)
            known = present.tolist()
            missing = [c for c in wanted if not any(_same(c, k) for k in known)]
            if missing:
                raise ValueError(
                    f"classes {missing[:5]} do not occur in y; y has the classes "
                    f"{known[:10]}{' ...' if len(known) > 10 else ''}."
                )
            chosen = present[[any(_same(c, k) for c in wanted) for k in known]]
        need = k_shot + n_query
        self._rows_by_class: list[np.ndarray] = []
        self.classes: list[object] = []
        for label in np.unique(chosen):
            rows_of_class = np.flatnonzero(allowed & (labels == label))
            if len(rows_of_class) < need:
                shown = label.item() if isinstance(label, np.generic) else label
                raise ValueError(
                    f"class {shown!r} has {len(rows_of_class)} usable rows but a task needs "
                    f"k_shot + n_query = {need}; lower n_query or drop the class."
                )
            self._rows_by_class.append(rows_of_class)
            self.classes.append(label.item() if hasattr(label, "item") else label)
        if len(self.classes) < n_way:
            raise ValueError(
                f"n_way={n_way} needs at least {n_way} classes, got {len(self.classes)}."
            )
        self._features = torch.tensor(features, dtype=dtype)  # a copy: X may be read-only
        self.n_features = features.shape[1]
        self._rng = np.random.default_rng(seed)

    def sample(self, n: int) -> list[Task]:
        """Draw ``n`` independent tasks."""
        return [self._one_task() for _ in range(_check_count(n, "n"))]

    def _one_task(self) -> Task:
        picked = self._rng.choice(len(self.classes), size=self.n_way, replace=False)
        support, query, support_y, query_y = [], [], [], []
        for new_label, class_index in enumerate(picked):
            pool = self._rows_by_class[class_index]
            rows = self._rng.choice(pool, size=self.k_shot + self.n_query, replace=False)
            support.append(rows[: self.k_shot])
            query.append(rows[self.k_shot :])
            support_y += [new_label] * self.k_shot
            query_y += [new_label] * self.n_query
        return Task(
            self._features[np.concatenate(support)],
            torch.tensor(support_y, dtype=torch.long),
            self._features[np.concatenate(query)],
            torch.tensor(query_y, dtype=torch.long),
        )
