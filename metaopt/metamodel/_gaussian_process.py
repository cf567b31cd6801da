"""The study's own model: a Gaussian process with an RBF kernel, and its expected improvement."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class GaussianProcess:
    """A fitted zero-mean-after-centring Gaussian process with an RBF kernel."""

    points: np.ndarray
    lengthscale: float
    centre: float
    amplitude: float
    alpha: np.ndarray  # K^-1 (y - centre)
    cholesky: np.ndarray
    loo_mean: np.ndarray  # leave-one-out predictive means at the points

    def predict(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at ``queries``."""
        cross = self.amplitude * _rbf(queries, self.points, self.lengthscale)
        mean = self.centre + cross @ self.alpha
        solved = np.linalg.solve(self.cholesky, cross.T)
        variance = np.maximum(self.amplitude - (solved**2).sum(axis=0), 1e-12)
        return mean, np.sqrt(variance)


def _rbf(a: np.ndarray, b: np.ndarray, lengthscale: float) -> np.ndarray:
    d2 = (a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.exp(-np.maximum(d2, 0.0) / (2.0 * lengthscale**2))


def fit_gaussian_process(
    points: np.ndarray,
    values: np.ndarray,
    lengthscales: Sequence[float],
    noise: float = 0.05,
    amplitude: float | None = None,
) -> GaussianProcess:
    """The GP of ``lengthscales`` with the best leave-one-out log-likelihood.

    Args:
        points: Observed points.
        values: Observed values.
        lengthscales: Kernel length scales to choose from.
        noise: Observation noise as a share of the amplitude.
        amplitude: Prior variance of the kernel; ``None``: the values' variance.
    """
    centre = float(values.mean())
    amplitude = max(float(values.var()) if amplitude is None else amplitude, 1e-6)
    best: GaussianProcess | None = None
    best_score = -math.inf
    for lengthscale in lengthscales:
        kernel = amplitude * _rbf(points, points, lengthscale)
        kernel[np.diag_indices_from(kernel)] += noise * amplitude
        cholesky = np.linalg.cholesky(kernel)
        inverse = np.linalg.inv(kernel)
        alpha = inverse @ (values - centre)
        loo_var = 1.0 / np.diag(inverse)
        loo_mean = values - alpha * loo_var
        # Leave-one-out predictive log-likelihood (Rasmussen & Williams, eq. 5.10).
        score = float(np.sum(-0.5 * np.log(loo_var) - (values - loo_mean) ** 2 / (2 * loo_var)))
        if score > best_score:
            best_score = score
            best = GaussianProcess(
                points, lengthscale, centre, amplitude, alpha, cholesky, loo_mean
            )
    assert best is not None  # lengthscales is never empty
    return best


def gaussian_expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """``E[max(f - best, 0)]`` for ``f ~ N(mean, sd^2)``."""
    from scipy.stats import norm

    z = (mean - best) / sd
    return sd * (z * norm.cdf(z) + norm.pdf(z))
