"""Prototypical Networks (Snell et al., 2017)."""

from __future__ import annotations

import math
from numbers import Real
from typing import Literal

import torch
from torch import nn

from metaopt.fewshot._episodic import (
    EpisodicLearner,
    OptimizerFactory,
    check_episode,
    check_task,
    class_means,
)
from metaopt.maml._task import Task

Distance = Literal["squared_euclidean", "cosine"]


class ProtoNet(EpisodicLearner):
    """Classify by the distance to each class's mean embedding (its prototype).

    The embedding is trained episodically: on each N-way K-shot task the query examples'
    negative distances to the N prototypes of the support set are the logits of a
    cross-entropy loss. At test time no gradient step is taken; the support set defines the
    prototypes.

    Args:
        embedding: Any ``nn.Module`` mapping a batch of examples to a batch of vectors.
        distance: ``"squared_euclidean"`` (the paper's choice) or ``"cosine"`` (cosine
            distance, scaled by ``temperature``).
        temperature: Logits are ``-distance / temperature``; a finite positive number.
        optimizer: Outer optimizer, see :class:`~metaopt.fewshot.EpisodicLearner`: ``None``
            (Adam 1e-3), an optimizer instance, or a factory such as
            ``metaopt.optim.LSTMOptimizer``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> net = ProtoNet(nn.Identity())
        >>> support_x = torch.tensor([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0]])
        >>> net.prototypes(support_x, torch.tensor([0, 0, 1]))
        tensor([[0., 1.],
                [4., 0.]])
        >>> net.fit(support_x, ["cat", "cat", "dog"]).predict(torch.tensor([[3.0, 0.0]]))
        array(['dog'], dtype='<U3')
    """

    def __init__(
        self,
        embedding: nn.Module,
        *,
        distance: Distance = "squared_euclidean",
        temperature: float = 1.0,
        optimizer: torch.optim.Optimizer | OptimizerFactory | None = None,
    ) -> None:
        if not isinstance(embedding, nn.Module):
            raise TypeError(
                f"embedding must be a torch.nn.Module, got {type(embedding).__name__}."
            )
        if distance not in ("squared_euclidean", "cosine"):
            raise ValueError(
                f"distance must be 'squared_euclidean' or 'cosine', got {distance!r}."
            )
        if isinstance(temperature, bool) or not isinstance(temperature, Real):
            raise TypeError(f"temperature must be a float, got {type(temperature).__name__}.")
        # inf would make every logit 0 and nan every loss nan, both without an error.
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(
                f"temperature must be a finite positive number, got {float(temperature)!r}."
            )
        super().__init__({"embedding": embedding}, optimizer)
        self.embedding = embedding
        self.distance = distance
        self.temperature = float(temperature)

    def prototypes(self, support_x: torch.Tensor, support_y: torch.Tensor) -> torch.Tensor:
        """``(n_way, d)`` prototypes: the mean embedding of each class's support examples."""
        n_way = check_episode(support_x, support_y)
        return class_means(self.embed(support_x), support_y, n_way)

    def distances(self, query_x: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
        """``(n_query, n_way)`` distances between the embedded queries and the prototypes."""
        z = self.embed(query_x)
        if z.shape[1] != prototypes.shape[-1]:
            raise ValueError(
                f"query embeddings have {z.shape[1]} dimensions, prototypes "
                f"{prototypes.shape[-1]}."
            )
        if self.distance == "cosine":
            return (
                1.0
                - nn.functional.normalize(z, dim=1) @ nn.functional.normalize(prototypes, dim=1).T
            )
        # ||z||^2 - 2 z.c + ||c||^2, clamped at 0 against rounding.
        squared = (z * z).sum(1, keepdim=True) - 2.0 * z @ prototypes.T + (prototypes**2).sum(1)
        return squared.clamp_min(0.0)

    def scores(
        self, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``-distance / temperature`` of each query example for each class."""
        check_episode(support_x, support_y, query_x)
        return -self.distances(query_x, self.prototypes(support_x, support_y)) / self.temperature

    def episode_loss(self, task: Task) -> torch.Tensor:
        """Cross-entropy of the query labels under the prototype logits."""
        check_task(task)
        logits = self.scores(task.support_x, task.support_y, task.query_x)
        return nn.functional.cross_entropy(logits, task.query_y.long())
