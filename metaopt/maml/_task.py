"""The :class:`Task` value type and the checks every task batch goes through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

_FIELDS = ("support_x", "support_y", "query_x", "query_y")


class Task(NamedTuple):
    """One few-shot task: a support set to adapt on and a query set to score the adaptation.

    The first dimension of every tensor indexes examples; ``support_x`` and ``support_y`` (and
    ``query_x`` and ``query_y``) must agree on it. ``query_x`` must have as many dimensions as
    ``support_x`` and the same last (feature) dimension, since one model reads both.

    Example:
        >>> import torch
        >>> x, y = torch.zeros(10, 1), torch.zeros(10, 1)
        >>> task = Task(support_x=x[:6], support_y=y[:6], query_x=x[6:], query_y=y[6:])
        >>> task.support_x.shape
        torch.Size([6, 1])
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor


def check_pair(x: torch.Tensor, y: torch.Tensor, what: str) -> None:
    """Raise a clear error unless ``x`` and ``y`` are non-empty tensors with matching lengths."""
    for name, value in ((f"{what}_x", x), (f"{what}_y", y)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}.")
        if value.ndim == 0:
            raise ValueError(f"{name} must have a leading example dimension, got a 0-d tensor.")
    if x.shape[0] == 0:
        raise ValueError(f"the {what} set is empty: {what}_x has shape {tuple(x.shape)}.")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{what}_x and {what}_y disagree on the number of examples: "
            f"{tuple(x.shape)} vs {tuple(y.shape)}."
        )


def check_inputs_agree(support_x: torch.Tensor, query_x: torch.Tensor) -> None:
    """Raise a clear error unless the query inputs have the support inputs' feature layout.

    Only the number of dimensions and the last (feature) dimension are compared: other
    dimensions may legitimately differ (e.g. sequence lengths for a recurrent model).
    """
    if query_x.ndim != support_x.ndim or query_x.shape[-1] != support_x.shape[-1]:
        raise ValueError(
            "query_x and support_x disagree on the feature shape: query_x has shape "
            f"{tuple(query_x.shape)}, support_x has shape {tuple(support_x.shape)}; they must "
            "have the same number of dimensions and the same last dimension."
        )


def as_tasks(task_batch: object) -> list[Task]:
    """Validate a batch of tasks (a non-empty sequence of 4-tuples of tensors)."""
    if isinstance(task_batch, Task) or not isinstance(task_batch, Sequence):
        raise TypeError(
            "task_batch must be a sequence of Task (support_x, support_y, query_x, query_y) "
            f"tuples, got {type(task_batch).__name__}."
        )
    if len(task_batch) == 0:
        raise ValueError("task_batch is empty; pass at least one task.")
    tasks = []
    for i, task in enumerate(task_batch):
        if not isinstance(task, tuple) or len(task) != 4:
            raise TypeError(
                f"task {i} must be a Task or a 4-tuple {_FIELDS}, got {type(task).__name__}"
                + (f" of length {len(task)}." if isinstance(task, tuple) else ".")
            )
        task = Task(*task)
        try:
            check_pair(task.support_x, task.support_y, "support")
            check_pair(task.query_x, task.query_y, "query")
            check_inputs_agree(task.support_x, task.query_x)
        except (TypeError, ValueError) as error:
            raise type(error)(f"task {i}: {error}") from None
        tasks.append(task)
    return tasks


def stack_tasks(tasks: Sequence[Task]) -> Task | None:
    """Stack tasks along a new leading dimension, or ``None`` when their shapes differ."""
    first = tasks[0]
    for task in tasks[1:]:
        for a, b in zip(task, first, strict=True):
            if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
                return None
    return Task(*(torch.stack([task[j] for task in tasks]) for j in range(4)))
