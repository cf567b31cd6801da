"""Leave-one-group-out quality of the meta-models on the knowledge table itself.

For every space and every dataset of the knowledge base, each meta-model is fitted on the other
datasets, without every copy of the held-out one (its group: the same data under another name,
encoding, class subset or target, :attr:`metaopt.knowledge.KnowledgeBase.groups`), and ranks
configurations for the held-out one. ``nested`` is the default meta-model with its prior chosen
by nested leave-one-group-out: for each held-out dataset, the candidate settings are compared
by an inner 4-fold group cross-validation on the training datasets only, and the winner ranks
the held-out dataset; the report counts the settings chosen and compares ``nested`` with the
shipped settings (``transfer``) pair by pair. The ranking is restricted to the
configurations the held-out dataset was evaluated on (the surrogate ranks the table's
configurations, no fresh samples), so every suggestion has a measured score and no new model
fits are needed. Reported per model and budget k (first k suggestions):

- ``norm@k``: normalised score (per-dataset rank in [0, 1], 1 = best of the table) of the best of
  the first k suggestions, averaged over datasets;
- ``regret@k``: best score of the table minus best score of the first k, in metric units
  (balanced accuracy / r2);
- ``hit@k``: share of datasets where the table's best configuration is among the first k.

Baselines: ``random`` (expectation over uniform draws without replacement) and ``default`` (the
space's default configuration first, config_id 0, then random).

Each held-out dataset's novelty (its distance to the nearest known dataset over the typical one,
as ``suggest`` measures it) is recorded, and the report scores the rule of ranking novel
datasets by the portfolio instead of transfer, at fixed thresholds and with the threshold chosen
by nested leave-one-group-out (:func:`novelty_fallback`).

Usage::

    python experiments/metamodel_lodo.py                      # shipped knowledge base
    python experiments/metamodel_lodo.py --knowledge DIR      # a saved knowledge base
    python experiments/metamodel_lodo.py --task regression    # one task's datasets only
    python experiments/metamodel_lodo.py --build-dir ~/.cache/metaopt/knowledge-build
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

from metaopt._help import HelpFormatter  # noqa: E402
from metaopt.knowledge import own_size_rows  # noqa: E402
from metaopt.metafeatures import at_rows  # noqa: E402
from metaopt.metamodel import MODEL_NAMES, make_model, normalize_scores  # noqa: E402
from metaopt.metamodel._data import canonical_key, parse_params  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "metamodel_lodo"


def _load(args: argparse.Namespace):
    from metaopt import knowledge

    if args.build_dir:
        return knowledge.consolidate(Path(args.build_dir).expanduser())
    return knowledge.load(args.knowledge)


def at_scored_size(metafeatures: pd.Series, rows: pd.DataFrame) -> pd.Series:
    """The held-out dataset's metafeatures at the rows its table was scored on: a base table
    of a large dataset stands for a user's dataset of that many rows."""
    n_rows = float(rows["n_rows"].median()) if "n_rows" in rows else np.nan
    return at_rows(metafeatures, n_rows) if np.isfinite(n_rows) else metafeatures


def _random_best(norm: np.ndarray, k: int) -> float:
    """Expected max of k draws without replacement from ``norm``."""
    values = np.sort(norm)
    m = len(values)
    k = min(k, m)
    # P(max is the i-th smallest) = C(i-1, k-1) / C(m, k)
    from math import comb

    total = comb(m, k)
    return float(sum(values[i - 1] * comb(i - 1, k - 1) / total for i in range(k, m + 1)))


def _first_then_random_best(first: float, rest: np.ndarray, k: int) -> float:
    """Expected best of ``first`` and k - 1 draws without replacement from ``rest``."""
    if k <= 1 or len(rest) == 0:
        return float(first)
    # max(first, max of the draws) is the max of the draws from max(rest, first).
    return _random_best(np.maximum(rest, first), k - 1)


def evaluate(
    kb,
    budgets: list[int],
    spaces: list[str] | None,
    max_datasets: int | None,
    variants: dict[str, tuple[str, dict]] | None = None,
    nested: bool = True,
    nested_over: str = "temperature",
    models: list[str] | None = None,
    task: str | None = None,
):
    records = []
    chosen_settings: list[dict[str, str]] = []
    # Scored on the table the meta-models learn from: each dataset at its own size where every
    # configuration was evaluated there, else at the base fidelity.
    ev = own_size_rows(kb.evaluations).copy()
    if task is not None:
        ev = ev[ev["task"] == task]
    ev["norm"] = normalize_scores(ev).to_numpy()
    ev["key"] = [canonical_key(parse_params(p)) for p in ev["params"]]
    chosen_spaces = spaces or kb.spaces
    methods = {m: (m, {}) for m in (models or MODEL_NAMES)}
    methods.update(variants or {})
    fit_times: dict[str, list[float]] = {m: [] for m in methods}
    jobs = []
    for space in chosen_spaces:
        datasets = sorted(ev.loc[ev["space"] == space, "dataset"].unique())
        jobs.extend((space, d) for d in datasets[:max_datasets])
    kmax = max(budgets)
    for space, dataset in tqdm(jobs, desc="leave-one-group-out", unit="fit"):
        rows = ev[(ev["space"] == space) & (ev["dataset"] == dataset)]
        target_task = rows["task"].iloc[0]
        table = rows.set_index("key")
        ok = table[table["status"] == "ok"]
        if len(ok) < 2:
            continue
        best_score = ok["score"].max()
        best_key = ok["score"].idxmax()
        train = kb.without_group_of([dataset])
        target = at_scored_size(kb.metafeatures.loc[dataset], rows)
        rankings: dict[str, list[str]] = {}
        novelty = np.nan  # of the held-out dataset, as suggest measures it
        inner = ""
        if nested:
            choices = NESTED_OVER[nested_over]
            inner = _nested_choice(train, space, target_task, ev, choices)
            methods["nested"] = ("transfer", choices[inner])
            chosen_settings.append({"dataset": dataset, "space": space, "chosen": inner})
        for name, (base, params) in methods.items():
            model = make_model(base).set_params(**params)
            if base == "surrogate":
                model.set_params(n_candidates=0)
            start = time.perf_counter()
            model.fit(train, space)
            fit_times.setdefault(name, []).append(time.perf_counter() - start)
            if np.isnan(novelty) and model.uses_metafeatures:
                novelty = model.novelty(target, space=space, task=target_task)
            ranked = model.rank(target, n=len(table), space=space, task=target_task)
            keys = [canonical_key(c) for c in ranked]
            rankings[name] = [k for k in keys if k in table.index][:kmax]
        for name, keys in rankings.items():
            for k in budgets:
                top = table.loc[keys[:k]]
                top_ok = top[top["status"] == "ok"]
                records.append(
                    {
                        "space": space,
                        "dataset": dataset,
                        "method": name,
                        "k": k,
                        "norm": float(top["norm"].max()) if len(top) else 0.0,
                        "regret": float(best_score - top_ok["score"].max())
                        if len(top_ok)
                        else float(best_score - ok["score"].min()),
                        "hit": float(best_key in keys[:k]),
                        "novelty": novelty,
                        "setting": inner if name == "nested" else "",
                    }
                )
        norm = table["norm"].to_numpy()
        default = table[table["config_id"] == 0]
        for k in budgets:
            records.append(
                {
                    "space": space,
                    "dataset": dataset,
                    "method": "random",
                    "k": k,
                    "norm": _random_best(norm, k),
                    "regret": np.nan,
                    "hit": min(k, len(norm)) / len(norm),
                    "novelty": novelty,
                }
            )
            if len(default):
                rest = np.delete(norm, np.flatnonzero(table["config_id"] == 0))
                records.append(
                    {
                        "space": space,
                        "dataset": dataset,
                        "method": "default",
                        "k": k,
                        "norm": _first_then_random_best(float(default["norm"].iloc[0]), rest, k),
                        "regret": float(best_score - default["score"].iloc[0])
                        if k == 1 and default["status"].iloc[0] == "ok"
                        else np.nan,
                        "hit": np.nan,
                        "novelty": novelty,
                    }
                )
    if nested:
        fit_times.pop("nested", None)
        picks = pd.DataFrame(chosen_settings)
        print("nested choices:", picks["chosen"].value_counts().to_dict())
    return pd.DataFrame(records), {m: float(np.median(t)) for m, t in fit_times.items() if t}


#: Settings of the default meta-model that the nested selection chooses among.
NESTED_CHOICES: dict[str, dict] = {
    "uniform prior": {"similarity": "uniform"},
    "metafeature prior, temperature 0.0625": {"similarity": "metafeatures", "temperature": 0.0625},
    "metafeature prior, temperature 0.125": {"similarity": "metafeatures", "temperature": 0.125},
    "metafeature prior, temperature 0.25": {"similarity": "metafeatures", "temperature": 0.25},
    "metafeature prior, temperature 0.5": {"similarity": "metafeatures", "temperature": 0.5},
    "metafeature prior, temperature 1": {"similarity": "metafeatures", "temperature": 1.0},
    "metafeature prior, temperature 2": {"similarity": "metafeatures", "temperature": 2.0},
}


#: The size term of the default's prior (temperature as shipped): no term, or its widths.
SIZE_CHOICES: dict[str, dict] = {
    "no size term": {"size_width": None},
    **{f"size width {w:g}": {"size_width": w} for w in (0.5, 1.0, 2.0, 4.0)},
}
#: ``--nested-over``: which settings the nested selection chooses among.
NESTED_OVER = {"temperature": NESTED_CHOICES, "size": SIZE_CHOICES}


def _nested_choice(
    train, space: str, task: str, ev: pd.DataFrame, choices: dict[str, dict], folds: int = 4
) -> str:
    """The setting of ``choices`` with the best inner mean norm@3 on ``train``."""
    groups = train.groups
    names = sorted({groups[d] for d in train.datasets if d in groups})
    rng = np.random.default_rng(0)
    assignment = {g: int(i) % folds for i, g in enumerate(rng.permutation(names))}
    scores: dict[str, list[float]] = {label: [] for label in choices}
    for fold in range(folds):
        held = [d for d in train.datasets if assignment.get(groups.get(d, d)) == fold]
        held = [d for d in held if ((ev["space"] == space) & (ev["dataset"] == d)).any()]
        if not held:
            continue
        rows = train.evaluations[~train.evaluations["dataset"].isin(held)]
        # The prior only enters at ranking time: one fit serves every setting.
        model = make_model("transfer").fit(rows, space, metafeatures=train.metafeatures)
        for label, params in choices.items():
            model.set_params(**params)
            for dataset in held:
                table = ev[(ev["space"] == space) & (ev["dataset"] == dataset)].set_index("key")
                query = at_scored_size(train.metafeatures.loc[dataset], table)
                ranked = model.rank(query, n=3, space=space, task=task)
                keys = [k for k in (canonical_key(c) for c in ranked) if k in table.index]
                scores[label].append(float(table.loc[keys, "norm"].max()) if keys else 0.0)
    quality = {label: float(np.mean(v)) if v else -np.inf for label, v in scores.items()}
    return max(quality, key=lambda label: quality[label])


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join([str(frame.index.name or ""), *map(str, frame.columns)]) + " |"
    rule = "|---" * (len(frame.columns) + 1) + "|"
    body = [
        "| " + " | ".join([str(i), *map(str, row)]) + " |"
        for i, row in zip(frame.index, frame.to_numpy(), strict=True)
    ]
    return "\n".join([header, rule, *body])


def report(frame: pd.DataFrame, fit_times: dict[str, float], kb, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "per_dataset.csv", index=False)
    summary = frame.groupby(["method", "k"])[["norm", "regret", "hit"]].mean().unstack("k")
    order = [m for m in summary.index if m not in ("default", "random")]
    order += [m for m in ("default", "random") if m in summary.index]
    summary = summary.loc[order]
    budgets = sorted(frame["k"].unique())
    lines = [
        "# Meta-models, leave-one-group-out on the knowledge table",
        "",
        f"Knowledge base: {kb.evaluations['dataset'].nunique()} datasets, spaces "
        f"{sorted(frame['space'].unique())}, {len(frame[['space', 'dataset']].drop_duplicates())}"
        " held-out (space, dataset) pairs.",
        "",
        "| method | "
        + " | ".join(f"norm@{k}" for k in budgets)
        + " | "
        + " | ".join(f"regret@{k}" for k in budgets)
        + " | "
        + " | ".join(f"hit@{k}" for k in budgets)
        + " |",
        "|---|" + "---|" * (3 * len(budgets)),
    ]
    for method in order:
        cells = [f"{summary.loc[method, ('norm', k)]:.3f}" for k in budgets]
        cells += [f"{summary.loc[method, ('regret', k)]:.4f}" for k in budgets]
        cells += [f"{summary.loc[method, ('hit', k)]:.2f}" for k in budgets]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Median fit time per held-out dataset and space (s): "
        + ", ".join(f"{m} {t:.2f}" for m, t in fit_times.items()),
        "",
    ]
    per_space = frame[frame["k"] == 1].groupby(["space", "method"])["norm"].mean().unstack()
    lines += ["norm@1 per space:", "", _markdown(per_space.round(3)), ""]
    lines += nested_settings(frame)
    lines += novelty_fallback(frame, kb.groups)
    text = "\n".join(lines)
    (out / "results.md").write_text(text)
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in order:
        ax.plot(
            budgets, [summary.loc[method, ("norm", k)] for k in budgets], marker="o", label=method
        )
    ax.set_xlabel("first k suggestions")
    ax.set_ylabel("best normalised score (1 = best in table)")
    ax.set_xscale("log")
    ax.set_title("Leave-one-group-out on the knowledge table")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "norm_at_k.png", dpi=120)
    return text


def nested_settings(frame: pd.DataFrame) -> list[str]:
    """Report lines: the settings the nested choice picked, and its regret@k minus the shipped
    default's (``transfer``) per held-out pair, with the standard error of the mean."""
    if "nested" not in set(frame["method"]) or "transfer" not in set(frame["method"]):
        return []
    picked = frame.loc[(frame["method"] == "nested") & (frame["k"] == frame["k"].min())]
    counts = picked["setting"].value_counts()
    lines = [
        "Settings the nested choice picked (held-out pairs): "
        + ", ".join(f"{label} {n}" for label, n in counts.items()),
        "",
        "| k | nested minus transfer, regret@k | standard error | pairs |",
        "|---|---|---|---|",
    ]
    for k in sorted(frame["k"].unique()):
        at_k = frame[frame["k"] == k].pivot_table(
            index=["space", "dataset"], columns="method", values="regret"
        )
        diff = (at_k["nested"] - at_k["transfer"]).dropna()
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else np.nan
        lines.append(f"| {k} | {diff.mean():+.4f} | {se:.4f} | {len(diff)} |")
    return [*lines, ""]


#: Novelty thresholds above which ``suggest`` would rank by the portfolio instead of transfer.
FALLBACK_THRESHOLDS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, np.inf)


def _fallback_regret(pairs: pd.DataFrame, threshold: float) -> pd.Series:
    """Regret@1 of the rule: the portfolio where novelty exceeds ``threshold``, else transfer."""
    novel = pairs["novelty"] > threshold
    return pairs["portfolio"].where(novel, pairs["transfer"])


def novelty_fallback(frame: pd.DataFrame, groups: dict[str, str]) -> list[str]:
    """Report lines: does ranking novel datasets by the portfolio instead of transfer pay?

    The threshold is chosen by nested leave-one-group-out: for each held-out group, the
    threshold with the lowest mean regret@1 on every other group's pairs (ties: the larger
    threshold, fewer fallbacks) decides for the held-out group's pairs.
    """
    first = frame[(frame["k"] == 1) & frame["method"].isin(["transfer", "portfolio"])]
    if first["method"].nunique() < 2 or "novelty" not in first or first["novelty"].isna().all():
        return []
    pairs = first.pivot_table(index=["space", "dataset"], columns="method", values="regret").join(
        first.groupby(["space", "dataset"])["novelty"].first()
    )
    pairs = pairs.dropna().reset_index()
    pairs["group"] = [groups.get(d, d) for d in pairs["dataset"]]
    chosen = pd.Series(np.nan, index=pairs.index)
    picks: dict[float, int] = {}
    nested_fallbacks = 0
    for group, held in pairs.groupby("group").groups.items():
        inner = pairs[pairs["group"] != group]
        means = {t: float(_fallback_regret(inner, t).mean()) for t in FALLBACK_THRESHOLDS}
        best = min(means.values())
        threshold = max(t for t, m in means.items() if m <= best + 1e-12)
        picks[threshold] = picks.get(threshold, 0) + 1
        chosen[held] = _fallback_regret(pairs.loc[held], threshold)
        nested_fallbacks += int((pairs.loc[held, "novelty"] > threshold).sum())
    rules = {
        "transfer everywhere": (pairs["transfer"], 0),
        "portfolio everywhere": (pairs["portfolio"], len(pairs)),
    }
    for t in FALLBACK_THRESHOLDS[:-1]:
        fallbacks = int((pairs["novelty"] > t).sum())
        rules[f"portfolio above novelty {t:g}"] = (_fallback_regret(pairs, t), fallbacks)
    rules["nested choice"] = (chosen, nested_fallbacks)
    base = pairs["transfer"]
    lines = [
        "Novelty fallback: `suggest`'s rule of ranking a dataset unlike the known ones by the "
        "portfolio, on the same held-out pairs (novelty: the held-out dataset's distance to the "
        f"nearest known dataset over the typical one; {len(pairs)} pairs, of which "
        f"{int((pairs['novelty'] > 3).sum())} above 3, max {pairs['novelty'].max():.1f}). "
        "Mean regret@1, and the paired difference from transfer everywhere (standard error):",
        "",
        "| rule | regret@1 | vs transfer everywhere | pairs on the portfolio |",
        "|---|---|---|---|",
    ]
    for label, (regret, fallbacks) in rules.items():
        diff = regret - base
        lines.append(
            f"| {label} | {regret.mean():.4f} | {diff.mean():+.4f} "
            f"({diff.std(ddof=1) / np.sqrt(len(diff)):.4f}) | {fallbacks} |"
        )
    picked = ", ".join(f"{t:g}: {n}" for t, n in sorted(picks.items()))
    lines += ["", f"Thresholds the nested choice picked (threshold: outer groups): {picked}", ""]
    bins = pd.qcut(pairs["novelty"], 5, duplicates="drop")
    diff = (pairs["portfolio"] - pairs["transfer"]).groupby(bins, observed=True)
    table = pd.DataFrame(
        {
            "pairs": diff.size(),
            "portfolio - transfer": diff.mean().round(4),
            "se": (diff.std() / np.sqrt(diff.size())).round(4),
        }
    )
    table.index = [f"{b.left:.2f} to {b.right:.2f}" for b in table.index]
    table.index.name = "novelty"
    lines += ["Regret@1 of the portfolio minus transfer's, by novelty quintile:", ""]
    lines += [_markdown(table), ""]
    return lines


def _variants(parser: argparse.ArgumentParser, text: str) -> dict[str, tuple[str, dict]]:
    """``--variants``: JSON ``{"label": ["<model>", {options}]}``."""
    example = '{"label": ["surrogate", {"diversity": 0}]}'
    try:
        given = json.loads(text)
    except json.JSONDecodeError:
        parser.error(f"--variants must be JSON such as {example}, got {text!r}")
    if not isinstance(given, dict) or not all(
        isinstance(v, list) and len(v) == 2 and isinstance(v[1], dict) for v in given.values()
    ):
        parser.error(f"--variants must map labels to [model, options], such as {example}")
    unknown = sorted({v[0] for v in given.values()} - set(MODEL_NAMES))
    if unknown:
        parser.error(f"--variants names unknown models {unknown}; accepted: {list(MODEL_NAMES)}")
    return {k: (v[0], v[1]) for k, v in given.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--knowledge", default=None, help="knowledge base directory (default: the shipped one)"
    )
    parser.add_argument(
        "--build-dir",
        default=None,
        help="consolidate a knowledge build dir and evaluate it instead of --knowledge "
        "(default: not used)",
    )
    parser.add_argument(
        "--spaces", nargs="*", default=None, help="spaces to evaluate (default: all)"
    )
    parser.add_argument(
        "--task",
        choices=["classification", "regression"],
        default=None,
        help="evaluate only the datasets of this task (default: both)",
    )
    parser.add_argument(
        "--budgets",
        nargs="*",
        type=int,
        default=[1, 3, 5, 10],
        help="numbers of suggested configurations at which regret is reported",
    )
    parser.add_argument(
        "--max-datasets", type=int, default=None, help="datasets per space (default: all)"
    )
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    parser.add_argument(
        "--variants",
        default="{}",
        help='extra models as JSON {"label": ["surrogate", {"diversity": 0}]}',
    )
    parser.add_argument(
        "--models",
        nargs="*",
        default=["transfer", "nearest", "portfolio"],
        help=f"meta-models to evaluate, of {list(MODEL_NAMES)} (the surrogate is slow)",
    )
    parser.add_argument(
        "--no-nested", action="store_true", help="skip the nested choice of the default's prior"
    )
    parser.add_argument(
        "--nested-over",
        choices=sorted(NESTED_OVER),
        default="temperature",
        help="what the nested choice chooses: the prior's temperature, or its size term (at "
        "the shipped temperature)",
    )
    args = parser.parse_args(argv)
    if not args.budgets or min(args.budgets) < 1:
        parser.error(f"--budgets must be one or more numbers >= 1, got {args.budgets}")
    if args.max_datasets is not None and args.max_datasets < 1:
        parser.error(f"--max-datasets must be >= 1, got {args.max_datasets}")
    unknown = [m for m in args.models if m not in MODEL_NAMES]
    if unknown:
        parser.error(f"unknown --models {unknown}; accepted: {list(MODEL_NAMES)}")
    variants = _variants(parser, args.variants)
    try:
        kb = _load(args)
    except (ValueError, FileNotFoundError) as error:
        source = f"--build-dir {args.build_dir}" if args.build_dir else "--knowledge"
        parser.error(f"{source}: {str(error).strip(chr(39) + chr(34))}")
    unknown = [s for s in args.spaces or () if s not in kb.spaces]
    if unknown:
        parser.error(f"unknown --spaces {unknown}; the knowledge base holds {list(kb.spaces)}")
    frame, fit_times = evaluate(
        kb,
        args.budgets,
        args.spaces,
        args.max_datasets,
        variants,
        nested=not args.no_nested,
        nested_over=args.nested_over,
        models=args.models,
        task=args.task,
    )
    text = report(frame, fit_times, kb, Path(args.out))
    given = sys.argv[1:] if argv is None else argv
    (Path(args.out) / "command.json").write_text(
        json.dumps({"argv": ["experiments/metamodel_lodo.py", *given]})
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
