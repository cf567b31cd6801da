"""Per-dataset score normalisation, so that easy and hard datasets weigh the same."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

NORMALIZATIONS: tuple[str, ...] = ("rank", "minmax")


def normalize_scores(
    evaluations: pd.DataFrame,
    *,
    method: str = "rank",
    by: Sequence[str] = ("dataset", "space", "task"),
) -> pd.Series:
    """Scores rescaled to ``[0, 1]`` within each group (1 = best of the group).

    Failed evaluations (NaN score or a ``status`` other than ``"ok"``) get 0, the value of the
    worst configuration, so that models learn to avoid configurations that crash or time out.

    Args:
        evaluations: Knowledge-table rows with a ``score`` column (higher is better).
        method: ``"rank"`` (average rank scaled to ``[0, 1]``; robust to outliers) or
            ``"minmax"`` (linear between the group's worst and best score).
        by: Columns that define a group.

    Returns:
        A float Series aligned with ``evaluations``.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"dataset": ["a", "a", "a", "b", "b"],
        ...                      "score": [0.5, 0.9, 0.7, 0.1, 0.2]})
        >>> normalize_scores(rows, by=["dataset"]).tolist()
        [0.0, 1.0, 0.5, 0.0, 1.0]
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"unknown normalisation {method!r}; accepted: {list(NORMALIZATIONS)}")
    missing = [c for c in (*by, "score") if c not in evaluations.columns]
    if missing:
        raise ValueError(f"cannot normalise scores: columns {missing} are missing")
    score = pd.to_numeric(evaluations["score"], errors="coerce").astype(float)
    ok = score.notna() & np.isfinite(score)
    if "status" in evaluations.columns:
        ok &= evaluations["status"].fillna("ok").eq("ok")
    valid = score.where(ok)
    groups = [evaluations[c] for c in by]
    if method == "rank":
        ranks = valid.groupby(groups).rank(method="average")
        counts = valid.groupby(groups).transform("count")
        scaled = (ranks - 1.0) / (counts - 1.0)
        scaled = scaled.where(counts > 1, 1.0)
    else:
        low = valid.groupby(groups).transform("min")
        high = valid.groupby(groups).transform("max")
        span = high - low
        scaled = ((valid - low) / span.where(span > 0)).where(span > 0, 1.0)
    return scaled.where(ok, 0.0).astype(float).rename("normalized_score")
