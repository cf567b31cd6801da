"""Compare MetaSampler settings on the selection pools: the rule that chooses the defaults.

The runs come from the benchmark harness (``experiments/openml_suite.py`` on the knowledge
base's ``random_forest``, ``svm``, ``logistic_regression`` and ``knn`` pools, none of which the
benchmark reports), one output folder per command. This script reads their stored traces and
prints, for every method:

- mean normalised regret over trials 1-50 per pool, and the mean over the pools (the rule
  fixed beforehand: the lowest mean wins; a difference smaller than the spread between seeds
  is a tie, and the simpler setting stays);
- the mean regret over the pools after 1, 2, 5, 10, 25 and 50 trials;
- the rule's score per seed, to show whether a difference holds in every seed.

A ``FOLDER=NAME`` argument renames the plain ``metasampler`` of that folder (e.g. the runs of
the previous default). Only (dataset, seed) runs present for every method are compared.

Usage::

    python experiments/compare_settings.py runs/flat_selection=n_warm=2 runs/nwarm_selection
    python experiments/compare_settings.py ... --out experiments/results/transfer_settings/n_warm
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from metaopt.benchmark import (
    TraceStore,
    known_bounds,
    pool_bounds,
    read_benchmark_infos,
    regret_curves,
)

BUDGETS = (1, 2, 5, 10, 25, 50)


def load_curves(folders: list[str], budget: int) -> pd.DataFrame:
    """Regret curves of every run in ``folders`` (``FOLDER`` or ``FOLDER=NAME``)."""
    frames = []
    for spec in folders:
        folder, _, rename = spec.partition("=")
        traces = TraceStore(folder).read()
        if traces.empty:
            raise ValueError(f"no stored runs under {folder}/traces; run the harness first")
        bounds = pool_bounds(traces, known_bounds(read_benchmark_infos(folder)))
        curves = regret_curves(traces, bounds, budget)
        if rename:
            curves["method"] = curves["method"].replace({"metasampler": rename})
        frames.append(curves)
    curves = pd.concat(frames, ignore_index=True)
    # Compare on the runs every method has.
    runs = curves.groupby(["benchmark", "dataset", "seed"])["method"].nunique()
    complete = runs[runs == curves["method"].nunique()].index
    keyed = curves.set_index(["benchmark", "dataset", "seed"])
    return keyed[keyed.index.isin(complete)].reset_index()


def tables(curves: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rule's table per pool, the regret at the budgets, and the rule per seed."""
    per_dataset = (
        curves.groupby(["benchmark", "method", "dataset", "trial"])["regret"].mean().reset_index()
    )
    rule = per_dataset.groupby(["method", "benchmark"])["regret"].mean().unstack()
    rule["mean"] = rule.mean(axis=1)
    at = per_dataset[per_dataset["trial"].isin(BUDGETS)]
    budgets = at.groupby(["method", "trial"])["regret"].mean().unstack()
    seeds = (
        curves.groupby(["seed", "method", "benchmark"])["regret"]
        .mean()
        .unstack()
        .mean(axis=1)
        .unstack()
    )
    return {"rule": rule, "budgets": budgets, "seeds": seeds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("folders", nargs="+", help="harness output folders (FOLDER[=NAME])")
    parser.add_argument("--budget", type=int, default=50, help="trials per run compared")
    parser.add_argument("--methods", nargs="+", help="compare only these methods (after renaming)")
    parser.add_argument("--out", help="also write the tables as CSV files into this folder")
    args = parser.parse_args(argv)
    curves = load_curves(args.folders, args.budget)
    if args.methods:
        unknown = sorted(set(args.methods) - set(curves["method"]))
        if unknown:
            raise ValueError(
                f"--methods names {unknown}, which the folders do not hold; they hold "
                f"{sorted(curves['method'].unique())}"
            )
        curves = curves[curves["method"].isin(args.methods)]
    result = tables(curves)
    titles = {
        "rule": f"Mean regret over trials 1-{args.budget} per pool (the rule):",
        "budgets": "Mean regret over the pools after N trials:",
        "seeds": "The rule per seed:",
    }
    for name, table in result.items():
        print(titles[name])
        print(table.round(4).to_string())
        print()
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in result.items():
            table.to_csv(out / f"{name}.csv")
        print(f"Tables: {out}/rule.csv, budgets.csv, seeds.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
