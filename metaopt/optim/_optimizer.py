"""The optimizer users train with: a torch.optim.Optimizer driven by a learned LSTM."""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from metaopt.optim._network import STATE_KEYS, LSTMOptimizerNet
from metaopt.optim._weights import load_weights

logger = logging.getLogger("metaopt.optim")

WeightsLike = str | os.PathLike | Mapping[str, Any] | LSTMOptimizerNet


class LSTMOptimizer(torch.optim.Optimizer):
    """Learned optimizer: a meta-trained coordinatewise LSTM proposes every update.

    All coordinates of all parameters that have a gradient (per device) are concatenated and
    updated by one batched LSTM call per step. The network's step size is multiplied by the
    parameter group's ``lr``, so ``lr=1.0`` uses the meta-learned step size as is and ``lr`` can
    be tuned like any learning rate.

    Non-finite gradient entries (NaN, inf) are treated as missing: those coordinates are neither
    moved nor do they change the optimizer state, and a warning is logged to ``metaopt.optim``.

    Args:
        params: Iterable of tensors or of parameter-group dicts, as for any torch optimizer.
        weights: ``"default"`` (the shipped pretrained meta-parameters), a path to a weights file
            from :func:`metaopt.optim.save_weights`, its loaded payload, or an
            :class:`LSTMOptimizerNet`.
        lr: Multiplier of the learned update; must be positive.

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
        self, params: Iterable[Any], *, weights: WeightsLike = "default", lr: float = 1.0
    ) -> None:
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        if isinstance(weights, LSTMOptimizerNet):
            net = copy.deepcopy(weights).eval()
        else:
            net = load_weights(weights)
        for parameter in net.parameters():
            parameter.requires_grad_(False)
        self.net = net.float()
        self._nets: dict[torch.device, LSTMOptimizerNet] = {torch.device("cpu"): self.net}
        self._layouts: dict[torch.device, _Layout] = {}
        self._warned_nonfinite = False
        super().__init__(params, {"lr": float(lr)})

    def _net_on(self, device: torch.device) -> LSTMOptimizerNet:
        if device not in self._nets:
            self._nets[device] = copy.deepcopy(self.net).to(device)
        return self._nets[device]

    def _init_param_state(self, p: Tensor) -> None:
        state = self.net.init_state(p.numel(), device=p.device)
        state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
        self.state[p].update(state)

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
        by_device: dict[torch.device, list[tuple[Tensor, float]]] = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise TypeError("LSTMOptimizer does not support sparse gradients")
                if p.is_complex():
                    raise TypeError("LSTMOptimizer does not support complex parameters")
                if not self.state[p]:
                    self._init_param_state(p)
                by_device.setdefault(p.device, []).append((p, float(group["lr"])))
        for device, entries in by_device.items():
            self._fused_step(device, entries)
        return loss

    def _fused_step(self, device: torch.device, entries: list[tuple[Tensor, float]]) -> None:
        params = [p for p, _ in entries]
        layout = self._layouts.get(device)
        if layout is None or not layout.matches(params, self.state):
            layout = _Layout.build(params, self.state, self.net.state_shapes(), device)
            self._layouts[device] = layout
        grad = torch.cat([p.grad.reshape(-1) for p in params]).to(torch.float32)
        old = dict(layout.state)

        finite = torch.isfinite(grad)
        all_finite = bool(finite.all())
        if not all_finite:
            if not self._warned_nonfinite:
                logger.warning(
                    "LSTMOptimizer: %d non-finite gradient entries skipped (those coordinates are "
                    "left unchanged); further occurrences are not logged",
                    int((~finite).sum()),
                )
                self._warned_nonfinite = True
            grad = torch.where(finite, grad, torch.zeros((), device=device))

        update, new = self._net_on(device)(grad, old)

        if not all_finite:
            update = torch.where(finite, update, torch.zeros((), device=device))
            for key in STATE_KEYS:
                mask = finite.view(-1, *([1] * (new[key].dim() - 1)))
                new[key] = torch.where(mask, new[key], old[key])
        # Last line of defence: nothing non-finite ever reaches the parameters.
        update = torch.nan_to_num(update, nan=0.0, posinf=0.0, neginf=0.0)
        update = update * layout.lr_scale([lr for _, lr in entries])
        layout.store(new, self.state)
        updates = [
            u.view(p.shape)
            for p, u in zip(params, torch.split(update, layout.numels), strict=True)
        ]
        if all(p.dtype == torch.float32 for p in params):
            torch._foreach_sub_(params, updates)
        else:
            for p, u in zip(params, updates, strict=True):
                p.sub_(u.to(p.dtype))


class _Layout:
    """Flat per-device state of the parameters updated together.

    Each parameter's state entries are views into the flat tensors, so as long as the same
    parameters are stepped (the usual case) no per-step concatenation of state is needed. Any
    change (another set of parameters with gradients, ``load_state_dict``) rebuilds the layout.
    """

    def __init__(
        self,
        params: list[Tensor],
        numels: list[int],
        state: dict[str, Tensor],
        views: list[dict[str, Tensor]],
    ) -> None:
        self.params = params
        self.numels = numels
        self.state = state
        self.views = views
        self._lrs: list[float] | None = None
        self._lr_scale: float | Tensor = 1.0

    @classmethod
    def build(
        cls,
        params: list[Tensor],
        param_state: Mapping[Tensor, dict[str, Any]],
        shapes: Mapping[str, tuple[int, ...]],
        device: torch.device,
    ) -> _Layout:
        numels = [p.numel() for p in params]
        states = [param_state[p] for p in params]
        # load_state_dict casts state to the parameter dtype; the network always runs in float32.
        flat = {
            key: torch.cat([s[key].reshape(-1, *shapes[key]) for s in states]).to(
                device=device, dtype=torch.float32
            )
            for key in STATE_KEYS
        }
        steps = torch.stack([torch.as_tensor(s["step"]).to(device) for s in states]).float()
        if bool((steps == steps[0]).all()):
            flat["step"] = steps[0].clone()
        else:
            flat["step"] = torch.repeat_interleave(steps, torch.tensor(numels, device=device))
        layout = cls(params, numels, flat, [])
        layout.store(flat, param_state, advance=False)
        return layout

    def matches(self, params: list[Tensor], param_state: Mapping[Tensor, dict[str, Any]]) -> bool:
        if len(params) != len(self.params):
            return False
        for p, q, views in zip(params, self.params, self.views, strict=True):
            if p is not q:
                return False
            state = param_state[p]
            if any(state.get(key) is not views[key] for key in (*STATE_KEYS, "step")):
                return False
        return True

    def store(
        self,
        new: dict[str, Tensor],
        param_state: Mapping[Tensor, dict[str, Any]],
        *,
        advance: bool = True,
    ) -> None:
        """Make ``new`` the flat state and point every parameter's state at views of it."""
        pieces = {key: torch.split(new[key], self.numels) for key in STATE_KEYS}
        if advance:
            torch._foreach_add_([v["step"] for v in self.views], 1.0)
        self.state = dict(new)
        views = []
        for i, p in enumerate(self.params):
            state = param_state[p]
            for key in STATE_KEYS:
                state[key] = pieces[key][i]
            if not advance:
                state["step"] = torch.as_tensor(state["step"], dtype=torch.float32).clone()
            views.append({key: state[key] for key in (*STATE_KEYS, "step")})
        self.views = views

    def lr_scale(self, lrs: list[float]) -> float | Tensor:
        if lrs != self._lrs:
            self._lrs = list(lrs)
            if all(lr == lrs[0] for lr in lrs):
                self._lr_scale = lrs[0]
            else:
                device = self.state["m"].device
                self._lr_scale = torch.repeat_interleave(
                    torch.tensor(lrs, device=device, dtype=torch.float32),
                    torch.tensor(self.numels, device=device),
                )
        return self._lr_scale
