"""The ``mlp`` space: a PyTorch MLP trained with Adam or the learned LSTM optimizer."""

from __future__ import annotations

from typing import Any

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.compose import TransformedTargetRegressor
from sklearn.preprocessing import StandardScaler

from metaopt.spaces._mlp import TorchMLPClassifier, TorchMLPRegressor
from metaopt.spaces._preprocessing import scaled_pipeline
from metaopt.spaces._space import SearchSpace


def mlp(task: str) -> SearchSpace:
    """PyTorch MLP; ``learning_rate`` for Adam, ``lr_multiplier`` for the LSTM optimizer.

    Epochs are bounded (at most 50) to keep one fit cheap.
    """

    def factory(params: dict[str, Any]) -> Any:
        params = dict(params)
        if params["optimizer"] == "lstm":
            params["learning_rate"] = params.pop("lr_multiplier")
        if task == "classification":
            return scaled_pipeline(TorchMLPClassifier(**params))
        model = TransformedTargetRegressor(
            TorchMLPRegressor(**params), transformer=StandardScaler()
        )
        return scaled_pipeline(model)

    return SearchSpace(
        "mlp",
        task,
        {
            "n_layers": IntDistribution(1, 3),
            "width": IntDistribution(16, 256, log=True),
            "optimizer": CategoricalDistribution(["adam", "lstm"]),
            "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
            "lr_multiplier": FloatDistribution(0.1, 10.0, log=True),
            "weight_decay": FloatDistribution(1e-7, 1e-2, log=True),
            "dropout": FloatDistribution(0.0, 0.5),
            "batch_size": IntDistribution(16, 256, log=True),
            "epochs": IntDistribution(5, 50, log=True),
        },
        {
            "n_layers": 2,
            "width": 64,
            "optimizer": "adam",
            "learning_rate": 1e-3,
            "lr_multiplier": 1.0,
            "weight_decay": 1e-5,
            "dropout": 0.1,
            "batch_size": 64,
            "epochs": 20,
        },
        factory,
        conditions={
            "learning_rate": lambda p: p.get("optimizer") == "adam",
            "lr_multiplier": lambda p: p.get("optimizer") == "lstm",
        },
        description="PyTorch MLP (ReLU, dropout, L2), Adam or LSTMOptimizer; scaled, one-hot",
    )
