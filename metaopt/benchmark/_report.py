"""The summary of a benchmark folder: markdown and CSV tables, plots, and a short text version."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from metaopt.benchmark._metrics import (
    mean_ranks,
    mean_regret,
    pool_bounds,
    regret_curves,
    trials_to_reach,
    worst_case,
)
from metaopt.benchmark._plots import plot_benchmark, plot_file_name
from metaopt.benchmark._provenance import code_version
from metaopt.benchmark._storage import TraceStore, slug

logger = logging.getLogger("metaopt.benchmark")

DEFAULT_BUDGETS = (1, 2, 5, 10, 25, 50, 100)
REFERENCE = "tpe"


def write_benchmark_info(root: str | Path, info: dict[str, object]) -> Path:
    """Store what the report needs about one benchmark (settings, skips, pool bounds)."""
    path = Path(root) / "benchmarks" / f"{slug(str(info['name']))}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, indent=1, default=str), encoding="utf-8")
    return path


def read_benchmark_infos(root: str | Path) -> dict[str, dict[str, object]]:
    """Every stored benchmark's info, by name."""
    infos = {}
    for path in sorted((Path(root) / "benchmarks").glob("*.json")):
        info = json.loads(path.read_text(encoding="utf-8"))
        infos[str(info["name"])] = info
    return infos


def summarise(
    root: str | Path,
    *,
    budgets: tuple[int, ...] = DEFAULT_BUDGETS,
    out_dir: str | Path | None = None,
    plots: bool = True,
    command: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Compute the metrics of every stored run under ``root`` and write the summary.

    Writes ``summary.md``, ``summary.csv`` (one row per benchmark, method and budget) and one PNG
    per benchmark into ``out_dir`` (default ``root``). ``command``, when given, is printed at the
    top as the way to regenerate the summary.

    Returns:
        The tables: ``regret``, ``ranks``, ``reach``, ``overhead``, ``worst``, ``summary``.
    """
    root = Path(root)
    out = Path(out_dir) if out_dir is not None else root
    out.mkdir(parents=True, exist_ok=True)
    traces = TraceStore(root).read()
    if traces.empty:
        raise ValueError(f"no stored runs under {root}/traces: run a benchmark first.")
    infos = read_benchmark_infos(root)
    # Runs stored for a dataset that the benchmark now skips (e.g. by older code) are not
    # summarised: the report counts that dataset as skipped.
    skipped = {
        (name, str(dataset))
        for name, info in infos.items()
        for dataset in info.get("skipped") or {}  # type: ignore[union-attr]
    }
    if skipped:
        traces = traces[
            [
                (b, d) not in skipped
                for b, d in zip(traces["benchmark"], traces["dataset"], strict=True)
            ]
        ]
        if traces.empty:
            raise ValueError(f"every stored run under {root}/traces is of a skipped dataset.")
    store = TraceStore(root)
    failed = {b: store.failures(b) for b in traces["benchmark"].unique()}
    # A method that crashed anywhere is left out of its benchmark's tables (and listed), so
    # that the other methods are still compared on every dataset.
    traces = traces[
        [
            m not in failed.get(b, {})
            for b, m in zip(traces["benchmark"], traces["method"], strict=True)
        ]
    ]
    traces, incomplete = complete_datasets(traces)
    if traces.empty:
        raise ValueError(
            f"no dataset under {root}/traces has a run of every method for every seed yet "
            f"(incomplete: {len(incomplete)}); finish the runs, or summarise fewer methods."
        )
    other_code = _runs_by_other_code(traces)
    known = known_bounds(infos)
    bounds = pool_bounds(traces, known)
    # Each benchmark is padded to its own longest run, not to the longest of all benchmarks.
    curves = pd.concat(
        [regret_curves(part, bounds) for _, part in traces.groupby("benchmark")],
        ignore_index=True,
    )
    regret = mean_regret(curves)
    ranks = mean_ranks(curves)
    reach = trials_to_reach(curves, reference=REFERENCE, reference_budget=50)
    overhead = overhead_table(traces)
    worst = pd.concat(
        [
            worst_case(curves[curves["benchmark"] == b], m, REFERENCE, 50)
            for b in curves["benchmark"].unique()
            for m in sorted(curves.loc[curves["benchmark"] == b, "method"].unique())
            if m.startswith("metasampler")
        ]
        or [pd.DataFrame()],
        ignore_index=True,
    )
    summary = _summary_table(regret, ranks, budgets)
    summary.to_csv(out / "summary.csv", index=False)
    lines = ["# Benchmark summary", ""]
    if command:
        lines += [f"Regenerate with `{command}` (stored runs are reused).", ""]
    lines += [
        "Normalised regret is (best - found) / (best - worst) within each dataset's evaluated "
        "pool (HPO-B's definition; live mode: the best and worst score any run reached). "
        "Means are over datasets (seeds averaged first), with 95% confidence half-widths over "
        "datasets. Ranks: 1 is best, per dataset and seed, then averaged. Leave-one-dataset-out: "
        "every learned component was fitted without the evaluated dataset and its duplicates.",
        "",
    ]
    for benchmark in sorted(curves["benchmark"].unique()):
        if plots:
            plot_benchmark(regret, ranks, benchmark, out / plot_file_name(benchmark))
        lines += _benchmark_section(
            benchmark,
            infos.get(benchmark, {}),
            curves[curves["benchmark"] == benchmark],
            summary[summary["benchmark"] == benchmark],
            reach[reach["benchmark"] == benchmark] if not reach.empty else reach,
            overhead[overhead["benchmark"] == benchmark],
            worst[worst["benchmark"] == benchmark] if not worst.empty else worst,
            budgets,
            plots,
            incomplete.get(benchmark, []),
            failed.get(benchmark, {}),
            other_code.get(benchmark, {}),
        )
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "regret": regret,
        "ranks": ranks,
        "reach": reach,
        "overhead": overhead,
        "worst": worst,
        "summary": summary,
    }


def _runs_by_other_code(traces: pd.DataFrame) -> dict[str, dict[str, tuple[int, int]]]:
    """Per benchmark and method, how many of its runs other code than this made, of how many.

    A run's code is :func:`~metaopt.benchmark.code_version` when it was stored; runs stored
    before that was recorded count as other code.
    """
    current = code_version()
    runs = traces.drop_duplicates(["benchmark", "method", "dataset", "seed"])
    codes = runs["code"] if "code" in runs.columns else pd.Series(np.nan, index=runs.index)
    other = codes.ne(current)
    found: dict[str, dict[str, tuple[int, int]]] = {}
    for (benchmark, method), flags in other.groupby([runs["benchmark"], runs["method"]]):
        if flags.any():
            found.setdefault(str(benchmark), {})[str(method)] = (int(flags.sum()), len(flags))
            logger.warning(
                "%s: %d of %d stored runs of %s were made by other code than this "
                "(delete them to rerun)",
                benchmark,
                int(flags.sum()),
                len(flags),
                method,
            )
    return found


def complete_datasets(traces: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Keep datasets where every method of the benchmark has every seed (e.g. a run stopped early).

    Returns:
        The kept traces, and per benchmark the datasets left out.
    """
    kept, left_out = [], {}
    for benchmark, part in traces.groupby("benchmark"):
        runs = part.groupby(["dataset", "method", "seed"]).size().reset_index()
        expected = runs["method"].nunique() * runs["seed"].nunique()
        per_dataset = runs.groupby("dataset").size()
        complete = set(per_dataset.index[per_dataset == expected])
        left_out[str(benchmark)] = sorted(set(per_dataset.index) - complete)
        kept.append(part[part["dataset"].isin(complete)])
    return pd.concat(kept, ignore_index=True), left_out


def overhead_table(traces: pd.DataFrame, trials: int = 100) -> pd.DataFrame:
    """Optimizer time per method over the first ``trials`` trials of each run (objective excluded).

    Columns: ``per_trial_ms`` (Optuna ask + suggest + tell, including the sampler's work, per
    trial), ``setup_ms`` (building the sampler and warm start of one run), ``prepare_s``
    (seed-independent work per held-out dataset, e.g. fitting the meta-model), and
    ``total_per_trial_ms``: everything a single study pays, per trial.
    """
    part = traces[traces["trial"] <= trials]
    runs = part.groupby(["benchmark", "method", "dataset", "seed"]).agg(
        total=("overhead_s", "sum"),
        setup=("setup_s", "first"),
        prepare=("prepare_s", "first"),
        trials=("trial", "max"),
    )
    runs = runs.fillna({"setup": 0.0, "prepare": 0.0})
    runs["per_trial_ms"] = 1000.0 * runs["total"] / runs["trials"]
    runs["setup_ms"] = 1000.0 * runs["setup"]
    runs["total_per_trial_ms"] = (
        1000.0 * (runs["total"] + runs["setup"] + runs["prepare"]) / runs["trials"]
    )
    table = runs.groupby(["benchmark", "method"]).agg(
        per_trial_ms=("per_trial_ms", "mean"),
        setup_ms=("setup_ms", "mean"),
        prepare_s=("prepare", "mean"),
        total_per_trial_ms=("total_per_trial_ms", "mean"),
        trials=("trials", "max"),
    )
    return table.reset_index()


def known_bounds(infos: dict[str, dict[str, object]]) -> pd.DataFrame:
    """The pools' best and worst recorded scores, from :func:`read_benchmark_infos`' records.

    Indexed by (benchmark, dataset) with columns ``best`` and ``worst``, as
    :func:`~metaopt.benchmark.pool_bounds` takes them; empty for live benchmarks.
    """
    rows = []
    for name, info in infos.items():
        for dataset, (best, worst) in dict(info.get("bounds") or {}).items():  # type: ignore[arg-type]
            rows.append({"benchmark": name, "dataset": dataset, "best": best, "worst": worst})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).set_index(["benchmark", "dataset"])


def _summary_table(
    regret: pd.DataFrame, ranks: pd.DataFrame, budgets: tuple[int, ...]
) -> pd.DataFrame:
    merged = regret.merge(ranks, on=["benchmark", "method", "trial"], how="left")
    # Every benchmark also reports its own final budget (e.g. 12 trials in a short live run).
    final = merged.groupby("benchmark")["trial"].transform("max")
    merged = merged[merged["trial"].isin(budgets) | (merged["trial"] == final)].rename(
        columns={"trial": "budget", "mean": "mean_regret", "n": "n_datasets", "rank": "mean_rank"}
    )
    return merged[
        ["benchmark", "method", "budget", "mean_regret", "ci95", "mean_rank", "n_datasets"]
    ].reset_index(drop=True)


def _benchmark_section(
    benchmark: str,
    info: dict[str, object],
    curves: pd.DataFrame,
    summary: pd.DataFrame,
    reach: pd.DataFrame,
    overhead: pd.DataFrame,
    worst: pd.DataFrame,
    budgets: tuple[int, ...],
    plots: bool,
    incomplete: list[str],
    failed: dict[str, dict[str, str]],
    other_code: dict[str, tuple[int, int]],
) -> list[str]:
    n_datasets = curves["dataset"].nunique()
    seeds = sorted(curves["seed"].unique())
    skipped = dict(info.get("skipped") or {})  # type: ignore[arg-type]
    lines = [f"## {benchmark}", ""]
    lines.append(
        f"Mode: {info.get('mode', '?')}. Datasets evaluated: {n_datasets}. Seeds: {len(seeds)}. "
        f"Trials per run: {int(curves['trial'].max())}. "
        f"Datasets skipped: {len(skipped)}."
    )
    for method, errors in sorted(failed.items()):
        kinds = Counter(errors.values())
        lines.append(
            f"**{method} failed** on {len(errors)} datasets and is left out of the tables below "
            "(rerun the command to retry it): "
            + "; ".join(f"`{error[:160]}` ({count})" for error, count in kinds.most_common(3))
            + "."
        )
    if other_code:
        lines.append(
            "**Stored runs made by other code than this** (an earlier version of metaopt; "
            "stored runs are reused, so delete a method's folder under `traces/` to rerun it): "
            + ", ".join(f"{m} {k} of {n}" for m, (k, n) in sorted(other_code.items()))
            + "."
        )
    if incomplete:
        lines.append(
            f"Left out because not every method and seed finished there: {len(incomplete)} "
            f"datasets ({', '.join(incomplete[:8])}{', ...' if len(incomplete) > 8 else ''})."
        )
    if info.get("note"):
        lines.append(f"{info['note']}")
    if skipped:
        reasons = Counter(_reason_kind(r) for r in skipped.values())
        lines.append(
            "Skipped because: "
            + "; ".join(f"{reason} ({count})" for reason, count in reasons.items())
            + "."
        )
    dropped = dict(info.get("dropped_rows") or {})  # type: ignore[arg-type]
    if dropped:
        lines.append(
            "Rows of the meta-dataset left out or merged: "
            + "; ".join(f"{reason} ({count})" for reason, count in dropped.items())
            + "."
        )
    lines.append("")
    final = int(curves["trial"].max())
    shown = sorted({b for b in budgets if b <= final} | {final})
    methods = list(summary.groupby("method")["mean_regret"].mean().sort_values().index)
    lines += ["Mean normalised regret (± 95% CI) after N trials:", ""]
    lines += _pivot_lines(
        summary, methods, shown, lambda r: f"{r['mean_regret']:.4f} ± {r['ci95']:.4f}"
    )
    lines += ["", "Mean rank after N trials (1 = best):", ""]
    lines += _pivot_lines(summary, methods, shown, lambda r: f"{r['mean_rank']:.2f}")
    if not reach.empty:
        lines += [
            "",
            f"Trials to reach TPE's regret at {min(50, int(curves['trial'].max()))} trials "
            "(aggregate: on the mean curve; per run: median over dataset x seed, and the share "
            "of runs that got there):",
            "",
            "| method | aggregate | median per run | runs reaching |",
            "| --- | --- | --- | --- |",
        ]
        for row in (
            reach.set_index("method")
            .loc[[m for m in methods if m in set(reach["method"])]]
            .itertuples()
        ):
            lines.append(
                f"| {row.Index} | {_count(row.aggregate)} | {_count(row.median_per_run)} | "
                f"{row.reached:.0%} |"
            )
    if not overhead.empty:
        lines += [
            "",
            f"Optimizer time (objective excluded) over the first {int(overhead['trials'].max())} "
            "trials of each run: Optuna ask/suggest/tell per trial, sampler set-up per run, "
            "seed-independent preparation per dataset (meta-model fit, warm-start list), and "
            "all of it per trial:",
            "",
            "| method | ms per trial | vs tpe | set-up ms | preparation s | total ms per trial | "
            "vs tpe |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        table = overhead.set_index("method")
        tpe = table.loc[REFERENCE] if REFERENCE in table.index else None
        for method in methods:
            if method not in table.index:
                continue
            row = table.loc[method]
            ratio = row["per_trial_ms"] / tpe["per_trial_ms"] if tpe is not None else np.nan
            total_ratio = (
                row["total_per_trial_ms"] / tpe["total_per_trial_ms"]
                if tpe is not None
                else np.nan
            )
            lines.append(
                f"| {method} | {row['per_trial_ms']:.2f} | {ratio:.2f}x | {row['setup_ms']:.1f} | "
                f"{row['prepare_s']:.2f} | {row['total_per_trial_ms']:.2f} | {total_ratio:.2f}x |"
            )
    lines += _goal_lines(summary, methods, worst, final)
    if plots:
        lines += ["", f"![{benchmark}]({plot_file_name(benchmark)})"]
    lines.append("")
    return lines


def _goal_lines(
    summary: pd.DataFrame, methods: list[str], worst: pd.DataFrame, final: int
) -> list[str]:
    metasamplers = [m for m in methods if m.startswith("metasampler")]
    if not metasamplers or REFERENCE not in methods:
        return []
    table = summary.set_index(["method", "budget"])
    budgets = sorted(summary["budget"].unique())
    lines = ["", "Meta-learned methods against the baselines:", ""]
    tpe_final = min(50, final)
    for method in metasamplers:
        at5 = table["mean_regret"].get((method, 5), np.nan)
        tpe50 = table["mean_regret"].get((REFERENCE, tpe_final), np.nan)
        verdict = "yes" if at5 <= tpe50 else "no"
        lines.append(
            f"- {method} after 5 trials as good as TPE after {tpe_final}: {verdict} "
            f"(regret {at5:.4f} vs {tpe50:.4f})."
        )
        early = [b for b in budgets if b <= 25]
        not_best = [
            b
            for b in early
            if table.loc[(method, b), "mean_rank"]
            > min(table.loc[(m, b), "mean_rank"] for m in methods if (m, b) in table.index)
        ]
        lines.append(
            f"- {method} has the best mean rank at every budget <= 25: "
            + ("yes." if not not_best else f"no, not at budgets {[int(b) for b in not_best]}.")
        )
        for rival in ("nearest+tpe", "portfolio+tpe", "ws-cmaes"):
            if rival not in methods:
                continue
            mine = [table.loc[(method, b), "mean_regret"] for b in budgets]
            theirs = [table.loc[(rival, b), "mean_regret"] for b in budgets]
            losses = [int(b) for b, a, r in zip(budgets, mine, theirs, strict=True) if a > r]
            ties = [int(b) for b, a, r in zip(budgets, mine, theirs, strict=True) if a == r]
            verdict = (
                "yes."
                if not losses and not ties
                else (f"no: worse at budgets {losses}, tied at {ties}.")
            )
            lines.append(
                f"- {method} beats {rival} (lower mean regret) at every budget: {verdict}"
            )
        if not worst.empty:
            mine = worst[worst["method"] == method]
            if not mine.empty:
                row = mine.iloc[0]
                head = (
                    f"- worst dataset for {method} vs TPE at {tpe_final} trials: {row['dataset']} "
                    f"(regret {row['method_regret']:.4f} vs {row['reference_regret']:.4f}, "
                    f"difference {row['difference']:+.4f}"
                )
                if mine["noise"].isna().any():
                    lines.append(
                        f"{head}); the noise cannot be estimated with one seed, so no dataset "
                        "is called worse than TPE by more than noise."
                    )
                else:
                    lines.append(
                        f"{head}, noise {row['noise']:.4f}, z = {row['z']:.1f}); datasets worse "
                        f"by more than 2 noise units: {int((mine['z'] > 2).sum())} of {len(mine)}."
                    )
    return lines


def _pivot_lines(summary: pd.DataFrame, methods: list[str], budgets: list[int], cell) -> list[str]:
    header = "| method | " + " | ".join(str(b) for b in budgets) + " |"
    lines = [header, "| --- |" + " --- |" * len(budgets)]
    table = summary.set_index(["method", "budget"])
    for method in methods:
        cells = [
            cell(table.loc[(method, b)]) if (method, b) in table.index else "" for b in budgets
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def _count(value: float) -> str:
    return "not reached" if value is None or not np.isfinite(value) else f"{int(value)}"


def _reason_kind(reason: str) -> str:
    # Group reasons that differ only by ids ("task 11 is not in ..." -> "task N is not in ...").
    import re

    # Only whole numbers, and never within a path (a folder such as "runs/data3" stays).
    return re.sub(
        r"\S+",
        lambda word: (
            word.group() if "/" in word.group() else re.sub(r"\b\d+\b", "N", word.group())
        ),
        reason,
    )


def brief(
    root: str | Path,
    tables: dict[str, pd.DataFrame],
    *,
    budgets: tuple[int, ...] = (1, 5, 10, 25, 50),
    shown_root: str | Path | None = None,
) -> str:
    """A short plain-text summary of :func:`summarise`'s tables, for a terminal.

    One table per benchmark (mean normalised regret after a few budgets and the final mean
    rank, best method first), then where the full report, the CSV and the plots are.

    Args:
        root: The benchmark folder :func:`summarise` wrote.
        tables: What :func:`summarise` returned.
        budgets: Budgets shown (plus each benchmark's final one).
        shown_root: How to print ``root`` (e.g. relative to the working directory).
    """
    root = Path(root)
    shown = Path(shown_root) if shown_root is not None else root
    summary = tables["summary"]
    infos = read_benchmark_infos(root)
    lines: list[str] = []
    for benchmark, part in summary.groupby("benchmark", sort=True):
        final = int(part["budget"].max())
        steps = sorted({b for b in budgets if b < final} | {final})
        info = infos.get(str(benchmark), {})
        seeds = len(info.get("seeds") or []) or "?"  # type: ignore[arg-type]
        lines.append(
            f"{benchmark}: {info.get('mode', '?')} mode, {int(part['n_datasets'].max())} "
            f"datasets x {seeds} seed{'' if seeds == 1 else 's'}, {final} trials per run"
        )
        lines.append(
            "  mean normalised regret after N trials (0 = the dataset's best, lower is better) "
            f"and mean rank after {final}"
        )
        if info.get("note"):
            lines.append(f"  data: {info['note']}")
        skipped = dict(info.get("skipped") or {})  # type: ignore[arg-type]
        if skipped:
            reasons = Counter(_reason_kind(r) for r in skipped.values())
            lines.append(
                f"  skipped {len(skipped)} datasets: "
                + "; ".join(f"{reason} ({count})" for reason, count in reasons.most_common(3))
                + ("; ..." if len(reasons) > 3 else "")
            )
        dropped = dict(info.get("dropped_rows") or {})  # type: ignore[arg-type]
        if dropped:
            lines.append(
                "  rows left out or merged: "
                + "; ".join(f"{reason} ({count})" for reason, count in dropped.items())
            )
        table = part.set_index(["method", "budget"])
        order = table.xs(final, level="budget")["mean_regret"].sort_values().index
        width = max(len("method"), *(len(m) for m in order))
        header = f"  {'method':<{width}}" + "".join(f"{b:>9}" for b in steps) + f"{'rank':>7}"
        lines += [header, "  " + "-" * (len(header) - 2)]
        for method in order:
            cells = "".join(
                f"{table.loc[(method, b), 'mean_regret']:>9.4f}"
                if (method, b) in table.index
                else f"{'':>9}"
                for b in steps
            )
            lines.append(
                f"  {method:<{width}}{cells}{table.loc[(method, final), 'mean_rank']:>7.2f}"
            )
        lines.append("")
    plots = sorted(root.glob("*.png"))
    lines.append(f"Full report (confidence intervals, overhead): {shown / 'summary.md'}")
    lines.append(f"Table: {shown / 'summary.csv'}")
    if plots:
        lines.append("Plots: " + ", ".join(str(shown / p.name) for p in plots))
    return "\n".join(lines)
