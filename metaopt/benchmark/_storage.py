"""Where finished runs live: one parquet trace per (benchmark, method, dataset, seed)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from metaopt.benchmark._provenance import code_version

TRACE_COLUMNS = [
    "benchmark",
    "dataset",
    "method",
    "seed",
    "trial",
    "score",
    "config_id",
    "status",
    "overhead_s",
    "setup_s",
    "prepare_s",
    "eval_s",
    "params",
    "code",  # metaopt's code_version() when the run was made
]


def slug(text: str) -> str:
    """A file-name-safe version of ``text`` (``openml-task:3`` -> ``openml-task_3``)."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text)


class TraceStore:
    """Per-trial traces of finished runs under ``<root>/traces``; a stored run is never redone.

    Each run is written atomically (temporary file, then rename) once all its trials are done,
    so a killed benchmark loses at most the runs in flight.

    Args:
        root: The benchmark's output folder.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, benchmark: str, method: str, dataset: str, seed: int) -> Path:
        """File of one run's trace."""
        return (
            self.root
            / "traces"
            / slug(benchmark)
            / slug(method)
            / f"{slug(dataset)}__seed{seed}.parquet"
        )

    def study_path(self, benchmark: str, method: str, dataset: str, seed: int) -> Path:
        """Optuna SQLite file of an unfinished live run (trial-level resume; removed when done)."""
        return (
            self.root
            / "studies"
            / slug(benchmark)
            / slug(method)
            / f"{slug(dataset)}__seed{seed}.db"
        )

    def failure_path(self, benchmark: str, method: str, dataset: str) -> Path:
        """Text file recording why a method failed on a dataset (removed once it succeeds)."""
        return self.root / "failures" / slug(benchmark) / slug(method) / f"{slug(dataset)}.txt"

    def record_failure(self, benchmark: str, method: str, dataset: str, text: str) -> None:
        """Remember that ``method`` crashed on ``dataset`` (it is retried on the next run)."""
        path = self.failure_path(benchmark, method, dataset)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def clear_failure(self, benchmark: str, method: str, dataset: str) -> None:
        """Forget an earlier failure of ``method`` on ``dataset``."""
        self.failure_path(benchmark, method, dataset).unlink(missing_ok=True)

    def failures(self, benchmark: str) -> dict[str, dict[str, str]]:
        """Recorded failures of one benchmark: method -> dataset file stem -> first error line."""
        found: dict[str, dict[str, str]] = {}
        for path in sorted((self.root / "failures" / slug(benchmark)).glob("*/*.txt")):
            lines = path.read_text(encoding="utf-8").strip().splitlines()
            found.setdefault(path.parent.name, {})[path.stem] = lines[-1] if lines else ""
        return found

    def done(self, benchmark: str, method: str, dataset: str, seed: int) -> bool:
        """Whether the run's trace is stored."""
        return self.path(benchmark, method, dataset, seed).is_file()

    def write(self, trace: pd.DataFrame) -> Path:
        """Store one run's trace (all rows share benchmark, method, dataset and seed)."""
        first = trace.iloc[0]
        path = self.path(first["benchmark"], first["method"], first["dataset"], int(first["seed"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        if "code" not in trace.columns:
            trace = trace.assign(code=code_version())
        trace[TRACE_COLUMNS].to_parquet(tmp, index=False)
        tmp.replace(path)
        return path

    def read(self, benchmark: str | None = None) -> pd.DataFrame:
        """All stored traces (of one benchmark, or all)."""
        base = self.root / "traces"
        pattern = f"{slug(benchmark)}/*/*.parquet" if benchmark else "*/*/*.parquet"
        files = sorted(base.glob(pattern))
        if not files:
            return pd.DataFrame(columns=TRACE_COLUMNS)
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
