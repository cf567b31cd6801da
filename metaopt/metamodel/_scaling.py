"""Putting metafeatures of very different magnitudes on one comparable scale."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

# New datasets may lie outside the range seen in training; clipping keeps one extreme
# metafeature from dominating an L1 distance.
_CLIP = (-0.5, 1.5)


class MetafeatureScaler:
    """Signed-log then min-max scaling of metafeatures to about ``[0, 1]``; NaN -> column median.

    Metafeatures span orders of magnitude (row counts next to ratios), so they are compressed
    with ``sign(x) * log1p(|x|)`` before scaling. Columns that are entirely missing in the
    training datasets are dropped, and so are constant ones unless nothing varies (a single
    known dataset).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"rows": [10.0, 1000.0], "ratio": [0.1, 0.3]}, index=["a", "b"])
        >>> MetafeatureScaler().fit(frame).transform(frame).round(2).tolist()
        [[0.0, 0.0], [1.0, 1.0]]
    """

    def fit(self, metafeatures: pd.DataFrame) -> MetafeatureScaler:
        values = _compress(metafeatures.to_numpy(dtype=float))
        values = np.where(np.isfinite(values), values, np.nan)
        with warnings.catch_warnings():
            # All-NaN columns are expected (undefined metafeatures); they are dropped below.
            warnings.simplefilter("ignore", RuntimeWarning)
            low = np.nanmin(values, axis=0)
            high = np.nanmax(values, axis=0)
        finite = np.isfinite(low) & np.isfinite(high)
        keep = finite & (high > low)
        if not keep.any():
            # One known dataset (or identical ones): nothing varies, so compare on every
            # defined metafeature in its raw compressed units.
            keep = finite
            high = np.where(finite, low + 1.0, high)
        if not keep.any():
            raise ValueError(
                "the known datasets have no defined metafeature to compare by (Portfolio() and "
                "TransferEnsemble(similarity='uniform') rank without metafeatures)"
            )
        self.columns_ = [c for c, k in zip(metafeatures.columns, keep, strict=True) if k]
        self.low_ = low[keep]
        self.span_ = (high - low)[keep]
        scaled = self._scale(values[:, keep])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nanmedian(scaled, axis=0)
        self.fill_ = np.where(np.isfinite(medians), medians, 0.5)
        return self

    def transform(
        self, metafeatures: pd.DataFrame | pd.Series, *, fill: bool = True
    ) -> np.ndarray:
        """Scaled values, shape ``(n_datasets, n_kept_columns)`` (one row for a Series).

        Missing values become the training median, or stay NaN with ``fill=False``.
        """
        frame = metafeatures.to_frame().T if isinstance(metafeatures, pd.Series) else metafeatures
        values = _compress(frame.reindex(columns=self.columns_).to_numpy(dtype=float))
        scaled = self._scale(values)
        if not fill:
            return np.where(np.isfinite(scaled), scaled, np.nan)
        return np.where(np.isfinite(scaled), scaled, self.fill_)

    def _scale(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.clip((values - self.low_) / self.span_, *_CLIP)


def _compress(values: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.sign(values) * np.log1p(np.abs(values))
