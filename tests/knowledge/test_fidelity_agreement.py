"""The build report's rank agreement of the base fidelity with full size."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "build_knowledge.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("build_knowledge", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _evaluations(dataset: str, base: list[float], full: list[float]) -> list[dict]:
    rows = []
    for fidelity, scores, n_rows in (("base", base, 2000), ("full", full, 8000)):
        for config_id, score in enumerate(scores):
            rows.append(
                {
                    "dataset": dataset,
                    "space": "svm",
                    "fidelity": fidelity,
                    "config_id": config_id,
                    "score": score,
                    "n_rows": n_rows,
                    "status": "ok",
                }
            )
    return rows


def test_agreement_skips_datasets_whose_scores_all_tie() -> None:
    ev = pd.DataFrame(
        _evaluations("same", [0.1, 0.2, 0.3, 0.4, 0.5], [0.2, 0.3, 0.4, 0.5, 0.6])
        + _evaluations("reversed", [0.1, 0.2, 0.3, 0.4, 0.5], [0.6, 0.5, 0.4, 0.3, 0.2])
        + _evaluations("perfect", [0.9, 0.95, 1.0, 1.0, 0.97], [1.0] * 5)
    )
    table = _load_script().fidelity_agreement(ev)
    assert table.loc["svm", "datasets"] == 2
    assert table.loc["svm", "min"] == pytest.approx(-1.0)
    assert table.loc["svm", "max"] == pytest.approx(1.0)
    assert table.loc["svm", "median"] == pytest.approx(0.0)
