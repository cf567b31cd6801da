"""Putting metafeatures of very different magnitudes on one comparable scale."""

from __future__ import annotations

import numpy as np
import pandas as pd

# New datasets may lie outside the range seen in training; clipping keeps one extreme
# metafeature from dominating an L1 distance.
_CLIP = (-0.5, 1.5)


class MetafeatureScaler:
    """Signed-log then min-max scaling of metafeatures to about ``[0, 1]``; NaN -> column median.

    Metafeatures span orders of magnitude (row counts next to ratios), so they are compressed
    with ``sign(x) * log1p(|x|)`` before scaling. Columns that are constant or entirely missing
    in the training datasets carry no information and are dropped.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"rows": [10.0, 1000.0], "ratio": [0.1, 0.3]}, index=["a", "b"])
        >>> MetafeatureScaler().fit(frame).transform(frame).round(2).tolist()
        [[0.0, 0.0], [1.0, 1.0]]
    """

    def fit(self, metafeatures: pd.DataFrame) -> MetafeatureScaler:
        values = _compress(metafeatures.to_numpy(dtype=float))
        with np.errstate(all="ignore"):
            low = np.nanmin(np.where(np.isfinite(values), values, np.nan), axis=0)
            high = np.nanmax(np.where(np.isfinite(values), values, np.nan), axis=0)
        keep = np.isfinite(low) & np.isfinite(high) & (high > low)
        if not keep.any():
            raise ValueError(
                "no metafeature varies across the known datasets; cannot compare datasets"
            )
        self.columns_ = [c for c, k in zip(metafeatures.columns, keep, strict=True) if k]
        self.low_ = low[keep]
        self.span_ = (high - low)[keep]
        scaled = self._scale(values[:, keep])
        medians = np.nanmedian(scaled, axis=0)
        self.fill_ = np.where(np.isfinite(medians), medians, 0.5)
        return self

    def transform(self, metafeatures: pd.DataFrame | pd.Series) -> np.ndarray:
        """Scaled values, shape ``(n_datasets, n_kept_columns)`` (one row for a Series)."""
        frame = metafeatures.to_frame().T if isinstance(metafeatures, pd.Series) else metafeatures
        values = _compress(frame.reindex(columns=self.columns_).to_numpy(dtype=float))
        scaled = self._scale(values)
        return np.where(np.isfinite(scaled), scaled, self.fill_)

    def _scale(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.clip((values - self.low_) / self.span_, *_CLIP)


def _compress(values: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.sign(values) * np.log1p(np.abs(values))
