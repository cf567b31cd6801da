"""Relation Networks (Sung et al., 2018)."""

from __future__ import annotations

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


class SimilarityRelation(nn.Module):
    """The default relation module: an MLP over ``[|c - q|, c * q]`` of a pair ``[c, q]``.

    It receives what every relation module receives, the ``(m, 2 d)`` concatenation of a class
    vector ``c`` and a query vector ``q``, and scores it in ``[0, 1]``. Feeding the MLP the
    element-wise distance and product instead of ``[c, q]`` itself makes it symmetric and lets it
    compare from the first step: an MLP on the plain concatenation of vector embeddings tends to
    stall at scoring every class ``1/N``.

    Args:
        embedding_dim: ``d``, the size of each vector.
        hidden: Hidden units.
    """

    def __init__(self, embedding_dim: int, hidden: int = 64) -> None:
        super().__init__()
        for name, value in (("embedding_dim", embedding_dim), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}.")
        self.embedding_dim = embedding_dim
        self.net = nn.Sequential(
            nn.Linear(2 * embedding_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1), nn.Sigmoid()
        )

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """``(m, 2 d)`` concatenated pairs to ``(m, 1)`` scores."""
        if pairs.ndim != 2 or pairs.shape[1] != 2 * self.embedding_dim:
            raise ValueError(
                f"expected pairs of shape (m, {2 * self.embedding_dim}) for embedding_dim="
                f"{self.embedding_dim}, got {tuple(pairs.shape)}: does embedding_dim match the "
                "embedding's output size?"
            )
        c, q = pairs[:, : self.embedding_dim], pairs[:, self.embedding_dim :]
        return self.net(torch.cat([(c - q).abs(), c * q], dim=1))


class RelationNet(EpisodicLearner):
    """Classify with a learned relation score between a query and each class.

    Each class is represented by the mean embedding of its support examples (the paper sums
    them; the mean keeps the scale independent of K). A relation module scores the
    concatenation ``[class vector, query vector]`` with a number in ``[0, 1]``; training
    regresses the scores onto the one-hot query labels with a mean squared error, as in the
    paper. The default module, :class:`SimilarityRelation`, looks at ``|c - q|`` and ``c * q``
    of the pair; pass ``relation=nn.Sequential(nn.Linear(2 * d, h), nn.ReLU(), nn.Linear(h,
    1), nn.Sigmoid())`` for the paper's MLP on the plain concatenation.

    Args:
        embedding: Any ``nn.Module`` mapping a batch of examples to a batch of vectors.
        relation: Module mapping ``(m, 2 d)`` concatenated pairs to ``(m, 1)`` scores.
            ``None`` builds ``SimilarityRelation(embedding_dim, hidden)``; it then needs
            ``embedding_dim`` (``d``).
        embedding_dim: Output size of the embedding, for the default relation module; a
            positive int or ``None``.
        hidden: Hidden units of the default relation module; a positive int.
        optimizer: Outer optimizer, see :class:`~metaopt.fewshot.EpisodicLearner`.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> _ = torch.manual_seed(0)
        >>> net = RelationNet(nn.Linear(4, 8), embedding_dim=8)
        >>> scores = net.scores(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2]),
        ...                     torch.randn(5, 4))
        >>> scores.shape, bool(((scores >= 0) & (scores <= 1)).all())
        (torch.Size([5, 3]), True)
    """

    def __init__(
        self,
        embedding: nn.Module,
        relation: nn.Module | None = None,
        *,
        embedding_dim: int | None = None,
        hidden: int = 64,
        optimizer: torch.optim.Optimizer | OptimizerFactory | None = None,
    ) -> None:
        if not isinstance(embedding, nn.Module):
            raise TypeError(
                f"embedding must be a torch.nn.Module, got {type(embedding).__name__}."
            )
        # Checked even when a relation module is given, so that a typo never passes unnoticed.
        for name, value in (("embedding_dim", embedding_dim), ("hidden", hidden)):
            if value is None and name == "embedding_dim":
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}.")
        if relation is None:
            if embedding_dim is None:
                raise TypeError(
                    "without a relation module, pass embedding_dim (the embedding's output "
                    f"size) to build the default one; got embedding_dim={embedding_dim!r}."
                )
            relation = SimilarityRelation(embedding_dim, hidden)
        elif not isinstance(relation, nn.Module):
            raise TypeError(f"relation must be a torch.nn.Module, got {type(relation).__name__}.")
        super().__init__({"embedding": embedding, "relation": relation}, optimizer)
        self.embedding = embedding
        self.relation = relation

    def scores(
        self, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        """``(n_query, n_way)`` relation scores ``relation([class_k, query_i])``."""
        n_way = check_episode(support_x, support_y, query_x)
        classes = class_means(self.embed(support_x), support_y, n_way)
        queries = self.embed(query_x)
        n_query, d = queries.shape
        pairs = torch.cat(
            [
                classes.unsqueeze(0).expand(n_query, n_way, d),
                queries.unsqueeze(1).expand(n_query, n_way, d),
            ],
            dim=2,
        ).reshape(n_query * n_way, 2 * d)
        out = self.relation(pairs)
        if not isinstance(out, torch.Tensor) or out.numel() != n_query * n_way:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"the relation module must return one score per pair, got {shape} for "
                f"{n_query * n_way} pairs."
            )
        return out.reshape(n_query, n_way)

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        """Relation scores normalised to sum to one per query example.

        Scores below 0 (from a custom module without a final sigmoid) count as 0. A row with no
        positive score, e.g. all zeros from a module ending in a ReLU, has no preferred class
        and becomes the uniform distribution ``1 / n_way``.
        """
        scores = scores.clamp_min(0.0)
        total = scores.sum(-1, keepdim=True)
        uniform = torch.full_like(scores, 1.0 / scores.shape[-1])
        return torch.where(total > 0, scores / total.clamp_min(1e-12), uniform)

    def episode_loss(self, task: Task) -> torch.Tensor:
        """Mean squared error between the relation scores and the one-hot query labels."""
        check_task(task)
        scores = self.scores(task.support_x, task.support_y, task.query_x)
        target = nn.functional.one_hot(task.query_y.long(), scores.shape[1]).to(scores.dtype)
        return nn.functional.mse_loss(scores, target)
