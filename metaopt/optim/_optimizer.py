"""The optimizer users train with: a torch.optim.Optimizer driven by a learned network."""

from __future__ import annotations

import copy
import logging
import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from metaopt.exceptions import FallbackWarning, MetaoptWarning, warn_fallback
from metaopt.optim._network import (
    COORD_STATE_KEYS,
    TENSOR_STATE_KEYS,
    LSTMOptimizerNet,
    Segments,
    ValidationSignal,
)
from metaopt.optim._weights import load_weights

logger = logging.getLogger("metaopt.optim")

WeightsLike = str | os.PathLike | Mapping[str, Any] | LSTMOptimizerNet
#: Accepted range of the ``lr`` multiplier: ``0 < lr <= MAX_LR`` (a scheduler may lower a
#: group's ``lr`` to 0 during training). The largest multiplier at which no benchmark task
#: ends above its initial loss after 10x the horizon (at 100 some did).
MAX_LR = 10.0
#: How far (relative to ``MAX_LR``) a scheduler-set ``lr`` may lie outside ``[0, MAX_LR]`` and
#: still be accepted, clamped into it: chained schedulers such as ``CosineAnnealingLR`` drift
#: by floating-point rounding (``10.000000000006`` after a few thousand steps from 10).
LR_ROUNDING = 1e-6
#: Below this an ``lr`` given at construction or in ``add_param_group`` is most likely an
#: Adam learning rate carried over (``1e-3``), not a multiplier: it gets a warning.
SMALL_LR = 0.05
STATE_KEYS: tuple[str, ...] = COORD_STATE_KEYS + TENSOR_STATE_KEYS
#: Parameter-group keys the optimizer reads or that torch itself keeps in a group; any other
#: option (``weight_decay``, ``betas``, ...) is ignored, with a warning.
GROUP_KEYS = frozenset({"params", "param_names", "lr", "maximize", "initial_lr"})


def _is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (numpy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_lr(value: Any, where: str, *, allow_zero: bool = False) -> float:
    """``value`` as a float if it is a valid ``lr`` multiplier, else a ValueError.

    With ``allow_zero`` (a value a scheduler may have set), values within ``LR_ROUNDING`` of
    the range are clamped into it instead of rejected.
    """
    if isinstance(value, Tensor) and value.numel() == 1 and not value.requires_grad:
        value = float(value)
    accepted = f"{'0 <=' if allow_zero else '0 <'} lr <= {MAX_LR:g}"
    if not _is_real(value):
        raise ValueError(f"{where}: lr must be a real number with {accepted}, got {value!r}")
    value = float(value)
    if allow_zero and math.isfinite(value):
        slack = LR_ROUNDING * MAX_LR
        if -slack <= value < 0.0 or MAX_LR < value <= MAX_LR + slack:
            value = min(max(value, 0.0), MAX_LR)
    low_ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and low_ok and value <= MAX_LR):
        raise ValueError(
            f"{where}: lr must be finite with {accepted} (it multiplies the learned step "
            f"size; 1.0 uses it as meta-trained), got {value!r}"
        )
    return float(value)


def _warn_if_adam_lr(value: float, where: str) -> None:
    """Warn when ``lr`` looks like an Adam learning rate rather than a multiplier."""
    if value < SMALL_LR:
        message = (
            f"{where}: lr={value:g} makes every step {1 / value:.0f}x smaller than the "
            "meta-learned one; lr multiplies the learned step size (1.0 uses it as "
            "meta-trained, the useful range is about 0.1 to 10), it is not Adam's learning rate"
        )
        warnings.warn(message, MetaoptWarning, stacklevel=3)
        logger.warning(message)


class LSTMOptimizer(torch.optim.Optimizer):
    """Learned optimizer: a meta-trained network proposes every update.

    All coordinates of all parameters that have a gradient (per device) live in persistent flat
    state buffers and are updated by one batched network call per step: a small MLP per
    coordinate under an LSTM per parameter tensor (see :class:`LSTMOptimizerNet`). The
    network's step size is multiplied by the parameter group's ``lr``, so ``lr=1.0`` uses the
    meta-learned step size and schedule as is and ``lr`` can be tuned like a learning rate.

    Non-finite gradient entries (NaN, inf) are treated as missing: those coordinates get no
    update and their moments do not change (only their tensor's learned weight decay, a factor
    just below 1, still applies). Detecting them costs no host-device synchronisation; nothing
    non-finite ever reaches the parameters.

    Parameter groups take the options ``lr`` and ``maximize``. Options of other optimizers
    (``weight_decay``, ``betas``, ``momentum``, ...) are ignored with a
    :class:`~metaopt.exceptions.FallbackWarning`: the network learns its own step sizes and
    weight decay. The optimizer can be copied (:func:`copy.deepcopy`, e.g. with its model) and
    pickled like torch's own.

    Args:
        params: Iterable of tensors, of ``(name, tensor)`` pairs or of parameter-group dicts,
            as for any torch optimizer.
        weights: ``"default"`` (the shipped pretrained meta-parameters), a path to a weights file
            from :func:`metaopt.optim.save_weights`, its loaded payload, or an
            :class:`LSTMOptimizerNet`.
        lr: Multiplier of the learned update, ``0 < lr <= 10``; a per-group option.
        maximize: Maximise the objective instead of minimising it; a per-group option.
        total_steps: How many times :meth:`step` will be called in this training run, when
            known (as for a learning-rate schedule): a network meta-trained with
            ``horizon_aware=True`` then follows a learned schedule that ends there. Stepping
            past it is allowed (the schedule stays where it was at twice the horizon). The
            shipped network has no horizon features: it ignores ``total_steps`` (with a
            :class:`~metaopt.exceptions.FallbackWarning`). ``None``: unknown; after
            :meth:`load_state_dict`, the saved run's value.
        compile: Run the update through :func:`torch.compile`. ``None`` (default): only for
            parameters on an accelerator (on CPU compilation does not pay, see the docs). If
            compilation fails the optimizer silently falls back to eager execution.

    A network meta-trained with ``validation_aware=True`` also reads the validation losses
    passed to :meth:`report_validation_loss` (e.g. once per epoch, as for
    :class:`torch.optim.lr_scheduler.ReduceLROnPlateau`).

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(3, 1)
        >>> opt = LSTMOptimizer(model.parameters())
        >>> x, y = torch.randn(32, 3), torch.randn(32, 1)
        >>> for _ in range(5):
        ...     opt.zero_grad()
        ...     loss = torch.nn.functional.mse_loss(model(x), y)
        ...     loss.backward()
        ...     opt.step()
    """

    def __init__(
        self,
        params: Iterable[Any],
        *,
        weights: WeightsLike = "default",
        lr: float = 1.0,
        maximize: bool = False,
        total_steps: int | None = None,
        compile: bool | None = None,
    ) -> None:
        lr = _check_lr(lr, "LSTMOptimizer")
        _warn_if_adam_lr(lr, "LSTMOptimizer")
        if total_steps is not None and (
            isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1
        ):
            raise ValueError(
                f"total_steps must be a positive int (the number of step() calls planned) or "
                f"None, got {total_steps!r}"
            )
        if not isinstance(maximize, bool):
            raise ValueError(f"maximize must be a bool, got {maximize!r}")
        if compile not in (None, True, False):
            raise ValueError(f"compile must be None, True or False, got {compile!r}")
        if isinstance(weights, LSTMOptimizerNet):
            net = copy.deepcopy(weights).eval()
        else:
            net = load_weights(weights)
        for parameter in net.parameters():
            parameter.requires_grad_(False)
        self.net = net.float()
        if total_steps is not None and not net.horizon_aware:
            message = (
                f"LSTMOptimizer: total_steps={total_steps} is ignored, this network was "
                "meta-trained without horizon features (horizon_aware=False)"
            )
            warnings.warn(message, FallbackWarning, stacklevel=2)
            logger.warning(message)
            total_steps = None
        self.total_steps = total_steps
        self._compile = compile
        self._nets: dict[torch.device, LSTMOptimizerNet] = {torch.device("cpu"): self.net}
        self._forwards: dict[torch.device, Callable[..., Tensor]] = {}
        self._layouts: dict[torch.device, _Layout] = {}
        self._validation = ValidationSignal()
        # Per device: the signal's values, copied there once per report (not per step).
        self._validation_values: dict[torch.device, tuple[int, Tensor]] = {}
        self._reports = 0
        self._n_steps = 0
        self._warned_validation = False
        self._constructing = True
        super().__init__(params, {"lr": lr, "maximize": maximize})
        self._constructing = False

    def report_validation_loss(self, loss: float | Tensor) -> None:
        """Tell the optimizer the model's current loss on held-out validation data.

        A validation-aware network (``LSTMOptimizerNet(validation_aware=True)``) reads how far
        the last reported loss lies above the best so far and how long ago that best was, and
        can slow down or regularise when the model starts to overfit; until the first report
        it behaves as without one. Report as often as you measure, e.g. once per epoch; a NaN
        or infinite loss counts as the largest possible rise. A network without validation
        features ignores the reports (with a :class:`~metaopt.exceptions.FallbackWarning`,
        once).

        Args:
            loss: A real number or a one-element tensor (read back to the host once).

        Raises:
            TypeError: ``loss`` is not a real number or a one-element tensor.
        """
        if isinstance(loss, Tensor) and loss.numel() == 1:
            loss = float(loss.detach())
        if not _is_real(loss):
            raise TypeError(
                "report_validation_loss: loss must be a real number or a one-element tensor, "
                f"got {type(loss).__name__}"
            )
        if not self.net.validation_aware:
            if not self._warned_validation:
                message = (
                    "LSTMOptimizer: validation losses are ignored, this network was "
                    "meta-trained without validation features (validation_aware=False)"
                )
                warnings.warn(message, FallbackWarning, stacklevel=2)
                logger.warning(message)
                self._warned_validation = True
            return
        self._validation.report(float(loss), step=self._n_steps)
        self._reports += 1

    def state_dict(self) -> dict[str, Any]:
        """The torch optimizer state, plus the step count, reported validation losses and
        ``total_steps``."""
        state = super().state_dict()
        state["validation"] = {**self._validation.state_dict(), "steps": float(self._n_steps)}
        state["total_steps"] = self.total_steps
        return state

    def __getstate__(self) -> dict[str, Any]:
        # torch keeps only the groups and the state; the network and the step count belong to
        # the optimizer too. Per-device caches are rebuilt on the next step.
        state = super().__getstate__()
        for key in ("net", "total_steps", "_compile", "_validation", "_reports", "_n_steps"):
            state[key] = self.__dict__[key]
        state["_warned_validation"] = self._warned_validation
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._nets = {torch.device("cpu"): self.net}
        self._forwards = {}
        self._layouts = {}
        self._validation_values = {}
        self._constructing = False

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group; its options are validated (``lr``, ``maximize``)."""
        index = len(self.param_groups)
        if not isinstance(param_group, Mapping):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        if "lr" in group:
            group["lr"] = _check_lr(group["lr"], f"parameter group {index}")
            _warn_if_adam_lr(group["lr"], f"parameter group {index}")
        if "maximize" in group and not isinstance(group["maximize"], bool):
            raise ValueError(
                f"parameter group {index}: maximize must be a bool, got {group['maximize']!r}"
            )
        params = group.get("params")
        if not isinstance(params, (Tensor, set)) and isinstance(params, Iterable):
            # Materialised once here so that a generator survives the duplicate check.
            group["params"] = params = list(params)
            tensors = [q[1] if isinstance(q, tuple) else q for q in params]
            seen: dict[int, int] = {}
            for j, q in enumerate(tensors):
                if isinstance(q, Tensor) and id(q) in seen:
                    raise ValueError(
                        f"parameter group {index} holds the same parameter (shape "
                        f"{tuple(q.shape)}) twice, at positions {seen[id(q)]} and {j}; pass each "
                        "parameter once (a shared parameter gets one update per step)"
                    )
                seen.setdefault(id(q), j)
        ignored = sorted(str(key) for key in group if key not in GROUP_KEYS)
        if ignored:
            warn_fallback(
                logger,
                f"parameter group {index}: options {ignored} are ignored; LSTMOptimizer learns "
                "its own step sizes and weight decay, its options are lr and maximize",
                # The user's line: their add_param_group call, or their LSTMOptimizer(...).
                stacklevel=5 if self._constructing else 3,
            )
        super().add_param_group(group)
        for p in self.param_groups[-1]["params"]:
            problem = None
            if p.is_complex():
                problem = TypeError("LSTMOptimizer does not support complex parameters")
            elif not p.is_floating_point():
                problem = TypeError(
                    f"LSTMOptimizer needs floating-point parameters, got {p.dtype}"
                )
            if problem is not None:
                self.param_groups.pop()  # the optimizer stays as it was before the call
                raise problem
        self._layouts.clear()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict`, checking it fits these parameters.

        Hooks registered with :meth:`register_load_state_dict_pre_hook` run first, as in
        torch, so that they can adapt a saved state (e.g. of a model with other parameters)
        before it is checked.

        Raises:
            ValueError: The state does not fit (another model, another network architecture,
                or invalid group options); the message names the parameter.
        """
        if isinstance(state_dict, Mapping):
            state_dict = dict(state_dict)  # shallow copy, as torch makes
            for pre_hook in list(self._optimizer_load_state_dict_pre_hooks.values()):
                hook_result = pre_hook(self, state_dict)
                if hook_result is not None:
                    state_dict = hook_result
        groups = state_dict.get("param_groups") if isinstance(state_dict, Mapping) else None
        if not isinstance(groups, list) or "state" not in state_dict:
            raise ValueError("state_dict must be a dict from LSTMOptimizer.state_dict()")
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"])
            for g, own in zip(groups, self.param_groups, strict=True)
        ):
            raise ValueError(
                "the state_dict has parameter groups of sizes "
                f"{[len(g['params']) for g in groups]}, this optimizer "
                f"{[len(g['params']) for g in self.param_groups]}"
            )
        for g_i, group in enumerate(groups):
            _check_lr(group.get("lr"), f"state_dict parameter group {g_i}", allow_zero=True)
        shapes = self.net.state_shapes()
        saved_state = state_dict["state"]
        originals: dict[Tensor, dict[str, Tensor]] = {}
        for g_i, (group, own) in enumerate(zip(groups, self.param_groups, strict=True)):
            names = own.get("param_names")
            for j, (pid, p) in enumerate(zip(group["params"], own["params"], strict=True)):
                if pid not in saved_state:
                    continue
                entry = saved_state[pid]
                label = (
                    f"parameter {names[j]!r}" if names else f"parameter {j} of group {g_i}"
                ) + f" (shape {tuple(p.shape)})"
                for key in STATE_KEYS:
                    expected = tuple(p.numel() if d == -1 else d for d in shapes[key])
                    value = entry.get(key) if isinstance(entry, Mapping) else None
                    if not isinstance(value, Tensor):
                        raise ValueError(
                            f"state_dict does not fit {label}: its state has no tensor {key!r} "
                            f"(keys: {sorted(entry) if isinstance(entry, Mapping) else entry!r});"
                            " it comes from another optimizer"
                        )
                    if tuple(value.shape) != expected:
                        raise ValueError(
                            f"state_dict does not fit {label}: state {key!r} has shape "
                            f"{tuple(value.shape)}, expected {expected}; it comes from another "
                            "model or another LSTMOptimizerNet architecture"
                        )
                originals[p] = {
                    key: entry[key].detach().to(device=p.device, dtype=torch.float32).clone()
                    for key in STATE_KEYS
                }
        validation = state_dict.get("validation")
        saved_total = state_dict.get("total_steps")
        state_dict = {
            k: v for k, v in state_dict.items() if k not in ("validation", "total_steps")
        }
        # The pre-hooks already ran on the state checked above; torch must not run them again.
        pre_hooks = self._optimizer_load_state_dict_pre_hooks
        self._optimizer_load_state_dict_pre_hooks = type(pre_hooks)()
        try:
            super().load_state_dict(state_dict)
        finally:
            self._optimizer_load_state_dict_pre_hooks = pre_hooks
        self._validation = ValidationSignal()
        self._reports += 1
        self._n_steps = 0
        if isinstance(validation, Mapping):
            self._validation.load_state_dict(validation)
            self._n_steps = int(validation["steps"])
        if self.total_steps is None and isinstance(saved_total, int) and self.net.horizon_aware:
            self.total_steps = saved_total  # resuming a run: its planned length holds
        # torch casts state to each parameter's dtype; the network's state is always float32.
        for p, entry in originals.items():
            self.state[p].update(entry)
        self._layouts.clear()

    def _forward_on(self, device: torch.device) -> Callable[..., Tensor]:
        if device not in self._forwards:
            if device not in self._nets:
                self._nets[device] = copy.deepcopy(self.net).to(device)
            net = self._nets[device]
            use = self._compile if self._compile is not None else device.type != "cpu"
            self._forwards[device] = _compiled(net) if use else net
        return self._forwards[device]

    @torch.no_grad()
    def step(self, closure: Callable[[], float | Tensor] | None = None) -> float | Tensor | None:
        """Update all parameters that have a gradient.

        Args:
            closure: Optional callable that re-evaluates the model and returns the loss.

        Returns:
            The closure's loss, or ``None`` without a closure.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        by_device: dict[torch.device, list[tuple[Tensor, float, bool]]] = {}
        for g_i, group in enumerate(self.param_groups):
            lr = _check_lr(group["lr"], f"parameter group {g_i}", allow_zero=True)
            for j, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                if p.grad.layout != torch.strided:
                    names = group.get("param_names")
                    label = f"parameter {names[j]!r}" if names else f"parameter {j} of group {g_i}"
                    raise TypeError(
                        f"LSTMOptimizer does not support sparse gradients: {label} (shape "
                        f"{tuple(p.shape)}) has a gradient of layout {p.grad.layout}, it needs "
                        "torch.strided (dense); build the module with dense gradients, e.g. "
                        "nn.Embedding(..., sparse=False), or step those parameters with "
                        "torch.optim.SparseAdam"
                    )
                by_device.setdefault(p.device, []).append(
                    (p, lr, bool(group.get("maximize", False)))
                )
        for device, entries in by_device.items():
            self._fused_step(device, entries)
        self._n_steps += 1
        return loss

    def _fused_step(self, device: torch.device, entries: list[tuple[Tensor, float, bool]]) -> None:
        params = [p for p, _, _ in entries]
        layout = self._layouts.get(device)
        if layout is None or not layout.matches(params):
            layout = _Layout(params, self.state, self.net, device)
            self._layouts[device] = layout
            self._detach_skipped_state(device, params)
        grads = [-p.grad if flip else p.grad for p, _, flip in entries]
        torch.cat([g.reshape(-1) for g in grads], out=layout.grad)
        param_norms = Segments.tensor_norms(params)
        state = dict(layout.state)
        lr = layout.lr_tensor([lr for _, lr, _ in entries])
        forward = self._forward_on(device)
        validation = None
        if self.net.validation_aware and self._validation.known:
            cached = self._validation_values.get(device)
            if cached is None or cached[0] != self._reports:
                values = torch.tensor(self._validation.values(), dtype=torch.float32)
                cached = (self._reports, values.to(device))
                self._validation_values[device] = cached
            validation = cached[1]
        args = (layout.grad, param_norms, state, layout.segments, lr, self.total_steps, validation)
        try:
            update, step_size, decay_factor = forward(*args)
        except Exception as exc:
            if forward is self._nets[device]:
                raise
            # torch.compile could not handle this setup: run eagerly from now on.
            logger.debug("LSTMOptimizer: torch.compile failed (%s); running eagerly", exc)
            self._forwards[device] = forward = self._nets[device]
            update, step_size, decay_factor = forward(*args)
        layout.state["h"].copy_(state["h"])
        layout.state["c"].copy_(state["c"])
        layout.apply(update, step_size, decay_factor)

    def _detach_skipped_state(self, device: torch.device, stepped: list[Tensor]) -> None:
        """Give the parameters on ``device`` left out of its new layout state of their own.

        Their entries are still views into an earlier layout's flat buffers, which would
        otherwise stay alive (a full copy of the state for every layout left behind, e.g. when
        the heads of a multi-task model take turns) and be written out whole by ``torch.save``.
        """
        stepped_ids = {id(p) for p in stepped}
        for p, entry in self.state.items():
            if id(p) in stepped_ids or p.device != device:
                continue
            for key, value in entry.items():
                if isinstance(value, Tensor) and value._base is not None:
                    entry[key] = value.clone()


def _compiled(net: LSTMOptimizerNet) -> Callable[..., Tensor]:
    try:
        return torch.compile(net, dynamic=True)
    except Exception as exc:  # e.g. no compiler toolchain on this platform
        logger.debug("LSTMOptimizer: torch.compile unavailable (%s); running eagerly", exc)
        return net


class _Layout:
    """Persistent flat per-device state of the parameters stepped together.

    Built once for a set of parameters (again only when that set changes or a state dict is
    loaded): each parameter's state entries are views into the flat buffers, which the network
    updates in place, so a step re-splits and reassigns nothing.
    """

    def __init__(
        self,
        params: list[Tensor],
        param_state: Mapping[Tensor, dict[str, Any]],
        net: LSTMOptimizerNet,
        device: torch.device,
    ) -> None:
        self.params = params
        shapes = [p.shape for p in params]
        cpu_segments = Segments.from_shapes(shapes, "cpu")
        fresh = net.init_state(cpu_segments)
        numels = cpu_segments.numels
        offsets = [0]
        for n in numels:
            offsets.append(offsets[-1] + n)
        flat: dict[str, Tensor] = {}
        for key in STATE_KEYS:
            pieces = []
            for i, p in enumerate(params):
                saved = param_state[p].get(key)
                if saved is None:
                    if key in COORD_STATE_KEYS:
                        saved = fresh[key][..., offsets[i] : offsets[i + 1]]
                    else:
                        saved = fresh[key][i]
                pieces.append(saved.to(device=device, dtype=torch.float32))
            if key in COORD_STATE_KEYS:
                flat[key] = torch.cat(pieces, dim=-1).contiguous()
            else:
                flat[key] = torch.stack(pieces).contiguous()
        # Read the step counts back once here, never in step(): parameters stepped together
        # stay in step, so whether the counts agree only changes when the layout is rebuilt.
        steps = flat["step"].tolist()
        uniform = all(s == steps[0] for s in steps)
        self.segments = Segments.from_shapes(shapes, device, uniform_step=uniform)
        self.state = flat
        for i, p in enumerate(params):
            entry = param_state[p]
            for key in COORD_STATE_KEYS:
                entry[key] = flat[key][..., offsets[i] : offsets[i + 1]]
            for key in TENSOR_STATE_KEYS:
                entry[key] = flat[key][i]
        n = offsets[-1]
        self.grad = torch.empty(n, device=device)
        self._update = torch.empty(n, device=device)
        self._update_views = [
            self._update[offsets[i] : offsets[i + 1]].view(p.shape) for i, p in enumerate(params)
        ]
        self._all_float32 = all(p.dtype == torch.float32 for p in params)
        self._lrs: list[float] | None = None
        self._lr: Tensor | float = 1.0

    def matches(self, params: list[Tensor]) -> bool:
        return len(params) == len(self.params) and all(
            p is q for p, q in zip(params, self.params, strict=True)
        )

    def lr_tensor(self, lrs: list[float]) -> Tensor | float:
        """The per-tensor ``lr`` multipliers: one number when they agree, else a ``(T,)`` tensor.

        The tensor is filled run by run (parameters of one group are adjacent) rather than
        built from a host list, whose copy to an accelerator would synchronise with the host
        every step a scheduler changes the groups' ``lr``.
        """
        if lrs != self._lrs:
            self._lrs = list(lrs)
            if all(lr == lrs[0] for lr in lrs):
                self._lr = lrs[0]
            else:
                lr = torch.empty(len(lrs), device=self.grad.device)
                start = 0
                for i in range(1, len(lrs) + 1):
                    if i == len(lrs) or lrs[i] != lrs[start]:
                        lr[start:i].fill_(lrs[start])
                        start = i
                self._lr = lr
        return self._lr

    def apply(self, update: Tensor, step_size: Tensor, decay_factor: Tensor) -> None:
        """``p <- p * decay_factor - step_size * update`` per tensor, in the parameter dtypes."""
        self._update.copy_(update)
        steps, decays = step_size.unbind(), decay_factor.unbind()
        if self._all_float32:
            torch._foreach_mul_(self.params, decays)
            torch._foreach_addcmul_(self.params, self._update_views, steps, value=-1.0)
            return
        for p, u, s, d in zip(self.params, self._update_views, steps, decays, strict=True):
            if p.dtype == torch.float32:
                p.mul_(d).addcmul_(u, s, value=-1.0)
            elif p.dtype == torch.float64:
                p.mul_(d.double()).addcmul_(u.double(), s.double(), value=-1.0)
            else:  # half precision: compute in float32, stay inside the dtype's finite range
                info = torch.finfo(p.dtype)
                p.copy_((p.float() * d - s * u).clamp_(info.min, info.max))
