"""Optuna samplers that use metaopt's knowledge: :class:`MetaSampler`."""

from __future__ import annotations

from metaopt.samplers._mapping import fit_to_distribution
from metaopt.samplers._meta_sampler import MetaSampler, WarmStart

__all__ = ["MetaSampler", "WarmStart", "fit_to_distribution"]
