"""Readers for data files: CSV, TSV (optionally gzip-compressed), parquet and ARFF."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

import arff  # liac-arff, the ARFF parser openml itself uses
import numpy as np
import pandas as pd

SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".csv",
    ".csv.gz",
    ".tsv",
    ".tsv.gz",
    ".tab",
    ".parquet",
    ".pq",
    ".arff",
    ".arff.gz",
)


def file_kind(path: Path) -> str | None:
    """``"csv"``, ``"tsv"``, ``"parquet"`` or ``"arff"`` for a supported file name, else None."""
    name = path.name.lower()
    for suffix, kind in (
        (".csv.gz", "csv"),
        (".tsv.gz", "tsv"),
        (".arff.gz", "arff"),
        (".csv", "csv"),
        (".tsv", "tsv"),
        (".tab", "tsv"),
        (".parquet", "parquet"),
        (".pq", "parquet"),
        (".arff", "arff"),
    ):
        if name.endswith(suffix):
            return kind
    return None


def read_arff(path: Path) -> tuple[pd.DataFrame, str | None]:
    """Read an ARFF file into a frame; nominal attributes become categoricals.

    Returns the frame and the name of the last attribute (ARFF's conventional target).
    """
    opener = _open_text_gz if path.name.lower().endswith(".gz") else _open_text
    with opener(path) as handle:
        content = arff.load(handle, encode_nominal=False, return_type=arff.DENSE)
    attributes = content["attributes"]
    names = [name for name, _ in attributes]
    frame = pd.DataFrame(content["data"], columns=names)
    for name, kind in attributes:
        if isinstance(kind, list):
            frame[name] = pd.Categorical(frame[name], categories=[str(v) for v in kind])
        elif str(kind).upper() in {"NUMERIC", "REAL", "INTEGER"}:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        else:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), np.nan)
    return frame, (names[-1] if names else None)


def _open_text(path: Path) -> IO[str]:
    return open(path, encoding="utf-8", errors="replace")


def _open_text_gz(path: Path) -> IO[str]:
    return gzip.open(path, "rt", encoding="utf-8", errors="replace")


def read_table(path: Path) -> tuple[pd.DataFrame, str | None]:
    """Read any supported data file; returns the frame and a default target column (or None)."""
    kind = file_kind(path)
    if kind is None:
        raise ValueError(
            f"cannot read {str(path)!r}: unsupported file type; accepted suffixes are "
            f"{', '.join(SUPPORTED_SUFFIXES)}."
        )
    if path.is_dir():
        raise ValueError(f"cannot read {str(path)!r}: it is a folder, not a data file.")
    if not path.is_file():
        raise ValueError(f"cannot read {str(path)!r}: no such file.")
    try:
        if kind == "arff":
            return read_arff(path)
        if kind == "parquet":
            return pd.read_parquet(path), None
        sep = "," if kind == "csv" else "\t"
        return pd.read_csv(path, sep=sep, na_values=["?"], low_memory=False), None
    except (arff.ArffException, ValueError, OSError, UnicodeDecodeError, KeyError) as error:
        raise ValueError(
            f"cannot read {str(path)!r} as {kind.upper()}: {type(error).__name__}: {error}"
        ) from error
