"""Compare MetaSampler settings on the selection pools: the rule that chooses the defaults.

The runs come from the benchmark harness (``experiments/openml_suite.py`` on the knowledge
base's ``random_forest``, ``svm``, ``logistic_regression`` and ``knn`` pools, none of which the
benchmark reports), one output folder per command. This script reads their stored traces and
prints, for every method:

- mean normalised regret over trials 1-budget per pool, and the mean over the pools (the rule
  fixed beforehand: the lowest mean wins; a difference smaller than the spread between seeds
  is a tie, and the simpler setting stays);
- the mean regret over the pools after 1, 2, 5, 10, 25 and 50 trials, up to the budget, and
  after the budget itself;
- the rule's score per seed, to show whether a difference holds in every seed.

The budget defaults to the length of the shortest compared run, and a larger ``--budget`` is
refused: no regret is reported for trials a run never had. A ``FOLDER=NAME`` argument renames
the plain ``metasampler`` of that folder (e.g. the runs of the previous default); two folders
may not give the same method label. ``--methods`` is applied first; then only the
(benchmark, dataset, seed) runs present for every method are compared, and the output says how
many were compared and how many dropped.

Usage::

    python experiments/compare_settings.py runs/flat_selection=n_warm=2 runs/nwarm_selection
    python experiments/compare_settings.py ... --out experiments/results/transfer_settings/n_warm
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from metaopt._help import HelpFormatter
from metaopt.benchmark import (
    TraceStore,
    known_bounds,
    pool_bounds,
    read_benchmark_infos,
    regret_curves,
)

BUDGETS = (1, 2, 5, 10, 25, 50)
RUN = ["benchmark", "dataset", "seed"]


class SettingsError(ValueError):
    """A mistake in the command line or the folders, reported as a short message."""


@dataclass
class Comparison:
    """The regret curves compared, the budget they were cut at, and what the output must say."""

    curves: pd.DataFrame
    budget: int
    notes: list[str] = field(default_factory=list)


def read_folder(spec: str) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The folder, its traces (``metasampler`` renamed as asked) and its pools' bounds."""
    folder, _, rename = spec.partition("=")
    if not Path(folder).is_dir():
        raise SettingsError(
            f"{folder} is not a folder; give harness output folders (FOLDER or FOLDER=NAME)"
        )
    traces = TraceStore(folder).read()
    if traces.empty:
        raise SettingsError(
            f"no stored runs under {folder}/traces; run the harness first "
            "(experiments/openml_suite.py --out FOLDER)"
        )
    bounds = pool_bounds(traces, known_bounds(read_benchmark_infos(folder)))
    if rename:
        held = sorted(traces["method"].unique())
        # A NAME that renames nothing would leave the label the user meant to set unused.
        if "metasampler" not in held:
            raise SettingsError(
                f"{spec}: NAME renames the folder's plain metasampler, which {folder} does not "
                f"hold; it holds {held}"
            )
        if rename in held:
            raise SettingsError(f"{spec}: {folder} already holds a method named {rename!r}")
        traces = traces.assign(method=traces["method"].replace({"metasampler": rename}))
    return folder, traces, bounds


def load_curves(
    folders: list[str], budget: int | None = None, methods: list[str] | None = None
) -> Comparison:
    """Regret curves of the runs in ``folders`` (``FOLDER`` or ``FOLDER=NAME``) to compare.

    ``methods`` (labels after renaming) is applied first; then only the (benchmark, dataset,
    seed) runs every method has are kept. ``budget`` defaults to the shortest kept run's length
    and may not exceed it, so that no run's last regret is carried over trials it never had.
    """
    read = [read_folder(spec) for spec in folders]
    sources: dict[str, list[str]] = {}
    for folder, traces, _ in read:
        for method in traces["method"].unique():
            sources.setdefault(method, []).append(folder)
    if methods:
        unknown = sorted(set(methods) - set(sources))
        if unknown:
            raise SettingsError(
                f"--methods names {unknown}, which the folders do not hold; they hold "
                f"{sorted(sources)}"
            )
        read = [(folder, t[t["method"].isin(methods)], b) for folder, t, b in read]
        sources = {method: sources[method] for method in sorted(set(methods))}
    # Runs of one label from two folders would be averaged together as one setting.
    renamed = {"metasampler"} | {spec.partition("=")[2] for spec in folders}
    for method, where in sources.items():
        if len(where) > 1:
            fix = (
                "give each folder its own label with FOLDER=NAME"
                if method in renamed
                else "FOLDER=NAME relabels only metasampler, so leave it out with --methods"
            )
            raise SettingsError(
                f"method {method!r} comes from {len(where)} folders ({', '.join(where)}); {fix}"
            )

    lengths = pd.concat(
        [t.groupby([*RUN, "method"])["trial"].max() for _, t, _ in read if not t.empty]
    )
    per_run = lengths.groupby(level=RUN).size()
    common = per_run[per_run == len(sources)].index
    kept = lengths[lengths.index.droplevel("method").isin(common)]
    if kept.empty:
        counts = ", ".join(f"{m} {n}" for m, n in lengths.groupby(level="method").size().items())
        raise SettingsError(
            f"no (benchmark, dataset, seed) run is common to all {len(sources)} methods "
            f"(runs per method: {counts}); nothing to compare"
        )

    shortest = int(kept.min())
    benchmark, dataset, seed, method = kept.idxmin()
    if budget is None:
        budget = shortest
        notes = [
            f"Budget: {budget} trials, the shortest compared run's length (--budget not given)"
        ]
    elif budget > shortest:
        raise SettingsError(
            f"--budget {budget} is more than the compared runs have: the shortest has {shortest} "
            f"trials ({method} on {benchmark}/{dataset}, seed {seed}); give --budget {shortest} "
            "or less"
        )
    else:
        notes = [f"Budget: {budget} trials"]

    n_datasets = common.droplevel("seed").nunique()
    n_seeds = common.get_level_values("seed").nunique()
    grid = (
        f"{n_datasets} datasets x {n_seeds} seeds"
        if n_datasets * n_seeds == len(common)
        else f"{len(common)} (dataset, seed) runs over {n_datasets} datasets and {n_seeds} seeds"
    )
    dropped = lengths.groupby(level="method").size() - kept.groupby(level="method").size()
    note = (
        f"Compared: {len(sources)} methods on {grid}; dropped {int(dropped.sum())} runs as not "
        "common to every method"
    )
    if dropped.sum():
        note += " (" + ", ".join(f"{m} {n}" for m, n in dropped.items() if n) + ")"
    notes.append(note)

    frames = []
    for _, traces, bounds in read:
        keep = traces.set_index(RUN).index.isin(common)
        if keep.any():
            frames.append(regret_curves(traces[keep], bounds, budget))
    return Comparison(pd.concat(frames, ignore_index=True), budget, notes)


def tables(curves: pd.DataFrame, budget: int | None = None) -> dict[str, pd.DataFrame]:
    """The rule's table per pool, the regret at the budgets, and the rule per seed."""
    budget = int(budget or curves["trial"].max())
    per_dataset = (
        curves.groupby(["benchmark", "method", "dataset", "trial"])["regret"].mean().reset_index()
    )
    rule = per_dataset.groupby(["method", "benchmark"])["regret"].mean().unstack()
    rule["mean"] = rule.mean(axis=1)
    # The usual steps below the budget, then the budget itself.
    steps = [step for step in BUDGETS if step < budget] + [budget]
    at = per_dataset[per_dataset["trial"].isin(steps)]
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
        description=__doc__.split("\n")[0], formatter_class=HelpFormatter
    )
    parser.add_argument(
        "folders",
        nargs="+",
        help="harness output folders; FOLDER=NAME renames that folder's metasampler to NAME",
    )
    parser.add_argument(
        "--budget",
        type=int,
        help="trials per run compared, at most the shortest compared run's length "
        "(default: that length)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        help="compare only these methods, labels after renaming (default: every method)",
    )
    parser.add_argument(
        "--out", help="also write the tables as CSV files into this folder (default: none)"
    )
    args = parser.parse_args(argv)
    if args.budget is not None and args.budget < 1:
        parser.error(f"--budget must be at least 1, not {args.budget}")
    try:
        comparison = load_curves(args.folders, args.budget, args.methods)
    except SettingsError as error:
        parser.error(str(error))
    for note in comparison.notes:
        print(note)
    print()
    result = tables(comparison.curves, comparison.budget)
    titles = {
        "rule": f"Mean regret over trials 1-{comparison.budget} per pool (the rule):",
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
