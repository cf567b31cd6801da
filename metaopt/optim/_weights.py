"""Saving and loading meta-parameters as plain tensors (never a pickle)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from metaopt.optim._network import LSTMOptimizerNet

FORMAT = "metaopt-lstm-optimizer"
FORMAT_VERSION = 2
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "default.pt"


def save_weights(
    net: LSTMOptimizerNet, path: str | os.PathLike, *, provenance: Mapping[str, Any] | None = None
) -> Path:
    """Write ``net``'s architecture and meta-parameters to ``path``.

    The file holds only strings, numbers and tensors, so :func:`load_weights` reads it with
    ``torch.load(weights_only=True)``.

    Args:
        net: The network to save.
        path: Destination file (conventionally ``.pt``); parent folders are created.
        provenance: JSON-like facts about how the weights were made (command, seed, ...).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": net.config(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        # A JSON round trip keeps only plain types (torch.__version__ is a str subclass that
        # weights_only loading would reject).
        "provenance": json.loads(json.dumps(dict(provenance or {}), default=str)),
    }
    torch.save(payload, path)
    return path


def weights_to_net(payload: Mapping[str, Any], *, source: str = "weights") -> LSTMOptimizerNet:
    """Build a network from a payload as written by :func:`save_weights`."""
    if not isinstance(payload, Mapping) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{source} is not a metaopt LSTM optimizer weights file: expected a mapping with "
            f"format={FORMAT!r}, got {type(payload).__name__}"
            + (f" with format={payload.get('format')!r}" if isinstance(payload, Mapping) else "")
        )
    if payload.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{source} has weights format version {payload.get('version')!r}; this metaopt "
            f"reads version {FORMAT_VERSION} (version 1 files hold the earlier per-coordinate "
            "LSTM architecture, which was replaced: meta-train new weights with meta_train)"
        )
    config = dict(payload["config"])
    config["betas"] = tuple(config["betas"])
    # Files written before the horizon features existed hold networks without them.
    config.setdefault("horizon_aware", False)
    config.setdefault("validation_aware", False)
    net = LSTMOptimizerNet(**config)
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ValueError(f"{source} does not match its own architecture: {exc}") from exc
    return net


def load_weights(weights: str | os.PathLike | Mapping[str, Any] = "default") -> LSTMOptimizerNet:
    """Load meta-parameters.

    Args:
        weights: ``"default"`` for the shipped pretrained weights, a path to a file written by
            :func:`save_weights`, or such a file's loaded payload.

    Returns:
        A fresh :class:`LSTMOptimizerNet` on the CPU, in evaluation mode.

    Example:
        >>> net = load_weights("default")
        >>> net.hidden_size > 0
        True
    """
    if isinstance(weights, Mapping):
        return weights_to_net(weights).eval()
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(
            "weights must be 'default', a path, a payload mapping or an LSTMOptimizerNet, got "
            f"{type(weights).__name__}"
        )
    path = DEFAULT_WEIGHTS if str(weights) == "default" else Path(weights)
    if not path.is_file():
        raise ValueError(f"weights file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupted or foreign file: say which one
        raise ValueError(
            f"could not read LSTM optimizer weights from {path}: not a weights file written by "
            f"metaopt.optim.save_weights, or a corrupted one ({type(exc).__name__}: {exc})"
        ) from exc
    return weights_to_net(payload, source=str(path)).eval()
