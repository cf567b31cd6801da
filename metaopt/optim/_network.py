"""The meta-parameters: a learned optimizer that turns gradients into parameter updates.

Two levels, both cheap enough to run on every step of a real training run:

- a **per-coordinate MLP** (one row of a batch per coordinate of every parameter, as in
  Andrychowicz et al., 2016, but without per-coordinate recurrent state) that reads Adam-style
  momenta at three time scales and proposes a bounded correction to the update direction and
  to the step size of each coordinate;
- a **per-tensor LSTM** (one row per parameter tensor) that reads summary statistics of each
  tensor (gradient energy relative to its running average, signal-to-noise of the momentum,
  growth of the weights since the start, the training step and, when the user says how long
  training will run, the fraction of it done; when the user reports a validation loss, how far
  it is above its best and how long ago that best was) and sets each tensor's step size and
  decoupled weight decay: a learned, state-dependent schedule and regulariser.

With the output heads at zero the update is exactly Adam's (learning rate ``exp(log_lr)``),
which is where meta-training starts; everything learned is a bounded correction to it, which is
what keeps the optimizer from diverging on horizons longer than it was trained on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

#: Names of the per-coordinate state tensors (last dimension: the coordinates) kept between steps.
COORD_STATE_KEYS: tuple[str, ...] = ("m", "v")
#: Names of the per-tensor state tensors (shape ``(T, ...)``) kept between steps.
TENSOR_STATE_KEYS: tuple[str, ...] = ("h", "c", "log_rms0", "step")
#: Gradients are clipped to this magnitude so their squares stay finite in float32.
MAX_GRADIENT = 1e18
#: Number of per-coordinate input features of the MLP.
N_COORD_FEATURES = 4  # three normalised momenta and the normalised gradient
#: Number of per-tensor input features of the LSTM (without the horizon features).
N_TENSOR_FEATURES = 8
#: Extra per-tensor features of a horizon-aware network: whether the horizon is known, and the
#: fraction of it done (clipped at :data:`MAX_HORIZON_FRACTION`).
N_HORIZON_FEATURES = 2
MAX_HORIZON_FRACTION = 2.0
#: Extra per-tensor features of a validation-aware network (see :class:`ValidationSignal`).
N_VALIDATION_FEATURES = 4
_TINY = 1e-30


class ValidationSignal:
    """What a validation-aware network reads from the validation losses reported so far.

    Four features, the same for every tensor: whether any loss was reported; how far the last
    one lies above the best (``log(last / best)``, clipped to ``[0, 1]``: a rising validation
    loss means overfitting); how long ago the best was seen (``tanh(steps since / 50)``); and
    how much the validation loss has fallen since the first report (``log(first / best) / 5``,
    clipped to ``[0, 1]``). A non-finite loss counts as the largest possible rise.

    :meth:`values` changes only when a loss is reported; the network computes the time since
    the best from its own step count, so that stepping needs no new values from the host (no
    device synchronisation) between reports.

    Example:
        >>> signal = ValidationSignal()
        >>> signal.report(1.0, step=0); signal.report(0.5, step=10); signal.report(0.6, step=20)
        >>> [round(v, 3) for v in signal.values()]
        [1.0, 0.182, 10.0, 0.139]
    """

    def __init__(self) -> None:
        self.first = math.nan
        self.best = math.nan
        self.last = math.nan
        self.best_step = 0

    @property
    def known(self) -> bool:
        return not math.isnan(self.first)

    def report(self, loss: float, *, step: int) -> None:
        """Record a validation ``loss`` measured after ``step`` optimizer steps."""
        loss = float(loss)
        if not math.isfinite(loss):
            loss = math.inf
        if not self.known:
            self.first = loss
        self.last = loss
        if not self.best <= loss:  # also true while best is nan
            self.best, self.best_step = loss, step

    def values(self) -> list[float]:
        """``[known, rise, step of the best, progress]`` (zeros before any report).

        The network turns the step of the best into the time since it (see
        :meth:`LSTMOptimizerNet.forward`'s ``validation``).
        """
        if not self.known:
            return [0.0] * N_VALIDATION_FEATURES
        return [
            1.0,
            _clipped_log_ratio(self.last, self.best, 1.0),
            float(self.best_step),
            _clipped_log_ratio(self.first, self.best, 5.0) / 5.0,
        ]

    def state_dict(self) -> dict[str, float]:
        return {
            "first": self.first,
            "best": self.best,
            "last": self.last,
            "best_step": float(self.best_step),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.first, self.best, self.last = (float(state[k]) for k in ("first", "best", "last"))
        self.best_step = int(state["best_step"])


def _clipped_log_ratio(a: float, b: float, high: float) -> float:
    """``log(a / b)`` clipped to ``[0, high]`` (``high`` when ``a`` is infinite or ``b`` is 0)."""
    if math.isinf(a):
        return high
    if math.isinf(b) or a <= 0.0:
        return 0.0
    if b <= 0.0:
        return high
    return min(max(math.log(a / b), 0.0), high)


@dataclass
class Segments:
    """How a flat vector of coordinates splits into parameter tensors.

    Attributes:
        ids: ``(n,)`` int64: the tensor each coordinate belongs to.
        numels: Coordinates per tensor.
        static: ``(T, 2)`` float32 static tensor features (is a vector or scalar; log size).
        counts: ``(T,)`` float32 coordinates per tensor (at least 1).
        uniform_step: Whether all tensors have taken the same number of steps (then the bias
            corrections are shared and need no per-coordinate gather).
    """

    ids: Tensor
    numels: list[int]
    static: Tensor
    counts: Tensor
    uniform_step: bool = True

    @classmethod
    def from_shapes(
        cls,
        shapes: Sequence[Sequence[int]],
        device: torch.device | str | None = None,
        *,
        uniform_step: bool = True,
    ) -> Segments:
        """Segments of tensors of the given shapes, concatenated in order.

        Example:
            >>> seg = Segments.from_shapes([(3, 2), (2,)])
            >>> seg.ids.tolist()
            [0, 0, 0, 0, 0, 0, 1, 1]
        """
        numels = [math.prod(shape) for shape in shapes]
        lengths = torch.tensor(numels, dtype=torch.int64)
        ids = torch.repeat_interleave(torch.arange(len(numels)), lengths)
        static = torch.tensor(
            [
                [float(len(shape) <= 1), math.log1p(n) / 10.0]
                for shape, n in zip(shapes, numels, strict=True)
            ],
            dtype=torch.float32,
        ).reshape(len(numels), 2)
        counts = lengths.to(torch.float32).clamp_min(1.0)
        return cls(ids.to(device), numels, static.to(device), counts.to(device), uniform_step)

    @property
    def n_tensors(self) -> int:
        return len(self.numels)

    def norms(self, flat: Tensor) -> Tensor:
        """Euclidean norm of each tensor's part of ``flat`` (``(n,)`` -> ``(T,)``, float32)."""
        return self.tensor_norms(list(flat.split(self.numels)))

    @staticmethod
    def tensor_norms(tensors: Sequence[Tensor]) -> Tensor:
        """Float32 Euclidean norm of each tensor, ``(T,)``, in one fused call."""
        # float64 cannot be narrowed by the fused norm; other dtypes accumulate in float32.
        tensors = [t.float() if t.dtype == torch.float64 else t for t in tensors]
        return torch.stack(torch._foreach_norm(tensors, 2, dtype=torch.float32))

    def expand(self, values: Tensor) -> Tensor:
        """Per-tensor ``values`` (``(T,)`` or ``(r, T)``) repeated for each coordinate."""
        return values.index_select(-1, self.ids)


class LSTMOptimizerNet(nn.Module):
    """Learned optimizer network: a per-coordinate MLP under a per-tensor LSTM.

    Per coordinate it keeps Adam-style moments (momentum at ``len(betas)`` time scales and a
    second moment); per tensor an LSTM state, the step count and the initial weight scale.
    A coordinate ``x`` of tensor ``t`` is updated as ``x <- x * (1 - s_t * d_t) - s_t * u`` with::

        u   = exp(coord_log_scale * tanh(mlp_1)) * bound(sum_k mix_k * m_k / sqrt(v)
                                                         + output_scale * mlp_0)
        s_t = lr[t] * exp(log_lr + max_log_scale * tanh(lstm_0[t]))      # step size
        d_t = exp(log_wd + max_log_wd_scale * tanh(lstm_1[t]))           # weight decay

    where ``m_k / sqrt(v)`` are the bias-corrected momenta over the root second moment. With
    the output heads initialised to zero this is Adam (with a tiny decoupled weight decay
    ``exp(log_wd)``).

    Args:
        hidden_size: Hidden units of the per-tensor LSTM.
        betas: Momentum decay rates of the momentum features.
        beta2: Decay rate of the second moment.
        eps: Added to ``sqrt(v)``, as in Adam.
        init_lr: Initial base step size ``exp(log_lr)`` (a meta-parameter).
        output_scale: Scale of the learned additive direction correction.
        max_log_scale: Bound on the per-tensor learned log step-size correction.
        max_direction: Soft bound on the magnitude of the direction per coordinate.
        mlp_hidden: Hidden units of the per-coordinate MLP; the per-step cost grows with it.
        coord_log_scale: Bound on the per-coordinate learned log step-size correction.
        init_weight_decay: Initial decoupled weight decay ``exp(log_wd)``; ``0`` disables it
            at initialisation (meta-training can then not learn it either).
        max_log_wd_scale: Bound on the per-tensor learned log weight-decay correction.
        horizon_aware: Give the LSTM the fraction of the training horizon done (when the
            caller passes ``total_steps``), so it can learn a schedule that ends at the horizon.
            Off by default: meta-trained with it, the network did no better on the benchmark's
            validation tasks (see the docs).
        validation_aware: Give the LSTM the :class:`ValidationSignal` features, so it can
            react to a validation loss the caller reports (and behave as without one when
            none is reported). Off by default: meta-trained with it, reports did not help on
            the benchmark's validation tasks, and the networks tolerated a large ``lr``
            multiplier less well (see the docs).

    Example:
        >>> import torch
        >>> net = LSTMOptimizerNet()
        >>> seg = Segments.from_shapes([(5, 2)])
        >>> state = net.init_state(seg)
        >>> update, step_size, decay_factor = net(torch.randn(10), torch.ones(1), state, seg)
        >>> update.shape, step_size.shape
        (torch.Size([10]), torch.Size([1]))
    """

    def __init__(
        self,
        hidden_size: int = 16,
        *,
        betas: tuple[float, ...] = (0.5, 0.9, 0.99),
        beta2: float = 0.999,
        eps: float = 1e-8,
        init_lr: float = 1e-2,
        output_scale: float = 0.1,
        max_log_scale: float = 2.0,
        max_direction: float = 4.0,
        mlp_hidden: int = 8,
        coord_log_scale: float = 1.0,
        init_weight_decay: float = 1e-4,
        max_log_wd_scale: float = 4.0,
        horizon_aware: bool = False,
        validation_aware: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("hidden_size", hidden_size), ("mlp_hidden", mlp_hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not betas or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be a non-empty tuple of values in [0, 1), got {betas!r}")
        if not 0.0 <= beta2 < 1.0:
            raise ValueError(f"beta2 must be in [0, 1), got {beta2!r}")
        if not (math.isfinite(init_lr) and init_lr > 0):
            raise ValueError(f"init_lr must be a positive finite number, got {init_lr!r}")
        if not (math.isfinite(init_weight_decay) and init_weight_decay >= 0):
            raise ValueError(
                f"init_weight_decay must be a finite number >= 0, got {init_weight_decay!r}"
            )
        self.hidden_size = int(hidden_size)
        self.mlp_hidden = int(mlp_hidden)
        self.betas = tuple(float(b) for b in betas)
        self.beta2 = float(beta2)
        self.eps = float(eps)
        self.output_scale = float(output_scale)
        self.max_log_scale = float(max_log_scale)
        self.max_direction = float(max_direction)
        self.coord_log_scale = float(coord_log_scale)
        self.max_log_wd_scale = float(max_log_wd_scale)
        if not isinstance(horizon_aware, bool):
            raise ValueError(f"horizon_aware must be a bool, got {horizon_aware!r}")
        if not isinstance(validation_aware, bool):
            raise ValueError(f"validation_aware must be a bool, got {validation_aware!r}")
        self.horizon_aware = horizon_aware
        self.validation_aware = validation_aware
        k = len(self.betas)
        # Per-coordinate MLP: normalised momenta and gradient -> (direction, log step) corrections.
        self.coord_in = nn.Linear(k + 1, self.mlp_hidden)
        self.coord_out = nn.Linear(self.mlp_hidden, 2)
        # Per-tensor LSTM: summary statistics -> (log step, log weight decay) corrections.
        n_features = (
            N_TENSOR_FEATURES
            + (N_HORIZON_FEATURES if horizon_aware else 0)
            + (N_VALIDATION_FEATURES if validation_aware else 0)
        )
        self.cell = nn.LSTMCell(n_features, self.hidden_size)
        self.head = nn.Linear(self.hidden_size, 2)
        for layer in (self.coord_out, self.head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.log_lr = nn.Parameter(torch.tensor(math.log(init_lr)))
        self.log_wd = nn.Parameter(torch.tensor(math.log(max(init_weight_decay, 1e-38))))
        # Index of the momentum closest to Adam's beta1 = 0.9: the mixture starts on it.
        self._i_fast = min(range(k), key=lambda i: abs(self.betas[i] - 0.9))
        mix = torch.zeros(k)
        mix[self._i_fast] = 1.0
        self.mix = nn.Parameter(mix)
        self.register_buffer("_beta_vec", torch.tensor(self.betas), persistent=False)

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this architecture (saved with the weights)."""
        return {
            "hidden_size": self.hidden_size,
            "betas": list(self.betas),
            "beta2": self.beta2,
            "eps": self.eps,
            "output_scale": self.output_scale,
            "max_log_scale": self.max_log_scale,
            "max_direction": self.max_direction,
            "mlp_hidden": self.mlp_hidden,
            "coord_log_scale": self.coord_log_scale,
            "max_log_wd_scale": self.max_log_wd_scale,
            "horizon_aware": self.horizon_aware,
            "validation_aware": self.validation_aware,
        }

    def init_state(
        self, segments: Segments, *, device: torch.device | str | None = None
    ) -> dict[str, Tensor]:
        """Fresh float32 state for the coordinates of ``segments``.

        Per-coordinate state is feature-major (``m`` is ``(len(betas), n)``), which makes the
        network's batched products several times faster than coordinate-major rows.
        ``log_rms0`` is NaN until the first step records each tensor's initial weight scale.
        """
        device = segments.ids.device if device is None else device
        n, t = int(sum(segments.numels)), segments.n_tensors
        state = {
            "m": torch.zeros((len(self.betas), n), device=device),
            "v": torch.zeros(n, device=device),
        }
        shapes = self.state_shapes()
        for key in TENSOR_STATE_KEYS:
            state[key] = torch.zeros((t, *shapes[key]), device=device)
        state["log_rms0"].fill_(math.nan)
        return state

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each state tensor of one parameter tensor of ``numel`` coordinates.

        Per-coordinate entries use ``-1`` for ``numel``.
        """
        return {
            "m": (len(self.betas), -1),
            "v": (-1,),
            "h": (self.hidden_size,),
            "c": (self.hidden_size,),
            "log_rms0": (),
            "step": (),
        }

    def forward(
        self,
        grad: Tensor,
        param_norms: Tensor,
        state: dict[str, Tensor],
        segments: Segments,
        lr: Tensor | float = 1.0,
        total_steps: float | None = None,
        validation: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One update for a flat vector of coordinates; updates ``state``.

        The per-coordinate moments (``m``, ``v``), the step counts and ``log_rms0`` are updated
        in place; the per-tensor LSTM state (``h``, ``c``) is replaced by new tensors (so that
        meta-training can differentiate through it). Non-finite gradient entries leave their
        coordinate's moments unchanged and produce a zero update; no value is read back to the
        host, so there is no device synchronisation. Apply the result with :func:`apply_update`
        (or its equivalent on separate tensors)::

            param <- param * decay_factor[t] - step_size[t] * update

        Args:
            grad: Flat float32 gradients, shape ``(n,)``; any value (non-finite entries are
                skipped, magnitudes above :data:`MAX_GRADIENT` are clipped).
            param_norms: Euclidean norm of each parameter tensor, ``(T,)`` (for the weight
                growth feature).
            state: From :meth:`init_state` or a previous call.
            segments: Which coordinates form which tensor.
            lr: Multiplier of the step size: a number or a ``(T,)`` tensor (``>= 0``).
            total_steps: Length of the training run, when known (only read by a
                ``horizon_aware`` network; ``None``: unknown).
            validation: The ``(4,)`` float32 :meth:`ValidationSignal.values` (only read by a
                ``validation_aware`` network; ``None``: no validation loss reported). The time
                since the best report, ``tanh((steps taken - step of the best) / 50)``, is
                computed here from ``state["step"]``.

        Returns:
            ``(update, step_size, decay_factor)``: ``(n,)`` and two ``(T,)`` tensors, all finite.
        """
        finite = torch.isfinite(grad)
        g = torch.where(finite, grad, 0.0).clamp_(-MAX_GRADIENT, MAX_GRADIENT)
        keep = finite.to(g.dtype)
        k = len(self.betas)
        betas = self._beta_vec.unsqueeze(-1)  # (k, 1)
        m, v, step = state["m"], state["v"], state["step"]
        # Exponential averages; a weight of 0 (non-finite entry) leaves the moments unchanged.
        m.lerp_(g.expand(k, -1), keep * (1.0 - betas))
        v.lerp_(g * g, keep * (1.0 - self.beta2))
        step.add_(1.0)

        # Bias corrections: shared when all tensors took the same number of steps.
        steps = step if not segments.uniform_step else step[:1]
        inv_bc1 = 1.0 / (1.0 - betas.pow(steps))  # (k, T) or (k, 1)
        inv_sqrt_bc2 = torch.rsqrt(1.0 - self.beta2**steps)  # (T,) or (1,)
        if not segments.uniform_step:
            inv_bc1, inv_sqrt_bc2 = segments.expand(inv_bc1), segments.expand(inv_sqrt_bc2)
        root_v = torch.sqrt(v)
        inv_denom = 1.0 / (root_v * inv_sqrt_bc2 + self.eps)
        norm_m = m * inv_bc1 * inv_denom
        norm_g = (g * inv_denom).clamp_(-10.0, 10.0)
        features = torch.cat((norm_m, norm_g.unsqueeze(0)), dim=0)  # (k + 1, n)
        hidden = torch.tanh(
            torch.addmm(self.coord_in.bias.unsqueeze(-1), self.coord_in.weight, features)
        )
        coord = torch.addmm(self.coord_out.bias.unsqueeze(-1), self.coord_out.weight, hidden)

        # Per-tensor statistics -> LSTM -> per-tensor log step size and weight decay.
        i_fast = self._i_fast
        count = segments.counts
        norms = segments.tensor_norms(
            [*g.split(segments.numels), *root_v.split(segments.numels)]
            + list(norm_m[i_fast].split(segments.numels))
        ).view(3, -1)
        log_rms = torch.log(param_norms.detach() * torch.rsqrt(count) + 1e-6)
        log_rms0 = state["log_rms0"]
        log_rms0.copy_(torch.where(torch.isnan(log_rms0), log_rms, log_rms0))
        log_ratio = 2.0 * (torch.log(norms[0] + _TINY) - torch.log(norms[1] + _TINY))
        tensor_features = torch.stack(
            (
                log_ratio.clamp(-5.0, 5.0) / 5.0,
                torch.tanh(norms[2].square() / count),
                (log_rms - log_rms0).clamp(-5.0, 5.0) / 5.0,
                torch.tanh(step / 10.0),
                torch.tanh(step / 100.0),
                torch.tanh(step / 1000.0),
                segments.static[:, 0],
                segments.static[:, 1],
                *self._horizon_features(step, total_steps),
                *self._validation_features(step, validation),
            ),
            dim=1,
        )
        h, c = self.cell(tensor_features, (state["h"], state["c"]))
        state["h"], state["c"] = h, c
        out = self.head(h)
        log_step = self.log_lr + self.max_log_scale * torch.tanh(out[:, 0])
        decay = torch.exp(self.log_wd + self.max_log_wd_scale * torch.tanh(out[:, 1]))
        step_size = torch.exp(log_step) * lr  # lr = 0 gives a zero step, never NaN
        decay_factor = (1.0 - step_size * decay).clamp(0.0, 1.0)

        bound = self.max_direction
        direction = self.mix @ norm_m + self.output_scale * coord[0]
        direction = bound * torch.tanh(direction / bound)
        update = torch.exp(self.coord_log_scale * torch.tanh(coord[1])) * direction * keep
        # Last line of defence: the update is always finite.
        return (
            torch.nan_to_num(update, nan=0.0, posinf=0.0, neginf=0.0),
            torch.nan_to_num(step_size, nan=0.0, posinf=0.0, neginf=0.0),
            torch.nan_to_num(decay_factor, nan=1.0),
        )

    def _validation_features(self, step: Tensor, validation: Tensor | None) -> tuple[Tensor, ...]:
        if not self.validation_aware:
            return ()
        if validation is None:
            return tuple(torch.zeros_like(step) for _ in range(N_VALIDATION_FEATURES))
        known, rise, best_step, progress = validation.to(step).unbind()
        # ``step`` already counts this update: ``step - 1`` steps were taken before it.
        stale = known * torch.tanh((step - 1.0 - best_step).clamp_min(0.0) / 50.0)
        return known.expand_as(step), rise.expand_as(step), stale, progress.expand_as(step)

    def _horizon_features(self, step: Tensor, total_steps: float | None) -> tuple[Tensor, ...]:
        if not self.horizon_aware:
            return ()
        if total_steps is None:
            zero = torch.zeros_like(step)
            return zero, zero
        fraction = (step / float(total_steps)).clamp(0.0, MAX_HORIZON_FRACTION)
        return torch.ones_like(step), fraction / MAX_HORIZON_FRACTION


def apply_update(
    theta: Tensor, update: Tensor, step_size: Tensor, decay_factor: Tensor, segments: Segments
) -> Tensor:
    """New flat parameters ``theta * decay_factor[t] - step_size[t] * update`` (differentiable)."""
    return theta * segments.expand(decay_factor) - segments.expand(step_size) * update
