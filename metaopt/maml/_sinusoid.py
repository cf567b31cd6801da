"""Sinusoid regression tasks, the standard MAML toy problem (Finn et al., 2017)."""

from __future__ import annotations

import math
import numbers

import torch

from metaopt.maml._task import Task


def _check_range(value: object, name: str, *, positive: bool = False) -> tuple[float, float]:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{name} must be a (low, high) pair, got {value!r}.")
    low, high = (float(v) for v in value)
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"{name} must be finite with low <= high, got {value!r}.")
    if positive and low < 0:
        raise ValueError(f"{name} must be non-negative, got {value!r}.")
    return low, high


def _check_size(value: object, name: str) -> int:
    """A positive integer (int or numpy integer, not bool), as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}.")
    return int(value)


class SinusoidTasks:
    """Sample regression tasks ``y = amplitude * sin(x - phase)``.

    Each task draws an amplitude and a phase uniformly, then ``support_size`` and ``query_size``
    inputs uniformly from ``x_range``. Tensors have shape ``(n, 1)``.

    Args:
        support_size: Examples to adapt on (``K`` in K-shot).
        query_size: Examples to score the adaptation on.
        amplitude: Range of the amplitude.
        phase: Range of the phase.
        x_range: Range of the inputs.
        dtype: Floating dtype of the tensors.
        seed: Seed of the sampler's own generator; ``None`` draws a fresh seed.

    Example:
        >>> tasks = SinusoidTasks(support_size=10, query_size=100, seed=0)
        >>> task = tasks.sample(1)[0]
        >>> task.support_x.shape, task.query_y.shape
        (torch.Size([10, 1]), torch.Size([100, 1]))
    """

    def __init__(
        self,
        *,
        support_size: int = 10,
        query_size: int = 10,
        amplitude: tuple[float, float] = (0.1, 5.0),
        phase: tuple[float, float] = (0.0, math.pi),
        x_range: tuple[float, float] = (-5.0, 5.0),
        dtype: torch.dtype = torch.float32,
        seed: int | None = None,
    ) -> None:
        self.support_size = _check_size(support_size, "support_size")
        self.query_size = _check_size(query_size, "query_size")
        self.amplitude = _check_range(amplitude, "amplitude", positive=True)
        self.phase = _check_range(phase, "phase")
        self.x_range = _check_range(x_range, "x_range")
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}.")
        self.dtype = dtype
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)

    @staticmethod
    def function(x: torch.Tensor, amplitude: float, phase: float) -> torch.Tensor:
        """The task's target function, ``amplitude * sin(x - phase)``."""
        return amplitude * torch.sin(x - phase)

    def draw_parameters(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` (amplitude, phase) pairs as two 1-d tensors."""
        n = _check_size(n, "n")
        amplitudes = self._uniform((n,), self.amplitude)
        phases = self._uniform((n,), self.phase)
        return amplitudes, phases

    def make_task(self, amplitude: float, phase: float) -> Task:
        """A task of the given function, with freshly drawn support and query inputs."""
        x = self._uniform((self.support_size + self.query_size, 1), self.x_range)
        y = self.function(x, float(amplitude), float(phase))
        k = self.support_size
        return Task(x[:k], y[:k], x[k:], y[k:])

    def sample(self, n: int) -> list[Task]:
        """Draw ``n`` independent tasks."""
        amplitudes, phases = self.draw_parameters(n)
        k = self.support_size
        # One draw for all tasks: per-task calls dominate meta-training time for small nets.
        x = self._uniform((n, k + self.query_size, 1), self.x_range)
        y = amplitudes.view(n, 1, 1) * torch.sin(x - phases.view(n, 1, 1))
        return [Task(x[i, :k], y[i, :k], x[i, k:], y[i, k:]) for i in range(n)]

    def _uniform(self, shape: tuple[int, ...], bounds: tuple[float, float]) -> torch.Tensor:
        low, high = bounds
        u = torch.rand(shape, generator=self.generator, dtype=torch.float64)
        return (low + (high - low) * u).to(self.dtype)
