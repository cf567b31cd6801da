"""Meta-models by name, and which one metaopt uses by default."""

from __future__ import annotations

from metaopt.metamodel._base import MetaModel
from metaopt.metamodel._nearest import NearestDatasets
from metaopt.metamodel._portfolio import Portfolio
from metaopt.metamodel._surrogate import SurrogateRanker
from metaopt.metamodel._transfer import TransferEnsemble

_MODELS: dict[str, type[MetaModel]] = {
    "nearest": NearestDatasets,
    "portfolio": Portfolio,
    "surrogate": SurrogateRanker,
    "transfer": TransferEnsemble,
}

#: Names accepted by :func:`make_model` (and by ``model=`` of suggest and MetaSampler).
MODEL_NAMES: tuple[str, ...] = tuple(_MODELS)

#: The model used when none is given: the transfer ensemble, which keeps learning inside a
#: search (see docs/metamodel.md for the leave-one-group-out evidence).
DEFAULT_MODEL: str = "transfer"


def make_model(model: str | MetaModel | None = None) -> MetaModel:
    """A fresh (unfitted) meta-model from a name, or ``model`` itself when it is one.

    Example:
        >>> make_model("nearest")
        NearestDatasets()
    """
    if model is None:
        model = DEFAULT_MODEL
    if isinstance(model, MetaModel):
        return model
    if isinstance(model, str):
        if model not in _MODELS:
            raise ValueError(f"unknown meta-model {model!r}; accepted: {list(MODEL_NAMES)}")
        return _MODELS[model]()
    raise TypeError(
        f"model must be a name in {list(MODEL_NAMES)} or a metaopt.metamodel.MetaModel, "
        f"got {type(model).__name__}"
    )
