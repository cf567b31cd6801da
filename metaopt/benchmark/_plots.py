"""PNG plots of benchmark results: mean normalised regret and mean rank against trials."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from metaopt._extras import require
from metaopt.benchmark._storage import slug


def plot_benchmark(
    regret: pd.DataFrame, ranks: pd.DataFrame, benchmark: str, path: str | Path
) -> Path:
    """Two panels for one benchmark: mean regret with 95% bands (log-log) and mean rank.

    Args:
        regret: :func:`~metaopt.benchmark.mean_regret` output.
        ranks: :func:`~metaopt.benchmark.mean_ranks` output.
        benchmark: Which benchmark to draw.
        path: PNG file to write.

    Returns:
        The written path.
    """
    matplotlib = require("matplotlib", "benchmark plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    part = regret[regret["benchmark"] == benchmark]
    rank_part = ranks[ranks["benchmark"] == benchmark]
    n_datasets = int(part["n"].max()) if not part.empty else 0
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for method, curve in part.groupby("method"):
        line = left.plot(curve["trial"], curve["mean"].clip(lower=1e-4), label=method)[0]
        low = (curve["mean"] - curve["ci95"]).clip(lower=1e-4)
        high = curve["mean"] + curve["ci95"]
        left.fill_between(curve["trial"], low, high, color=line.get_color(), alpha=0.15)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("trials")
    left.set_ylabel("mean normalised regret (95% CI)")
    left.set_title(f"{benchmark}: regret ({n_datasets} datasets)")
    left.grid(True, which="both", alpha=0.3)
    for method, curve in rank_part.groupby("method"):
        right.plot(curve["trial"], curve["rank"], label=method)
    right.set_xscale("log")
    right.set_xlabel("trials")
    right.set_ylabel("mean rank (lower is better)")
    right.set_title(f"{benchmark}: mean rank")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8, loc="best")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_file_name(benchmark: str) -> str:
    """PNG file name of one benchmark's plot."""
    return f"{slug(benchmark)}.png"
