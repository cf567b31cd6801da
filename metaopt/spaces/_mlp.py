"""A small PyTorch multilayer perceptron with scikit-learn's estimator interface."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted, validate_data

from metaopt._extras import require

OPTIMIZERS = ("adam", "lstm")

#: Training seeds and draws from torch's global RNG (layer initialisation, dropout) and sets
#: torch's global thread count; fits in threads (Optuna's ``n_jobs``) take turns, so each is
#: as reproducible as it is alone.
_TRAIN_LOCK = threading.Lock()


def _torch() -> Any:
    """The torch module, or an error naming the ``torch`` extra."""
    return require("torch", "the mlp search space (TorchMLPClassifier, TorchMLPRegressor)")


class _TorchMLP(BaseEstimator):
    """Shared training loop; subclasses define the output layer and the loss."""

    def __init__(
        self,
        n_layers: int = 2,
        width: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        dropout: float = 0.1,
        batch_size: int = 64,
        epochs: int = 20,
        optimizer: str = "adam",
        random_state: int | None = 0,
    ) -> None:
        self.n_layers = n_layers
        self.width = width
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.batch_size = batch_size
        self.epochs = epochs
        self.optimizer = optimizer
        self.random_state = random_state

    def _check_params(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {self.optimizer!r}.")
        for name in ("n_layers", "width", "batch_size", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < (0 if name == "n_layers" else 1):
                raise ValueError(f"{name} must be a positive int; got {value!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout!r}.")
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise ValueError(
                "learning_rate must be > 0 and weight_decay >= 0; got "
                f"{self.learning_rate!r} and {self.weight_decay!r}."
            )

    def _make_optimizer(self, params: Any) -> Any:
        torch = _torch()

        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.learning_rate)
        # Imported lazily: the learned optimizer and its weights are only needed on request.
        optim = importlib.import_module("metaopt.optim")
        return optim.LSTMOptimizer(params, lr=self.learning_rate)

    def _train(self, X: np.ndarray, target: np.ndarray, n_outputs: int, loss_name: str) -> None:
        torch = _torch()

        seed = 0 if self.random_state is None else int(self.random_state)
        with _TRAIN_LOCK:
            threads = torch.get_num_threads()
            # Networks this small gain nothing from intra-op threads, which only contend.
            torch.set_num_threads(1)
            try:
                self._train_seeded(X, target, n_outputs, loss_name, seed)
            finally:
                torch.set_num_threads(threads)

    def _train_seeded(
        self, X: np.ndarray, target: np.ndarray, n_outputs: int, loss_name: str, seed: int
    ) -> None:
        torch = _torch()
        nn = torch.nn

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[nn.Module] = []
            n_in = X.shape[1]
            for _ in range(self.n_layers):
                layers += [nn.Linear(n_in, self.width), nn.ReLU(), nn.Dropout(self.dropout)]
                n_in = self.width
            layers.append(nn.Linear(n_in, n_outputs))
            network = nn.Sequential(*layers)
            loss_fn = nn.CrossEntropyLoss() if loss_name == "cross_entropy" else nn.MSELoss()
            optimizer = self._make_optimizer(network.parameters())
            inputs = torch.as_tensor(X, dtype=torch.float32)
            targets = torch.as_tensor(target)
            generator = torch.Generator().manual_seed(seed)
            weights = [p for name, p in network.named_parameters() if name.endswith("weight")]
            network.train()
            for _ in range(self.epochs):
                order = torch.randperm(len(inputs), generator=generator)
                for start in range(0, len(inputs), self.batch_size):
                    batch = order[start : start + self.batch_size]
                    optimizer.zero_grad()
                    loss = loss_fn(network(inputs[batch]), targets[batch])
                    if self.weight_decay > 0:
                        # An L2 penalty in the loss, so both optimizers see the same objective.
                        loss = loss + self.weight_decay * sum((w**2).sum() for w in weights)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(
                            "MLP training diverged (non-finite loss); lower learning_rate"
                        )
                    loss.backward()
                    optimizer.step()
            network.eval()
        self.network_ = network

    def _forward(self, X: Any) -> np.ndarray:
        torch = _torch()

        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        with torch.no_grad():
            return self.network_(torch.as_tensor(X, dtype=torch.float32)).numpy()


class TorchMLPClassifier(ClassifierMixin, _TorchMLP):
    """PyTorch MLP classifier (ReLU, dropout, L2 penalty) trained with Adam or the LSTM optimizer.

    With ``optimizer="lstm"`` training uses :class:`metaopt.optim.LSTMOptimizer` and
    ``learning_rate`` is its multiplier of the learned update.

    Args:
        n_layers: Hidden layers.
        width: Units per hidden layer.
        learning_rate: Adam's step size, or the LSTM optimizer's update multiplier.
        weight_decay: L2 penalty on the weights, added to the loss.
        dropout: Dropout probability after each hidden layer.
        batch_size: Minibatch size.
        epochs: Passes over the training data.
        optimizer: ``"adam"`` or ``"lstm"``.
        random_state: Seed for initialisation and batch order (the global torch RNG is untouched).

    Example:
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> TorchMLPClassifier(epochs=5).fit(X, y).predict(X[:2]).shape
        (2,)
    """

    def fit(self, X: Any, y: Any) -> TorchMLPClassifier:
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        codes = encoder.transform(y).astype(np.int64)
        self._train(X, codes, len(self.classes_), "cross_entropy")
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._forward(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self._forward(X), axis=1)]


class TorchMLPRegressor(RegressorMixin, _TorchMLP):
    """PyTorch MLP regressor (squared error); same parameters as :class:`TorchMLPClassifier`.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(64, 3))
        >>> TorchMLPRegressor(epochs=5).fit(X, X[:, 0]).predict(X).shape
        (64,)
    """

    def fit(self, X: Any, y: Any) -> TorchMLPRegressor:
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=True)
        target = np.asarray(y, dtype=np.float32).reshape(-1, 1)
        self._train(X, target, 1, "squared_error")
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self._forward(X)[:, 0].astype(np.float64)
