"""The PyTorch MLP estimator behind the ``mlp`` space."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from metaopt.spaces import TorchMLPClassifier, TorchMLPRegressor


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_classifier_learns_and_is_reproducible(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    state = torch.random.get_rng_state()
    model = TorchMLPClassifier(epochs=30, random_state=1).fit(X, y)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    assert (model.predict(X) == y).mean() > 0.9
    probabilities = model.predict_proba(X)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    twin = clone(model).fit(X, y)
    np.testing.assert_allclose(twin.predict_proba(X), probabilities)


def test_regressor_fits_a_linear_signal() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = 2 * X[:, 0] - X[:, 1]
    model = TorchMLPRegressor(epochs=40, learning_rate=3e-3).fit(X, y)
    assert model.score(X, y) > 0.9


def test_invalid_parameters_raise(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    with pytest.raises(ValueError, match="optimizer"):
        TorchMLPClassifier(optimizer="sgd").fit(X, y)
    with pytest.raises(ValueError, match="dropout"):
        TorchMLPClassifier(dropout=1.0).fit(X, y)


def test_lstm_optimizer_is_used_with_the_learning_rate_as_multiplier(
    iris: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    optim = pytest.importorskip("metaopt.optim")
    created: list[float] = []

    class RecordingSGD(torch.optim.SGD):
        def __init__(self, params: object, *, lr: float = 1.0, **_: object) -> None:
            created.append(lr)
            super().__init__(params, lr=0.01 * lr)

    monkeypatch.setattr(optim, "LSTMOptimizer", RecordingSGD)
    model = TorchMLPClassifier(optimizer="lstm", learning_rate=2.5, epochs=3).fit(*iris)
    assert created == [2.5]
    assert model.predict(iris[0]).shape == (150,)
