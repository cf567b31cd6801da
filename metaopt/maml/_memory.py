"""How much memory autograd keeps for a backward pass (to size inner loops)."""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch


class _Saved:
    """One tensor autograd saved for backward, wrapped so that its lifetime can be watched."""

    __slots__ = ("__weakref__", "tensor")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


def backward_memory(fn: Callable[[], torch.Tensor]) -> int:
    """Bytes autograd still holds for the backward pass of the value ``fn()`` returns.

    Counts each storage once, whoever else refers to it (parameters included), so it is the
    memory the graph pins until ``backward()``: what grows with MAML's inner steps in
    second-order mode. Measures the per-task loop of :class:`~metaopt.maml.MAML`
    (``vectorize=False``): ``torch.func`` transforms do not support the saved-tensor hooks this
    relies on.

    Example:
        >>> import torch
        >>> w = torch.ones(1000, requires_grad=True)
        >>> backward_memory(lambda: (w * w).sum())  # w is saved (twice, counted once)
        4000
    """
    alive: weakref.WeakSet[_Saved] = weakref.WeakSet()

    def pack(tensor: torch.Tensor) -> _Saved:
        saved = _Saved(tensor)
        alive.add(saved)
        return saved

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda saved: saved.tensor):
        result = fn()
    storages = {}
    for saved in list(alive):
        storage = saved.tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    del result
    return sum(storages.values())
