"""The meta-parameters: a coordinatewise LSTM that turns gradients into parameter updates.

The network sees every coordinate of every parameter as one row of a batch, so one call updates
a whole model (Andrychowicz et al., 2016). Its update starts out as Adam's, and the LSTM learns
bounded corrections to the step size and direction. Starting from a known-good optimizer and
bounding what is learned is what keeps it from diverging on horizons longer than it was trained on.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

#: Names of the per-coordinate state tensors kept between steps (besides ``"step"``).
STATE_KEYS: tuple[str, ...] = ("m", "v", "h", "c")
#: Gradients are clipped to this magnitude so their squares stay finite in float32.
MAX_GRADIENT = 1e18


def preprocess_gradient(grad: Tensor, p: float = 10.0) -> Tensor:
    """Log/sign gradient preprocessing of Andrychowicz et al. (2016), appendix A.

    Maps each gradient ``g`` to two bounded numbers: ``(log|g| / p, sign(g))`` when
    ``|g| >= exp(-p)`` and ``(-1, exp(p) * g)`` otherwise, so gradients of any scale reach the
    LSTM with comparable magnitudes.

    Args:
        grad: Gradient of any shape.
        p: Preprocessing constant; 10 as in the paper.

    Returns:
        Tensor of shape ``grad.shape + (2,)``.
    """
    # log|g| / p < -1 exactly when |g| < exp(-p), and |g| exp(p) >= 1 exactly when |g| >= exp(-p):
    # so two clamps give the paper's piecewise definition with fewer tensor operations.
    log_part = (torch.log(grad.abs()) / p).clamp_min(-1.0)
    sign_part = (grad * math.exp(p)).clamp(-1.0, 1.0)
    return torch.stack((log_part, sign_part), dim=-1)


class LSTMOptimizerNet(nn.Module):
    """Coordinatewise LSTM proposing parameter updates.

    Per coordinate it keeps Adam-style moments (momentum at ``len(betas)`` time scales and a
    second moment) and an LSTM state. Inputs to the LSTM are the log/sign-preprocessed gradient,
    the bias-corrected momenta normalised by the second moment, and the normalised gradient. The
    proposed update (to be *subtracted* from the parameter) is::

        direction = bound(sum_k mix_k * m_k / sqrt(v) + output_scale * head_0(h))
        step_size = exp(log_lr + max_log_scale * tanh(head_1(h)))
        update = step_size * direction

    With the head initialised to zero this is exactly Adam with learning rate ``exp(log_lr)``.

    Args:
        hidden_size: LSTM hidden units per coordinate; the per-step cost grows with it.
        betas: Momentum decay rates of the momentum features.
        beta2: Decay rate of the second moment.
        eps: Added to ``sqrt(v)``, as in Adam.
        init_lr: Initial base step size ``exp(log_lr)`` (a meta-parameter).
        preprocess_p: Constant of :func:`preprocess_gradient`.
        output_scale: Scale of the learned additive direction correction.
        max_log_scale: Bound on the learned log step-size correction.
        max_direction: Soft bound on the magnitude of the direction per coordinate.

    Example:
        >>> import torch
        >>> net = LSTMOptimizerNet(hidden_size=4)
        >>> grad = torch.randn(10)
        >>> state = net.init_state(10)
        >>> update, state = net(grad, state)
        >>> update.shape
        torch.Size([10])
    """

    def __init__(
        self,
        hidden_size: int = 8,
        *,
        betas: tuple[float, ...] = (0.5, 0.9, 0.99),
        beta2: float = 0.999,
        eps: float = 1e-8,
        init_lr: float = 1e-2,
        preprocess_p: float = 10.0,
        output_scale: float = 0.1,
        max_log_scale: float = 2.0,
        max_direction: float = 4.0,
    ) -> None:
        super().__init__()
        if hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive int, got {hidden_size!r}")
        if not betas or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be a non-empty tuple of values in [0, 1), got {betas!r}")
        if not 0.0 <= beta2 < 1.0:
            raise ValueError(f"beta2 must be in [0, 1), got {beta2!r}")
        if init_lr <= 0:
            raise ValueError(f"init_lr must be positive, got {init_lr!r}")
        self.hidden_size = int(hidden_size)
        self.betas = tuple(float(b) for b in betas)
        self.beta2 = float(beta2)
        self.eps = float(eps)
        self.preprocess_p = float(preprocess_p)
        self.output_scale = float(output_scale)
        self.max_log_scale = float(max_log_scale)
        self.max_direction = float(max_direction)
        self.n_inputs = 2 + len(self.betas) + 1
        self.cell = nn.LSTMCell(self.n_inputs, self.hidden_size)
        self.head = nn.Linear(self.hidden_size, 2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.log_lr = nn.Parameter(torch.tensor(math.log(init_lr)))
        # Mixture over the momentum features; starts on the one closest to Adam's beta1 = 0.9.
        mix = torch.zeros(len(self.betas))
        mix[min(range(len(self.betas)), key=lambda i: abs(self.betas[i] - 0.9))] = 1.0
        self.mix = nn.Parameter(mix)
        self.register_buffer("_beta_vec", torch.tensor(self.betas), persistent=False)

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this architecture (saved with the weights)."""
        return {
            "hidden_size": self.hidden_size,
            "betas": list(self.betas),
            "beta2": self.beta2,
            "eps": self.eps,
            "preprocess_p": self.preprocess_p,
            "output_scale": self.output_scale,
            "max_log_scale": self.max_log_scale,
            "max_direction": self.max_direction,
        }

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """Trailing shape of each per-coordinate state tensor."""
        return {
            "m": (len(self.betas),),
            "v": (),
            "h": (self.hidden_size,),
            "c": (self.hidden_size,),
        }

    def init_state(
        self,
        n: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> dict[str, Tensor]:
        """Zero state for ``n`` coordinates on ``device``; ``"step"`` counts updates done."""
        state = {
            key: torch.zeros((n, *shape), device=device, dtype=dtype)
            for key, shape in self.state_shapes().items()
        }
        state["step"] = torch.zeros((), device=device, dtype=dtype)
        return state

    def forward(self, grad: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """One update for a flat vector of coordinates.

        Args:
            grad: Gradients, shape ``(n,)``; must be finite (magnitudes above
                :data:`MAX_GRADIENT` are clipped).
            state: From :meth:`init_state` or a previous call. ``state["step"]`` is a scalar or
                an ``(n,)`` tensor (coordinates of parameters created at different times).

        Returns:
            ``(update, new_state)``; ``update`` has shape ``(n,)`` and is to be subtracted.
        """
        grad = grad.clamp(-MAX_GRADIENT, MAX_GRADIENT)
        step = state["step"] + 1
        betas = self._beta_vec.to(grad.dtype)
        m = state["m"] * betas + grad.unsqueeze(-1) * (1 - betas)
        v = state["v"] * self.beta2 + grad.square() * (1 - self.beta2)
        step_col = step.unsqueeze(-1) if step.dim() else step
        m_hat = m / (1 - betas.pow(step_col))
        denom = torch.sqrt(v / (1 - self.beta2**step)) + self.eps
        normalized_m = m_hat / denom.unsqueeze(-1)
        normalized_g = (grad / denom).clamp(-10.0, 10.0)
        inputs = torch.cat(
            (
                preprocess_gradient(grad, self.preprocess_p),
                normalized_m,
                normalized_g.unsqueeze(-1),
            ),
            dim=-1,
        )
        h, c = self.cell(inputs, (state["h"], state["c"]))
        out = self.head(h)
        direction = normalized_m @ self.mix + self.output_scale * out[:, 0]
        bound = self.max_direction
        direction = bound * torch.tanh(direction / bound)
        step_size = torch.exp(self.log_lr + self.max_log_scale * torch.tanh(out[:, 1]))
        update = step_size * direction
        return update, {"m": m, "v": v, "h": h, "c": c, "step": step}
