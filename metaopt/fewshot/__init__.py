"""Metric-based few-shot classification: Prototypical Networks and Relation Networks.

Both learners take any ``nn.Module`` embedding, train episodically on N-way K-shot tasks and
classify new examples from a support set with :meth:`~EpisodicLearner.fit` /
:meth:`~EpisodicLearner.predict`. Tasks come from the sampling layer shared with
:mod:`metaopt.maml` (re-exported here): :class:`FewShotTasks`, :func:`split_classes`,
:func:`split_rows` and :func:`pool_datasets`.
"""

from __future__ import annotations

from metaopt._extras import require

require("torch", "metaopt.fewshot")

from metaopt.fewshot._episodic import EpisodicLearner
from metaopt.fewshot._protonet import ProtoNet
from metaopt.fewshot._relation import RelationNet, SimilarityRelation
from metaopt.maml import FewShotTasks, Task, pool_datasets, split_classes, split_rows

__all__ = [
    "EpisodicLearner",
    "FewShotTasks",
    "ProtoNet",
    "RelationNet",
    "SimilarityRelation",
    "Task",
    "pool_datasets",
    "split_classes",
    "split_rows",
]
