"""Meta-models: rank the configurations of a search space for a new dataset.

All models are scikit-learn-style estimators fitted on a knowledge table
(:class:`metaopt.knowledge.KnowledgeBase`, or an evaluations frame plus metafeatures):

- :class:`NearestDatasets`: best configurations of the most similar known datasets
  (auto-sklearn 1.0);
- :class:`SurrogateRanker`: a learned model of the normalised score across datasets and
  configurations, ranking candidates into a diverse top-n;
- :class:`Portfolio`: a dataset-independent greedy portfolio (auto-sklearn 2.0), the fallback;
- :class:`TransferEnsemble`: a posterior-weighted mixture of per-dataset models that keeps
  transferring inside a search (:class:`metaopt.MetaSampler` re-weights it after every trial).
"""

from __future__ import annotations

from metaopt.metamodel._base import MetaModel
from metaopt.metamodel._diverse import greedy_diverse_top_n
from metaopt.metamodel._encoding import ConfigEncoder, unit_encode
from metaopt.metamodel._nearest import NearestDatasets
from metaopt.metamodel._normalize import normalize_scores
from metaopt.metamodel._portfolio import Portfolio, greedy_portfolio
from metaopt.metamodel._registry import DEFAULT_MODEL, MODEL_NAMES, make_model
from metaopt.metamodel._scaling import MetafeatureScaler
from metaopt.metamodel._session import TransferSession
from metaopt.metamodel._similarity import learn_metafeature_weights, performance_dissimilarity
from metaopt.metamodel._surrogate import SurrogateRanker
from metaopt.metamodel._transfer import TransferEnsemble

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_NAMES",
    "ConfigEncoder",
    "MetaModel",
    "MetafeatureScaler",
    "NearestDatasets",
    "Portfolio",
    "SurrogateRanker",
    "TransferEnsemble",
    "TransferSession",
    "greedy_diverse_top_n",
    "greedy_portfolio",
    "learn_metafeature_weights",
    "performance_dissimilarity",
    "unit_encode",
    "make_model",
    "normalize_scores",
]
