"""What every metric-based few-shot learner shares: input checks, episodic training, fit/predict.

A learner scores query examples against the classes of a support set; the subclasses say how
(:class:`~metaopt.fewshot.ProtoNet`: distances to class prototypes,
:class:`~metaopt.fewshot.RelationNet`: a learned relation module). Tasks come from the same
samplers as MAML's (:class:`metaopt.maml.FewShotTasks`), labelled ``0..n_way-1``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from numbers import Integral

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from metaopt.maml._task import Task, as_tasks, check_pair

OptimizerFactory = Callable[[Iterable[torch.Tensor]], torch.optim.Optimizer]


def check_episode(
    support_x: torch.Tensor,
    support_y: torch.Tensor,
    query_x: torch.Tensor | None = None,
    n_way: int | None = None,
    query_y: torch.Tensor | None = None,
) -> int:
    """Validate one episode and return its number of classes.

    ``support_y`` must hold integer labels ``0..n_way-1`` (``n_way`` defaults to the largest
    label plus one) with at least one support example of every class, and ``query_x`` must have
    the same per-example shape as ``support_x``. ``query_y``, if given (with ``query_x``), must
    be a 1-d integer tensor with one label in ``0..n_way-1`` per row of ``query_x``: a wrong
    shape would broadcast and a foreign label would never match, both giving a silently wrong
    accuracy.
    """
    check_pair(support_x, support_y, "support")
    if support_y.ndim != 1 or support_y.dtype not in (torch.int64, torch.int32):
        raise TypeError(
            "support_y must be a 1-d tensor of integer class indices 0..n_way-1, got "
            f"dtype {support_y.dtype} and shape {tuple(support_y.shape)}."
        )
    if int(support_y.min()) < 0:
        raise ValueError(f"support_y must be >= 0, got a label {int(support_y.min())}.")
    largest = int(support_y.max()) + 1
    if n_way is None:
        n_way = largest
    elif largest > n_way:
        raise ValueError(f"support_y has label {largest - 1} but n_way={n_way}.")
    counts = torch.bincount(support_y.long(), minlength=n_way)
    empty = torch.nonzero(counts == 0).flatten().tolist()
    if empty:
        raise ValueError(
            f"class(es) {empty} have no support example (support labels "
            f"{sorted(set(support_y.tolist()))}, n_way={n_way}); every class needs at least one."
        )
    if n_way < 2:
        raise ValueError(f"an episode needs at least 2 classes, got {n_way}.")
    if query_x is not None:
        if not isinstance(query_x, torch.Tensor):
            raise TypeError(f"query_x must be a torch.Tensor, got {type(query_x).__name__}.")
        if query_x.shape[1:] != support_x.shape[1:]:
            raise ValueError(
                "query and support examples must have the same shape: query_x has shape "
                f"{tuple(query_x.shape)}, support_x has shape {tuple(support_x.shape)}."
            )
    if query_y is not None:
        if query_x is None:
            raise TypeError("query_y needs query_x: pass both or neither.")
        check_query_labels(query_x, query_y, n_way)
    return n_way


def check_query_labels(query_x: torch.Tensor, query_y: torch.Tensor, n_way: int) -> None:
    """Raise unless ``query_y`` holds one integer label ``0..n_way-1`` per row of ``query_x``."""
    check_pair(query_x, query_y, "query")
    if query_y.dtype not in (torch.int64, torch.int32):
        raise TypeError(
            "query_y must be a tensor of integer class indices 0..n_way-1, got dtype "
            f"{query_y.dtype}."
        )
    if query_y.ndim != 1:
        raise ValueError(
            "query_y must be a 1-d tensor with one label per row of query_x, got shape "
            f"{tuple(query_y.shape)} for query_x of shape {tuple(query_x.shape)}."
        )
    outside = sorted({label for label in query_y.tolist() if not 0 <= label < n_way})
    if outside:
        raise ValueError(
            f"query_y must hold labels 0..{n_way - 1} (the {n_way} classes of the support set), "
            f"got label(s) {outside[:5]}."
        )


def check_task(task: Task) -> int:
    """Validate a whole episode, query labels included, and return its number of classes."""
    return check_episode(task.support_x, task.support_y, task.query_x, query_y=task.query_y)


def episodes(task_batch: object) -> list[Task]:
    """Validate a batch of episodes, query labels included, before any forward pass."""
    tasks = as_tasks(task_batch)
    for i, task in enumerate(tasks):
        try:
            check_task(task)
        except (TypeError, ValueError) as error:
            raise type(error)(f"task {i}: {error}") from None
    return tasks


def class_means(features: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """Per-class mean of the rows of ``features`` for labels ``0..n_way-1``, ``(n_way, d)``."""
    one_hot = nn.functional.one_hot(labels.long(), n_way).to(features.dtype)
    return (one_hot.T @ features) / one_hot.sum(0).unsqueeze(1)


class EpisodicLearner:
    """Base of the metric-based few-shot learners: episodic training and support-set fitting.

    Subclasses implement :meth:`scores`, which maps ``(support_x, support_y, query_x)`` to an
    ``(n_query, n_way)`` tensor (higher = more likely) and :meth:`episode_loss`, which should
    start with :func:`check_task` so that a direct call checks the query labels too.

    Args:
        modules: The trainable modules by name (``"embedding"``, and ``"relation"`` if any).
        optimizer: ``None`` builds ``torch.optim.Adam(lr=1e-3)`` over the modules' trainable
            parameters on the first :meth:`meta_step`; a ``torch.optim.Optimizer`` is used as
            given; a callable receives the parameters and returns an optimizer (e.g.
            ``metaopt.optim.LSTMOptimizer``).
    """

    def __init__(
        self,
        modules: dict[str, nn.Module],
        optimizer: torch.optim.Optimizer | OptimizerFactory | None = None,
    ) -> None:
        self._modules = dict(modules)
        if optimizer is not None and not (
            isinstance(optimizer, torch.optim.Optimizer) or callable(optimizer)
        ):
            raise TypeError(
                "optimizer must be None, a torch.optim.Optimizer or a callable returning one, "
                f"got {type(optimizer).__name__}."
            )
        self._optimizer_spec = optimizer
        self._optimizer: torch.optim.Optimizer | None = (
            optimizer if isinstance(optimizer, torch.optim.Optimizer) else None
        )
        self._support: tuple[torch.Tensor, torch.Tensor, np.ndarray] | None = None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of examples into ``(n, d)`` vectors with the ``"embedding"`` module."""
        z = self._modules["embedding"](x)
        if not isinstance(z, torch.Tensor) or z.ndim < 1 or z.shape[0] != x.shape[0]:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(
                f"the embedding must return one vector per example: got {shape} for "
                f"{x.shape[0]} examples."
            )
        return z.reshape(z.shape[0], -1)

    # ------------------------------------------------------------------ to implement
    def scores(
        self, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        """``(n_query, n_way)`` scores of each query example for each class (differentiable)."""
        raise NotImplementedError

    def episode_loss(self, task: Task) -> torch.Tensor:
        """The training loss of one episode (a scalar)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ parameters
    def parameters(self) -> list[torch.Tensor]:
        """The trainable parameters of all modules."""
        seen: dict[int, torch.Tensor] = {}
        for module in self._modules.values():
            for p in module.parameters():
                if p.requires_grad:
                    seen.setdefault(id(p), p)
        return list(seen.values())

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The outer optimizer (built on first use)."""
        if self._optimizer is None:
            params = self.parameters()
            if not params:
                raise ValueError("the modules have no trainable parameters; nothing to train.")
            if self._optimizer_spec is None:
                self._optimizer = torch.optim.Adam(params, lr=1e-3)
            else:
                optimizer = self._optimizer_spec(params)
                if not isinstance(optimizer, torch.optim.Optimizer):
                    raise TypeError(
                        "optimizer factory must return a torch.optim.Optimizer, got "
                        f"{type(optimizer).__name__}."
                    )
                self._optimizer = optimizer
        return self._optimizer

    def train(self, mode: bool = True) -> None:
        """Put every module in training (or evaluation) mode."""
        for module in self._modules.values():
            module.train(mode)

    @contextmanager
    def _evaluating(self) -> Iterator[None]:
        """Evaluation mode inside the block, then every submodule's own mode back.

        Per submodule, not per module: a user may keep, say, a frozen BatchNorm in eval mode
        inside an embedding that is otherwise training.
        """
        modes = [
            (sub, sub.training) for module in self._modules.values() for sub in module.modules()
        ]
        self.train(False)
        try:
            yield
        finally:
            for sub, training in modes:
                sub.training = training

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Copies of all module tensors, keyed ``<module>.<name>`` (``embedding.0.weight``).

        Plain tensors: store them with safetensors or ``torch.save`` and load them with
        ``torch.load(weights_only=True)``.
        """
        return {
            f"{prefix}.{key}": value.detach().clone()
            for prefix, module in self._modules.items()
            for key, value in module.state_dict().items()
        }

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore tensors produced by :meth:`state_dict` (in place).

        Nothing is loaded unless ``state`` has exactly the keys of :meth:`state_dict`, each with
        the shape of the tensor it replaces.

        Raises:
            TypeError: ``state`` is not a mapping.
            ValueError: Keys are missing or unexpected (e.g. ``relation.*`` keys given to a
                :class:`~metaopt.fewshot.ProtoNet`), or a tensor has another shape.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"state must be a mapping of names to tensors, got {type(state).__name__}."
            )
        current = {
            f"{prefix}.{key}": value
            for prefix, module in self._modules.items()
            for key, value in module.state_dict().items()
        }
        missing = sorted(set(current) - set(state))
        unexpected = sorted(str(key) for key in set(state) - set(current))
        if missing or unexpected:
            problems = [
                f"{what} keys {keys[:5]}" + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
                for what, keys in (("missing", missing), ("unexpected", unexpected))
                if keys
            ]
            raise ValueError(
                f"state does not match the learner's modules: {', '.join(problems)}; expected "
                f"the keys of state_dict() ({', '.join(f'{p}.*' for p in self._modules)})."
            )
        mismatched = [
            f"{key}: got {tuple(state[key].shape)}, expected {tuple(value.shape)}"
            for key, value in current.items()
            if isinstance(value, torch.Tensor)
            and isinstance(state[key], torch.Tensor)
            and state[key].shape != value.shape
        ]
        if mismatched:
            raise ValueError(f"state has tensors of the wrong shape: {'; '.join(mismatched[:5])}.")
        for prefix, module in self._modules.items():
            head = f"{prefix}."
            try:
                module.load_state_dict(
                    {k[len(head) :]: v for k, v in state.items() if k.startswith(head)}
                )
            except RuntimeError as error:  # e.g. a non-tensor value where a tensor belongs
                raise ValueError(f"cannot load the {prefix!r} module's state: {error}") from None

    # ------------------------------------------------------------------ episodic training
    def loss(self, task_batch: Sequence[Task]) -> torch.Tensor:
        """Mean episode loss over a batch of tasks (differentiable)."""
        tasks = episodes(task_batch)
        return torch.stack([self.episode_loss(task) for task in tasks]).mean()

    def meta_step(self, task_batch: Sequence[Task]) -> float:
        """One optimizer step on a batch of episodes; returns their mean loss."""
        self.train(True)
        optimizer = self.optimizer
        optimizer.zero_grad(set_to_none=True)
        loss = self.loss(task_batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the episode loss is {float(loss)}; lower the learning rate."
            )
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def meta_train(
        self,
        sampler: object,
        iterations: int,
        *,
        tasks_per_step: int = 1,
        progress: bool = True,
    ) -> list[float]:
        """Run ``iterations`` meta-steps on episodes drawn from ``sampler.sample(n)``.

        Args:
            sampler: Anything with ``sample(n) -> list[Task]``, e.g.
                :class:`metaopt.maml.FewShotTasks`.
            iterations: Number of optimizer steps.
            tasks_per_step: Episodes per step.
            progress: Show a tqdm progress bar.

        Returns:
            The loss of every step.
        """
        if not callable(getattr(sampler, "sample", None)):
            raise TypeError(f"sampler must have a sample(n) method, got {type(sampler).__name__}.")
        for name, value in (("iterations", iterations), ("tasks_per_step", tasks_per_step)):
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
            if value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        iterations, tasks_per_step = int(iterations), int(tasks_per_step)
        losses = []
        bar = tqdm(range(iterations), desc=type(self).__name__, disable=not progress)
        for _ in bar:
            losses.append(self.meta_step(sampler.sample(tasks_per_step)))
            if len(losses) % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        return losses

    # ------------------------------------------------------------------ test time
    @torch.no_grad()
    def evaluate(self, task_batch: Sequence[Task]) -> torch.Tensor:
        """Query accuracy of every task (a 1-d tensor), from its support set alone.

        The modules run in evaluation mode; each gets its previous training mode back after.
        """
        tasks = episodes(task_batch)
        accuracies = []
        with self._evaluating():
            for task in tasks:
                predicted = self.scores(task.support_x, task.support_y, task.query_x).argmax(-1)
                accuracies.append((predicted == task.query_y).float().mean())
        return torch.stack(accuracies)

    def fit(self, support_x: torch.Tensor, support_y: object) -> EpisodicLearner:
        """Remember a support set to classify new examples against (no training).

        Args:
            support_x: Support examples, one per row (any per-example shape the modules take).
            support_y: Their labels: any 1-d array-like or tensor (ints, strings); every class
                of the episode must occur at least once.

        Returns:
            ``self``, so that ``learner.fit(x, y).predict(q)`` works.

        Raises:
            TypeError: ``support_y`` mixes strings with other labels (numpy would silently turn
                ``[1, "a"]`` into the strings ``["1", "a"]``).
        """
        raw = support_y.tolist() if isinstance(support_y, torch.Tensor) else support_y
        labels = np.asarray(raw)
        if labels.ndim != 1:
            raise ValueError(f"support_y must be 1-d, got shape {labels.shape}.")
        if labels.dtype.kind == "U" and not isinstance(raw, np.ndarray):
            kinds = sorted({type(label).__name__ for label in raw if not isinstance(label, str)})
            if kinds:
                raise TypeError(
                    f"support_y mixes strings with labels of type {', '.join(kinds)}; give every "
                    "label the same type (all strings or all numbers)."
                )
        classes, index = np.unique(labels, return_inverse=True)
        # On the support examples' device: the class means multiply the two.
        device = support_x.device if isinstance(support_x, torch.Tensor) else None
        index_t = torch.as_tensor(index.reshape(-1), dtype=torch.long, device=device)
        check_episode(support_x, index_t)
        self._support = (support_x, index_t, classes)
        return self

    @property
    def classes_(self) -> np.ndarray:
        """The labels seen by :meth:`fit`, in the column order of :meth:`predict_proba`."""
        return self._fitted()[2]

    def _fitted(self) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        if self._support is None:
            raise ValueError("call fit(support_x, support_y) before predicting.")
        return self._support

    @torch.no_grad()
    def predict_proba(self, query_x: torch.Tensor) -> torch.Tensor:
        """``(n_query, n_classes)`` class probabilities (see :meth:`probabilities`).

        The modules run in evaluation mode; each gets its previous training mode back after.
        """
        support_x, support_y, _ = self._fitted()
        check_episode(support_x, support_y, query_x)
        with self._evaluating():
            return self.probabilities(self.scores(support_x, support_y, query_x))

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        """Turn :meth:`scores` into probabilities; a softmax unless a subclass knows better."""
        return scores.softmax(-1)

    def predict(self, query_x: torch.Tensor) -> np.ndarray:
        """The most likely label of each query example, in the labels given to :meth:`fit`."""
        return self.classes_[self.predict_proba(query_x).argmax(-1).cpu().numpy()]
