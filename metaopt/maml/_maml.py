"""Model-agnostic meta-learning (Finn et al., 2017) over any ``nn.Module``.

The model is never rewritten: adaptation runs the module through
:func:`torch.func.functional_call` with a dictionary of "fast" parameters, so the adapted
parameters stay functions of the module's own parameters and the meta-gradient flows back into
them. A batch of equally shaped tasks is adapted in one vectorised call
(:func:`torch.func.vmap` over :func:`torch.func.grad`); anything else falls back to a plain
per-task loop that computes the same meta-gradient.
"""

from __future__ import annotations

import copy
import logging
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Literal, TypeVar

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from metaopt.maml._task import Task, as_tasks, check_pair, stack_tasks

_logger = logging.getLogger("metaopt.maml")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Params = dict[str, torch.Tensor]
OptimizerFactory = Callable[[Iterable[torch.Tensor]], torch.optim.Optimizer]
_LINE_SEARCH_TRIES = 4  # step sizes tried per safeguarded step: scale, scale/2, /4, /8
_T = TypeVar("_T")


class MAML:
    """Learn an initialisation from which a few gradient steps fit a new task.

    Args:
        model: Any ``nn.Module``. Its parameters that require gradients are adapted in the inner
            loop and meta-learned in the outer loop; frozen parameters and buffers stay fixed.
        inner_lr: Step size of the inner (adaptation) gradient descent. With
            ``learn_inner_lr=True`` it is the initial value of every learned step size.
        inner_steps: Number of inner gradient steps used during meta-training (and the default
            for :meth:`adapt`).
        first_order: Treat the inner gradients as constants (first-order MAML): cheaper, and the
            meta-gradient is the query gradient at the adapted parameters.
        second_order_steps: Differentiate through the gradients of only the last
            ``second_order_steps`` inner steps and treat the earlier ones as first-order
            (truncated second-order MAML). Memory for the backward pass then grows with
            ``second_order_steps`` instead of ``inner_steps``, so many inner steps fit; ``None``
            (default) differentiates through all of them. Ignored when ``first_order=True``.
        meta_optimizer: Outer optimizer. ``None`` builds ``torch.optim.Adam(lr=1e-3)`` over the
            model's trainable parameters (and the learned step sizes). A
            ``torch.optim.Optimizer`` instance is used as given (the learned step sizes are added
            as a parameter group when missing); a callable receives the list of meta-parameters
            and must return an optimizer over them (with ``learn_inner_lr=True`` it must hold
            every learned step size, or a ``ValueError`` is raised).
        learn_inner_lr: Meta-SGD (Li et al., 2017): learn one inner step size per parameter
            entry, initialised at ``inner_lr``.
        loss_fn: Default ``loss_fn(prediction, target) -> scalar`` for :meth:`adapt`,
            :meth:`meta_step` and :meth:`evaluate` when they are not given one.
        vectorize: ``"auto"`` uses :func:`torch.func.vmap` when all tasks of a batch share shapes
            and falls back to a per-task loop otherwise (or when the model cannot be vmapped,
            e.g. batch norm in training mode); ``True`` insists on vmap; ``False`` always loops.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from metaopt.maml import MAML, SinusoidTasks
        >>> _ = torch.manual_seed(0)
        >>> net = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 1))
        >>> maml = MAML(net, inner_lr=0.01, loss_fn=nn.functional.mse_loss)
        >>> tasks = SinusoidTasks(seed=0)
        >>> for _ in range(5):
        ...     loss = maml.meta_step(tasks.sample(4))
        >>> task = tasks.sample(1)[0]
        >>> fast = maml.adapt(task.support_x, task.support_y)
        >>> prediction = torch.func.functional_call(net, fast, (task.query_x,))
        >>> prediction.shape
        torch.Size([10, 1])
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        inner_lr: float = 0.01,
        inner_steps: int = 1,
        first_order: bool = False,
        second_order_steps: int | None = None,
        meta_optimizer: torch.optim.Optimizer | OptimizerFactory | None = None,
        learn_inner_lr: bool = False,
        loss_fn: LossFn | None = None,
        vectorize: bool | Literal["auto"] = "auto",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        self.model = model
        self._names = [name for name, p in model.named_parameters() if p.requires_grad]
        if not self._names:
            raise ValueError("model has no parameters that require gradients; nothing to learn.")
        self.inner_lr = _check_positive(inner_lr, "inner_lr")
        self.inner_steps = _check_steps(inner_steps, "inner_steps", minimum=1)
        self.first_order = _check_bool(first_order, "first_order")
        self.second_order_steps = (
            None
            if second_order_steps is None
            else _check_steps(second_order_steps, "second_order_steps", minimum=0)
        )
        self.learn_inner_lr = _check_bool(learn_inner_lr, "learn_inner_lr")
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable or None, got {type(loss_fn).__name__}.")
        self.loss_fn = loss_fn
        if vectorize not in (True, False, "auto"):
            raise ValueError(f"vectorize must be True, False or 'auto', got {vectorize!r}.")
        self.vectorize = vectorize
        self._vmap_broken = False

        params = self.parameters()
        # Step sizes are per-entry tensors when learned (Meta-SGD), plain floats otherwise.
        self.inner_lrs: dict[str, torch.Tensor | float] = {
            name: (
                torch.full_like(p, self.inner_lr, requires_grad=True)
                if learn_inner_lr
                else self.inner_lr
            )
            for name, p in params.items()
        }
        self.meta_optimizer = self._make_optimizer(meta_optimizer)

    # ------------------------------------------------------------------ parameters
    def parameters(self) -> Params:
        """The model's trainable parameters by name (the initialisation MAML learns)."""
        named = dict(self.model.named_parameters())
        return {name: named[name] for name in self._names}

    def meta_parameters(self) -> list[torch.Tensor]:
        """Everything the outer loop updates: model parameters, then learned step sizes."""
        return list(self.parameters().values()) + self._learned_lrs()

    def _learned_lrs(self) -> list[torch.Tensor]:
        return [lr for lr in self.inner_lrs.values() if isinstance(lr, torch.Tensor)]

    def _make_optimizer(
        self, meta_optimizer: torch.optim.Optimizer | OptimizerFactory | None
    ) -> torch.optim.Optimizer:
        if meta_optimizer is None:
            return torch.optim.Adam(self.meta_parameters(), lr=1e-3)
        if isinstance(meta_optimizer, torch.optim.Optimizer):
            if self.learn_inner_lr:
                lrs = self._learned_lrs()
                if not any(id(lr) in _held(meta_optimizer) for lr in lrs):
                    meta_optimizer.add_param_group({"params": lrs})
            return meta_optimizer
        if callable(meta_optimizer):
            optimizer = meta_optimizer(self.meta_parameters())
            if not isinstance(optimizer, torch.optim.Optimizer):
                raise TypeError(
                    "meta_optimizer factory must return a torch.optim.Optimizer, got "
                    f"{type(optimizer).__name__}."
                )
            # The step sizes are created here, so a factory that ignores its argument (e.g. one
            # built over net.parameters()) would leave them untrained without any sign.
            held = _held(optimizer)
            missing = sum(id(lr) not in held for lr in self._learned_lrs())
            if missing:
                raise ValueError(
                    "meta_optimizer factory must optimise the parameters it is given: the "
                    f"optimizer it returned lacks {missing} of the {len(self._learned_lrs())} "
                    "learned step sizes (learn_inner_lr=True). Build it over its argument, e.g. "
                    "lambda params: torch.optim.Adam(params, lr=1e-3)."
                )
            return optimizer
        raise TypeError(
            "meta_optimizer must be None, a torch.optim.Optimizer or a callable returning one, "
            f"got {type(meta_optimizer).__name__}."
        )

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Copies of the learned tensors: ``model.<name>`` and, for Meta-SGD, ``inner_lr.<name>``.

        Safe to store with safetensors or ``torch.save`` and to load with
        ``torch.load(weights_only=True)``.
        """
        state = {f"model.{k}": v.detach().clone() for k, v in self.model.state_dict().items()}
        for name, lr in self.inner_lrs.items():
            if isinstance(lr, torch.Tensor):
                state[f"inner_lr.{name}"] = lr.detach().clone()
        return state

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore tensors produced by :meth:`state_dict` (in place).

        The keys must be exactly those of :meth:`state_dict` and every tensor must have the
        shape of the one it replaces; nothing is changed unless all of them are.

        Raises:
            TypeError: ``state`` is not a mapping of tensors.
            ValueError: Keys are missing or unexpected (e.g. a Meta-SGD state loaded into a
                MAML without ``learn_inner_lr``, or the reverse), or a shape differs.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"state must be a mapping from names to tensors, got {type(state).__name__}."
            )
        # Checked up front, so that a bad state leaves everything as it was; a Meta-SGD state
        # loaded into a plain MAML would otherwise drop its step sizes without a word.
        expected = {f"model.{k}": v.shape for k, v in self.model.state_dict().items()}
        for name, lr in self.inner_lrs.items():
            if isinstance(lr, torch.Tensor):
                expected[f"inner_lr.{name}"] = lr.shape
        unexpected = sorted(set(state) - set(expected), key=str)
        missing = sorted(set(expected) - set(state), key=str)
        if unexpected or missing:
            hint = ""
            if any(str(k).startswith("inner_lr.") for k in unexpected):
                hint = " The state has learned step sizes: build MAML with learn_inner_lr=True."
            elif any(k.startswith("inner_lr.") for k in missing):
                hint = (
                    " The state has no learned step sizes: build MAML with learn_inner_lr=False."
                )
            raise ValueError(
                "state does not match this MAML's state_dict(): unexpected keys "
                f"{_preview(unexpected)}, missing keys {_preview(missing)}.{hint}"
            )
        for key, shape in expected.items():
            value = state[key]
            if not isinstance(value, torch.Tensor):
                raise TypeError(
                    f"state[{key!r}] must be a torch.Tensor, got {type(value).__name__}."
                )
            if value.shape != shape:
                raise ValueError(
                    f"state[{key!r}] has shape {tuple(value.shape)}, expected {tuple(shape)}."
                )
        model_state = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
        self.model.load_state_dict(model_state)
        with torch.no_grad():
            for name, lr in self.inner_lrs.items():
                if isinstance(lr, torch.Tensor):
                    lr.copy_(state[f"inner_lr.{name}"])

    # ------------------------------------------------------------------ adaptation
    def adapt(
        self,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        loss_fn: LossFn | None = None,
        *,
        steps: int | None = None,
        first_order: bool | None = None,
        safeguard: bool = False,
        step_scale: float = 1.0,
    ) -> Params:
        """Take inner gradient steps on a support set, starting from the model's parameters.

        Args:
            support_x: Support inputs, examples along the first dimension.
            support_y: Support targets, same number of examples.
            loss_fn: ``loss_fn(prediction, target) -> scalar``; defaults to the one given at
                construction.
            steps: Number of steps (default ``inner_steps``); ``0`` returns the parameters.
            first_order: Override the instance's setting for this call (``None`` keeps it).
            safeguard: Backtracking line search: each step tries the current step size, then a
                half, a quarter and an eighth of it, and takes the first that does not raise the
                support loss; the step size taken carries over to the next step. When none of
                the four does, the step is skipped and the next one starts from a sixteenth.
                The loss being descended then never goes up. Meant for test-time adaptation
                with more steps than meta-training used.
            step_scale: Multiplies every inner step size (learned ones included), e.g. a
                larger test-time step chosen on validation tasks.

        Returns:
            Adapted parameters by name, for ``torch.func.functional_call(model, params, ...)``.
            In second-order mode they are differentiable functions of the model's parameters
            (and of learned step sizes); in first-order mode the inner gradients are detached,
            so each adapted tensor depends on its initial value only through the identity.
        """
        loss_fn = self._resolve_loss(loss_fn)
        check_pair(support_x, support_y, "support")
        steps = self.inner_steps if steps is None else _check_steps(steps, "steps", minimum=0)
        if first_order is None:
            first_order = self.first_order
        elif not isinstance(first_order, bool):
            raise TypeError(
                f"first_order must be a bool or None, got {type(first_order).__name__}."
            )
        _check_bool(safeguard, "safeguard")
        # Under torch.no_grad() the caller wants adapted values only: gradients are still needed
        # for the inner steps, but nothing is kept for a meta-gradient.
        track = torch.is_grad_enabled()
        fast = self.parameters()
        scale, current = _check_positive(step_scale, "step_scale"), math.inf
        for step in range(steps):
            with torch.enable_grad():
                if not track:
                    fast = {k: v.detach().requires_grad_() for k, v in fast.items()}
                loss = self._checked_loss(loss_fn, self._forward(fast, support_x), support_y)
                grads = torch.autograd.grad(
                    loss,
                    list(fast.values()),
                    create_graph=track and not self._step_first_order(step, steps, first_order),
                    allow_unused=True,
                )
            grads_by_name = dict(zip(fast, grads, strict=True))
            if safeguard:
                current = min(current, float(loss.detach()))
                fast, scale, current = self._line_search(
                    fast,
                    grads_by_name,
                    scale,
                    current,
                    lambda p: loss_fn(self._forward(p, support_x), support_y),
                )
            else:
                fast = self._update(fast, grads_by_name, scale)
        return fast if track else {k: v.detach() for k, v in fast.items()}

    def _line_search(
        self,
        fast: Params,
        grads: dict[str, torch.Tensor | None],
        scale: float,
        current: float,
        support_loss: Callable[[Params], torch.Tensor],
    ) -> tuple[Params, float, float]:
        """Backtracking: the largest of ``scale, scale/2, ...`` that does not raise the loss."""
        for _ in range(_LINE_SEARCH_TRIES):
            candidate = self._update(fast, grads, scale)
            with torch.no_grad():
                new = float(support_loss(candidate))
            if new <= current:  # also rejects NaN
                return candidate, scale, new
            scale *= 0.5
        return fast, scale, current

    def _step_first_order(self, step: int, steps: int, first_order: bool) -> bool:
        """Whether inner step ``step`` of ``steps`` treats its gradient as a constant."""
        if first_order:
            return True
        window = self.second_order_steps
        return window is not None and step < steps - window

    def fine_tune(
        self,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        optimizer: OptimizerFactory | None = None,
        *,
        steps: int = 10,
        loss_fn: LossFn | None = None,
    ) -> nn.Module:
        """Train a copy of the model from the learned initialisation with any torch optimizer.

        This is how a MAML initialisation composes with other optimizers, e.g. the learned
        :class:`metaopt.optim.LSTMOptimizer`. The wrapped model is left untouched.

        Args:
            support_x: Inputs to fine-tune on.
            support_y: Their targets.
            optimizer: Factory: a callable receiving the copy's parameters and returning a
                ``torch.optim.Optimizer`` (e.g. ``lambda params: torch.optim.Adam(params)`` or
                an optimizer class); an optimizer instance is rejected, since it holds other
                parameters than the copy's. Default: plain SGD at ``inner_lr`` (learned Meta-SGD
                step sizes are only used by :meth:`adapt` and :meth:`evaluate`).
            steps: Number of optimizer steps.
            loss_fn: Defaults to the one given at construction.

        Returns:
            The fine-tuned copy of the model.

        Example:
            >>> import torch
            >>> from metaopt.maml import MAML
            >>> maml = MAML(torch.nn.Linear(1, 1), loss_fn=torch.nn.functional.mse_loss)
            >>> x = torch.linspace(-1, 1, 8).unsqueeze(1)
            >>> tuned = maml.fine_tune(x, 3 * x, lambda p: torch.optim.Adam(p, lr=0.1), steps=50)
            >>> isinstance(tuned, torch.nn.Linear)
            True
        """
        loss_fn = self._resolve_loss(loss_fn)
        check_pair(support_x, support_y, "support")
        steps = _check_steps(steps, "steps", minimum=0)
        if optimizer is not None and not callable(optimizer):
            raise TypeError(
                "optimizer must be None or a factory: a callable taking the parameters of the "
                "fine-tuned copy and returning a torch.optim.Optimizer (e.g. lambda params: "
                f"torch.optim.Adam(params, lr=1e-3)), got {type(optimizer).__name__}."
            )
        model = copy.deepcopy(self.model)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=self.inner_lr) if optimizer is None else optimizer(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must return a torch.optim.Optimizer, got {type(opt).__name__}."
            )
        with torch.enable_grad():
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                self._checked_loss(loss_fn, model(support_x), support_y).backward()
                opt.step()
        return model

    def _forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.model, params, (x,))

    def _update(
        self,
        fast: Params,
        grads: dict[str, torch.Tensor | None],
        scale: float | torch.Tensor = 1.0,
    ) -> Params:
        new = {}
        for name, p in fast.items():
            g = grads[name]
            new[name] = p if g is None else p - (scale * self.inner_lrs[name]) * g
        return new

    # ------------------------------------------------------------------ meta-training
    def meta_loss(self, task_batch: Sequence[Task], loss_fn: LossFn | None = None) -> torch.Tensor:
        """Mean query loss after adaptation over a batch of tasks, differentiable.

        ``meta_loss(...).backward()`` leaves the MAML meta-gradient in the ``.grad`` of the
        model's parameters (and learned step sizes).
        """
        loss_fn = self._resolve_loss(loss_fn)
        tasks = as_tasks(task_batch)
        self._check_differentiable(loss_fn, tasks[0])

        def looped() -> torch.Tensor:
            losses = []
            for task in tasks:
                fast = self.adapt(task.support_x, task.support_y, loss_fn)
                prediction = self._forward(fast, task.query_x)
                losses.append(self._checked_loss(loss_fn, prediction, task.query_y))
            return torch.stack(losses).mean()

        return self._vmap_or_loop(
            tasks,
            lambda stacked: self._vmapped_query_losses(stacked, loss_fn, self.inner_steps).mean(),
            looped,
        )

    def meta_step(self, task_batch: Sequence[Task], loss_fn: LossFn | None = None) -> float:
        """One outer update over a batch of tasks; returns the mean post-adaptation query loss.

        Raises:
            FloatingPointError: The mean query loss is NaN or infinite (the inner steps
                diverged, e.g. ``inner_lr`` too large for ``inner_steps``, or a task holds NaN
                or infinite values). The model, its buffers, the learned step sizes and the
                optimizer are then left as they were, instead of every parameter turning NaN.
        """
        self.meta_optimizer.zero_grad(set_to_none=True)
        saved = _snapshot_buffers(self.model)
        loss = self.meta_loss(task_batch, loss_fn)
        if not bool(torch.isfinite(loss.detach())):
            _restore_buffers(self.model, saved)  # batch-norm statistics of diverged steps
            raise FloatingPointError(
                f"the mean query loss after adaptation is {float(loss.detach())}: the inner "
                f"steps diverged (inner_lr={self.inner_lr}, inner_steps={self.inner_steps}) or "
                "the tasks hold NaN or infinite values. Nothing was updated; lower inner_lr or "
                "inner_steps, or check the tasks."
            )
        loss.backward()
        self.meta_optimizer.step()
        return float(loss.detach())

    def evaluate(
        self,
        task_batch: Sequence[Task],
        steps: int | None = None,
        loss_fn: LossFn | None = None,
        *,
        metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        safeguard: bool = False,
        step_scale: float = 1.0,
    ) -> torch.Tensor:
        """Query scores before and after each of ``steps`` inner steps, without meta-gradients.

        Args:
            task_batch: Tasks to adapt to (on their support sets) and score (on their queries).
            steps: Number of inner steps (default ``inner_steps``).
            loss_fn: Loss the inner steps descend; defaults to the one given at construction.
            metric: ``metric(prediction, target) -> scalar`` reported on the query set, e.g.
                accuracy; defaults to ``loss_fn``. It need not be differentiable.
            safeguard: Backtracking line search per task, as in :meth:`adapt`.
            step_scale: Multiplies every inner step size, as in :meth:`adapt`.

        Returns:
            A ``(n_tasks, steps + 1)`` tensor: column ``t`` is the query metric after ``t`` steps
            of adaptation at the (possibly learned) inner step sizes.

        The model runs in its current mode (``model.train()`` or ``model.eval()``), as in
        :meth:`adapt`; its buffers (e.g. batch-norm running statistics) are left as they were,
        so evaluating never changes the model.
        """
        _check_bool(safeguard, "safeguard")
        step_scale = _check_positive(step_scale, "step_scale")
        loss_fn = self._resolve_loss(loss_fn)
        if metric is not None and not callable(metric):
            raise TypeError(f"metric must be callable or None, got {type(metric).__name__}.")
        score = _checked_score(loss_fn if metric is None else metric, metric is not None)
        steps = self.inner_steps if steps is None else _check_steps(steps, "steps", minimum=0)
        tasks = as_tasks(task_batch)
        self._check_differentiable(loss_fn, tasks[0])

        def vmapped(stacked: Task) -> torch.Tensor:
            with torch.no_grad():
                return self._vmapped_curves(stacked, loss_fn, score, steps, safeguard, step_scale)

        # Batch norm in training mode would otherwise fold every evaluation task (and every
        # intermediate adapted network) into the running statistics.
        with _buffers_kept(self.model):
            return self._vmap_or_loop(
                tasks,
                vmapped,
                lambda: self._looped_curves(tasks, loss_fn, score, steps, safeguard, step_scale),
            )

    def _looped_curves(
        self,
        tasks: list[Task],
        loss_fn: LossFn,
        score: LossFn,
        steps: int,
        safeguard: bool,
        step_scale: float,
    ) -> torch.Tensor:
        curves = []
        for task in tasks:
            curve = []
            fast = {k: v.detach().requires_grad_() for k, v in self.parameters().items()}
            scale, current = step_scale, math.inf
            for step in range(steps + 1):
                with torch.no_grad():
                    curve.append(score(self._forward(fast, task.query_x), task.query_y))
                if step == steps:
                    break
                with torch.enable_grad():  # also under a caller's torch.no_grad()
                    loss = loss_fn(self._forward(fast, task.support_x), task.support_y)
                    grads = torch.autograd.grad(loss, list(fast.values()), allow_unused=True)
                with torch.no_grad():
                    grads_by_name = dict(zip(fast, grads, strict=True))
                    if safeguard:
                        current = min(current, float(loss))
                        fast, scale, current = self._line_search(
                            fast,
                            grads_by_name,
                            scale,
                            current,
                            lambda p, t=task: loss_fn(self._forward(p, t.support_x), t.support_y),
                        )
                    else:
                        fast = self._update(fast, grads_by_name, scale)
                fast = {k: v.detach().requires_grad_() for k, v in fast.items()}
            curves.append(torch.stack(curve))
        return torch.stack(curves).detach()

    # ------------------------------------------------------------------ vectorised paths
    def _stack_for_vmap(self, tasks: list[Task]) -> Task | None:
        if self.vectorize is False or (self.vectorize == "auto" and self._vmap_broken):
            return None
        stacked = stack_tasks(tasks)
        if stacked is None and self.vectorize is True:
            raise ValueError(
                "vectorize=True needs tasks of identical shapes, dtypes and devices; got "
                f"support_x shapes {sorted({tuple(t.support_x.shape) for t in tasks})}. "
                "Use vectorize='auto' to loop over tasks of different shapes."
            )
        return stacked

    def _vmap_or_loop(
        self, tasks: list[Task], vmapped: Callable[[Task], _T], looped: Callable[[], _T]
    ) -> _T:
        """Run ``vmapped`` on the stacked tasks when possible, else (or when it fails) ``looped``.

        A vmap failure may be the batch's fault (e.g. a query of the wrong dtype) rather than
        the model's, so vmap is only given up for good once the loop has succeeded; when the
        loop fails too, its error (the one about the user's inputs) is raised and vmap stays on.
        """
        stacked = self._stack_for_vmap(tasks)
        if stacked is None:
            return looped()
        try:
            return vmapped(stacked)
        except RuntimeError as error:
            if self.vectorize is True:
                raise
            vmap_error = error
        result = looped()  # outside the except block: its error must not read as vmap's
        self._vmap_broken = True
        _logger.warning(
            "torch.func.vmap failed on this model (%s) while a per-task loop over the same "
            "tasks worked; falling back to a per-task loop for this model from now on.",
            vmap_error,
        )
        return result

    def _inner_loop(
        self,
        fast: Params,
        sx: torch.Tensor,
        sy: torch.Tensor,
        loss_fn: LossFn,
        first_order: bool,
        scale: float | torch.Tensor = 1.0,
    ) -> Params:
        def support_loss(p: Params) -> torch.Tensor:
            return loss_fn(self._forward(p, sx), sy)

        grads = grad(support_loss)(fast)
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}
        return self._update(fast, grads, scale)

    def _vmapped_query_losses(self, stacked: Task, loss_fn: LossFn, steps: int) -> torch.Tensor:
        params = self.parameters()

        def one_task(sx: torch.Tensor, sy: torch.Tensor, qx: torch.Tensor, qy: torch.Tensor):
            fast = params
            for step in range(steps):
                first_order = self._step_first_order(step, steps, self.first_order)
                fast = self._inner_loop(fast, sx, sy, loss_fn, first_order)
            return loss_fn(self._forward(fast, qx), qy)

        losses = vmap(one_task)(*stacked)
        if losses.ndim != 1:
            raise ValueError(
                f"loss_fn must return a scalar per task, got shape {tuple(losses.shape[1:])}."
            )
        return losses

    def _vmapped_curves(
        self,
        stacked: Task,
        loss_fn: LossFn,
        score: LossFn,
        steps: int,
        safeguard: bool,
        step_scale: float,
    ) -> torch.Tensor:
        params = {k: v.detach() for k, v in self.parameters().items()}

        def one_task(sx: torch.Tensor, sy: torch.Tensor, qx: torch.Tensor, qy: torch.Tensor):
            fast = params
            curve = [score(self._forward(fast, qx), qy)]
            scale = torch.full((), step_scale, dtype=sx.dtype, device=sx.device)
            current = loss_fn(self._forward(fast, sx), sy)
            for _ in range(steps):
                if not safeguard:
                    fast = self._inner_loop(fast, sx, sy, loss_fn, True, step_scale)
                    curve.append(score(self._forward(fast, qx), qy))
                    continue
                # Branch-free backtracking, so that vmap can batch it: the first (largest) of
                # scale, scale/2, ... that does not raise the support loss is taken.
                grads = grad(lambda p: loss_fn(self._forward(p, sx), sy))(fast)
                found = torch.zeros((), dtype=torch.bool, device=sx.device)
                chosen, chosen_loss, trial = fast, current, scale
                next_scale = scale * 0.5**_LINE_SEARCH_TRIES
                for _ in range(_LINE_SEARCH_TRIES):
                    candidate = self._update(fast, grads, trial)
                    new = loss_fn(self._forward(candidate, sx), sy)
                    take = ~found & (new <= current)
                    chosen = {k: torch.where(take, candidate[k], chosen[k]) for k in fast}
                    chosen_loss = torch.where(take, new, chosen_loss)
                    next_scale = torch.where(take, trial, next_scale)
                    found = found | take
                    trial = 0.5 * trial
                fast, current, scale = chosen, chosen_loss, next_scale
                curve.append(score(self._forward(fast, qx), qy))
            return torch.stack(curve)

        return vmap(one_task)(*stacked)

    # ------------------------------------------------------------------ loss checks
    def _resolve_loss(self, loss_fn: LossFn | None) -> LossFn:
        if torch.is_inference_mode_enabled():
            raise RuntimeError(
                "MAML adapts with gradient steps, which torch.inference_mode() forbids; use "
                "torch.no_grad() instead (adapt and evaluate then keep no meta-gradient)."
            )
        loss_fn = self.loss_fn if loss_fn is None else loss_fn
        if loss_fn is None:
            raise ValueError(
                "no loss function: pass loss_fn (e.g. torch.nn.functional.mse_loss) here or to "
                "MAML(..., loss_fn=...)."
            )
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}.")
        return loss_fn

    @staticmethod
    def _checked_loss(loss_fn: LossFn, prediction: torch.Tensor, target: torch.Tensor):
        loss = loss_fn(prediction, target)
        if not isinstance(loss, torch.Tensor):
            raise TypeError(f"loss_fn must return a torch.Tensor, got {type(loss).__name__}.")
        if loss.ndim != 0:
            raise ValueError(
                f"loss_fn must return a scalar, got a tensor of shape {tuple(loss.shape)} "
                "(use reduction='mean')."
            )
        if not loss.requires_grad and torch.is_grad_enabled():
            raise ValueError(
                "loss_fn returned a value that is not differentiable with respect to the "
                "model's output (e.g. an accuracy computed with argmax); MAML needs a "
                "differentiable loss."
            )
        return loss

    def _check_differentiable(self, loss_fn: LossFn, task: Task) -> None:
        # vmap would silently return zero gradients for a non-differentiable loss, so the loss is
        # checked with plain autograd on the first task (one forward pass). That pass is not part
        # of the algorithm: it must not count in batch-norm running statistics.
        with torch.enable_grad(), _buffers_kept(self.model):
            prediction = self._forward(self.parameters(), task.support_x)
            self._checked_loss(loss_fn, prediction, task.support_y)


def _snapshot_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the model's buffers by name (batch-norm running statistics, counters)."""
    return {name: buffer.detach().clone() for name, buffer in model.named_buffers()}


def _restore_buffers(model: nn.Module, saved: Mapping[str, torch.Tensor]) -> None:
    """Copy the values of :func:`_snapshot_buffers` back into the model's buffers, in place."""
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            value = saved.get(name)
            if value is not None and value.shape == buffer.shape:
                buffer.copy_(value)


@contextmanager
def _buffers_kept(model: nn.Module) -> Iterator[None]:
    """Run the block, then put every buffer of ``model`` back to its value before it."""
    saved = _snapshot_buffers(model)
    try:
        yield
    finally:
        if saved:
            _restore_buffers(model, saved)


def _checked_score(score: Callable[..., object], is_metric: bool) -> LossFn:
    """Wrap the reported score so that a non-tensor or non-scalar result gets a clear error."""
    name = "metric" if is_metric else "loss_fn"

    def checked(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        value = score(prediction, target)
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"{name} must return a scalar torch.Tensor, got {type(value).__name__}; keep "
                "it in torch, e.g. (prediction.argmax(-1) == target).float().mean(), not "
                "float(...) or .item()."
            )
        if value.ndim != 0:
            raise ValueError(
                f"{name} must return a scalar per task, got a tensor of shape "
                f"{tuple(value.shape)} (reduce it with .mean())."
            )
        return value

    return checked


def _held(optimizer: torch.optim.Optimizer) -> set[int]:
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def _preview(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(k) for k in keys[:limit])
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"[{shown}{more}]"


def _check_bool(value: object, name: str) -> bool:
    # A truthy string such as 'no' must not silently switch a mode on.
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}.")
    return value


def _check_positive(value: object, name: str) -> float:
    """A finite positive real number (int, float or numpy scalar, not bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number (int, float or numpy scalar), "
            f"got {type(value).__name__}."
        )
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}.")
    return value


def _check_steps(steps: object, name: str, *, minimum: int) -> int:
    """An integer (int or numpy integer, not bool) of at least ``minimum``, as an int."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(steps).__name__}.")
    steps = int(steps)
    if steps < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {steps}.")
    return steps
