"""MetaSearchCV against a plain TPE search at the same budget, on real datasets.

Both arms are the same :class:`metaopt.MetaSearchCV` (same space, same cross-validation splits,
same scorer, same TPE seed); the baseline only sets ``n_warm=0``, so the comparison is between
the warm start and no warm start, not between two implementations.

Per dataset and seed: a stratified 75/25 train/test split (seeded); each arm searches on the
training part (``--trials`` trials, ``--cv`` folds, balanced accuracy, the knowledge base's
metric). For every budget in ``--budgets`` the best configuration among the first trials (a
search of that budget: trials do not depend on the total) is refitted on the training part and
scored on the test part. Reported: the best CV score and the held-out test score.

The knowledge base is honest for each dataset: every dataset of the shipped knowledge base that
is the evaluated one (the same content fingerprint, or the same number of rows, features and
classes, which catches edited copies such as scikit-learn's iris and OpenML's) is dropped from
the knowledge the warm start uses (``KnowledgeBase.without``).

Datasets: scikit-learn's bundled breast_cancer, wine, digits and iris always; with the shared
data present (``METAOPT_SHARED``), also the OpenML datasets of ``--openml`` (rows capped at
``--max-rows`` by a stratified seeded subsample).

Usage::

    python experiments/search_cv.py [--trials 20] [--budgets 5 10 20] [--seeds 3] [--cv 3]
        [--space hist_gradient_boosting] [--openml 31 54 59] [--max-rows 2000]
        [--results-dir experiments/results/search_cv] [--resume]
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import balanced_accuracy_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from tqdm import tqdm  # noqa: E402

import metaopt  # noqa: E402
from metaopt import MetaSearchCV, knowledge, spaces  # noqa: E402
from metaopt._settings import shared_dir  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "search_cv"
SKLEARN = ("breast_cancer", "wine", "digits", "iris")
ARMS = {"metaopt": 10, "tpe": 0}  # arm -> n_warm


def _datasets(openml_ids: list[int], max_rows: int, cv: int) -> list[metaopt.Dataset]:
    found = [metaopt.load_dataset(f"sklearn:{name}") for name in SKLEARN]
    mirror = shared_dir() / "datasets" / "openml"
    if openml_ids and not mirror.is_dir():
        print(f"note: no shared data at {shared_dir()}: OpenML datasets skipped")
        return found
    for did in openml_ids:
        # Only ids of the shared data, as the help says: a missing one is skipped, not fetched.
        if not any(mirror.glob(f"{did}-*.arff*")):
            print(f"note: OpenML {did}: no {did}-<name>.arff in {mirror}: skipped")
            continue
        try:
            found.append(metaopt.load_dataset(f"openml:{did}"))
        except ValueError as error:
            print(f"note: OpenML {did} could not be loaded ({error}): skipped")
    return found


def _leave_out(kb: knowledge.KnowledgeBase, dataset: metaopt.Dataset) -> list[str]:
    """Knowledge-base datasets that are ``dataset`` (same content, or same shape and classes),
    with every dataset of their groups."""
    by_fingerprint = set(
        kb.evaluations.loc[kb.evaluations["fingerprint"] == dataset.fingerprint, "dataset"]
    )
    mf = kb.metafeatures
    same_shape = mf.index[
        (mf["general.n_instances"] == dataset.shape[0])
        & (mf["general.n_features"] == dataset.shape[1])
        & (mf["general.n_classes"] == dataset.n_classes)
    ]
    return sorted({m for d in by_fingerprint | set(same_shape) for m in kb.group_members(d)})


def _test_score(space_name: str, params: dict, split: tuple) -> float:
    X_train, X_test, y_train, y_test = split
    model = spaces.get(space_name).build(params).fit(X_train, y_train)
    return float(balanced_accuracy_score(y_test, model.predict(X_test)))


def _run_one(dataset, kb, space, seed, args) -> list[dict]:
    data = spaces.prepare(dataset, max_rows=args.max_rows, cv=args.cv, seed=seed)
    split = train_test_split(data.X, data.y, test_size=0.25, stratify=data.y, random_state=seed)
    rows = []
    for arm, n_warm in ARMS.items():
        search = MetaSearchCV(
            space,
            n_trials=args.trials,
            cv=args.cv,
            scoring="balanced_accuracy",
            n_warm=n_warm,
            knowledge=kb,
            refit=False,
            random_state=seed,
            n_jobs=1,
        )
        start = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(split[0], split[2])
        cpu = time.process_time() - start
        scores = np.nan_to_num(search.cv_results_["mean_test_score"], nan=-np.inf)
        for budget in args.budgets:
            best = int(np.argmax(scores[:budget]))
            rows.append(
                {
                    "dataset": dataset.name,
                    "source": dataset.source,
                    "arm": arm,
                    "seed": seed,
                    "budget": budget,
                    "cv_score": float(scores[best]),
                    "test_score": _test_score(space, search.cv_results_["params"][best], split),
                    "best_trial": best,
                    "search_cpu_s": cpu,
                    "curve": np.maximum.accumulate(scores).tolist(),
                }
            )
    return rows


def _command(argv: list[str]) -> str:
    """The command with its arguments as given: --results-dir too, so that rerunning it as
    written does not overwrite the committed results of the default folder."""
    return shlex.join(["python", "experiments/search_cv.py", *argv])


def _cached(path: Path, settings: dict) -> dict[str, list[dict]]:
    """Finished searches with these settings from an earlier run's ``runs.jsonl``."""
    if not path.is_file():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if entry["settings"] == settings:
            found[entry["key"]] = entry["rows"]
    return found


def _summary(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    mean = frame.groupby(["budget", "dataset", "arm"])[["cv_score", "test_score"]].mean()
    wide = mean.unstack("arm")
    table = pd.DataFrame(
        {
            "cv metaopt": wide[("cv_score", "metaopt")],
            "cv tpe": wide[("cv_score", "tpe")],
            "test metaopt": wide[("test_score", "metaopt")],
            "test tpe": wide[("test_score", "tpe")],
        }
    )
    table["test diff"] = table["test metaopt"] - table["test tpe"]
    pairs = frame.pivot_table(
        index=["budget", "dataset", "seed"], columns="arm", values=["cv_score", "test_score"]
    )
    totals = {}
    for budget, part in table.groupby(level="budget"):
        diff_cv = part["cv metaopt"] - part["cv tpe"]
        runs = pairs.loc[budget]
        totals[int(budget)] = {
            "datasets": len(part),
            "cv wins/ties/losses": _wtl(diff_cv),
            "test wins/ties/losses": _wtl(part["test diff"]),
            "mean cv diff": float(diff_cv.mean()),
            "mean test diff": float(part["test diff"].mean()),
            "searches": len(runs),
            "search cv wins/ties/losses": _wtl(
                runs[("cv_score", "metaopt")] - runs[("cv_score", "tpe")]
            ),
            "search test wins/ties/losses": _wtl(
                runs[("test_score", "metaopt")] - runs[("test_score", "tpe")]
            ),
        }
    return table, totals


def _wtl(diff: pd.Series, tol: float = 1e-9) -> str:
    return f"{int((diff > tol).sum())}/{int((diff.abs() <= tol).sum())}/{int((diff < -tol).sum())}"


def _totals_text(t: dict) -> str:
    return (
        f"metaopt vs tpe over {t['datasets']} datasets: CV wins/ties/losses "
        f"{t['cv wins/ties/losses']} (mean {t['mean cv diff']:+.4f}); test "
        f"{t['test wins/ties/losses']} (mean {t['mean test diff']:+.4f}). Per search "
        f"({t['searches']} dataset-seed pairs): CV {t['search cv wins/ties/losses']}, test "
        f"{t['search test wins/ties/losses']}."
    )


def _plot(frame: pd.DataFrame, path: Path) -> None:
    top = frame[frame["budget"] == frame["budget"].max()]
    names = list(dict.fromkeys(top["dataset"]))
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        for arm, color in (("metaopt", "tab:blue"), ("tpe", "tab:orange")):
            curves = np.array(
                top[(top["dataset"] == name) & (top["arm"] == arm)]["curve"].tolist()
            )
            curves[~np.isfinite(curves)] = np.nan
            x = np.arange(1, curves.shape[1] + 1)
            ax.plot(x, np.nanmean(curves, axis=0), color=color, label=arm)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("trials", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    axes[0, 0].set_ylabel("best CV balanced accuracy", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("MetaSearchCV (warm start) vs plain TPE: best CV score so far, mean of seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _markdown(table: pd.DataFrame, totals: dict, meta: dict) -> str:
    lines = [
        "# MetaSearchCV vs plain TPE (same MetaSearchCV, n_warm=0)",
        "",
        f"Space `{meta['space']}`, {meta['cv']}-fold CV, balanced accuracy, "
        f"{meta['seeds']} seeds (each seed: its own 75/25 split and TPE seed), "
        f"rows capped at {meta['max_rows']}. Test = held-out 25 %. Scores are means over seeds.",
        f"Knowledge left out per dataset: {json.dumps(meta['left_out'])}.",
        "",
    ]
    for budget, part in table.groupby(level="budget"):
        lines += [
            f"## {budget} trials",
            "",
            "| dataset | cv metaopt | cv tpe | test metaopt | test tpe | test diff |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for (_, name), row in part.iterrows():
            lines.append(
                f"| {name} | {row['cv metaopt']:.4f} | {row['cv tpe']:.4f} | "
                f"{row['test metaopt']:.4f} | {row['test tpe']:.4f} | {row['test diff']:+.4f} |"
            )
        t = totals[int(budget)]
        lines += ["", _totals_text(t), ""]
    lines.append(
        f"CPU time of the searches (both arms): {meta['cpu_minutes']:.1f} min. "
        f"Command: `{meta['command']}`"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per search (default 20)")
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        default=[5, 10, 20],
        help="budgets read (default 5 10 20)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--cv", type=int, default=3, help="cross-validation folds (default 3)")
    parser.add_argument(
        "--space", default="hist_gradient_boosting", help="search space (default %(default)s)"
    )
    parser.add_argument(
        "--openml",
        type=int,
        nargs="*",
        default=[31, 54, 59],
        help="OpenML ids from the shared data (default 31 54 59; skipped without it, and an id "
        "it lacks is skipped with a note)",
    )
    parser.add_argument(
        "--max-rows", type=int, default=2000, help="row cap per dataset (default 2000)"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS, help="output folder (default %(default)s)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the finished searches of an interrupted run (same settings; default off)",
    )
    args = parser.parse_args(argv)
    for flag, value, least in (
        ("--trials", args.trials, 1),
        ("--seeds", args.seeds, 1),
        ("--cv", args.cv, 2),
        ("--max-rows", args.max_rows, args.cv),
    ):
        if value < least:
            parser.error(f"{flag} must be >= {least}, got {value}")
    if args.space not in spaces.names():
        parser.error(f"unknown --space {args.space!r}; accepted: {', '.join(spaces.names())}")
    if not 1 <= min(args.budgets) or max(args.budgets) > args.trials:
        parser.error(
            f"--budgets must be between 1 and --trials ({args.trials}), got "
            + " ".join(map(str, args.budgets))
        )
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("metaopt").setLevel(logging.ERROR)
    kb_full = knowledge.load()
    datasets = _datasets(args.openml, args.max_rows, args.cv)
    rows: list[dict] = []
    left_out: dict[str, list[str]] = {}
    # The costliest dataset last. Finished (dataset, seed) searches are appended to runs.jsonl,
    # so an interrupted run can be resumed with --resume (same settings); the file is removed
    # when the run completes.
    datasets.sort(key=lambda d: d.shape[0] * d.shape[1] * (d.n_classes or 1))
    settings = {k: getattr(args, k) for k in ("trials", "cv", "space", "max_rows")}
    settings["budgets"] = list(args.budgets)
    cache = args.results_dir / "runs.jsonl"
    done = _cached(cache, settings) if args.resume else {}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(d, s) for d in datasets for s in range(args.seeds)]
    with threadpool_limits(1), cache.open("a" if args.resume else "w") as log:
        for dataset, seed in tqdm(jobs, desc="searches", unit="dataset-seed"):
            excluded = _leave_out(kb_full, dataset)
            left_out[dataset.name] = excluded
            key = f"{dataset.source}|{seed}"
            if key not in done:
                done[key] = _run_one(dataset, kb_full.without(excluded), args.space, seed, args)
                log.write(json.dumps({"key": key, "settings": settings, "rows": done[key]}))
                log.write("\n")
                log.flush()
            rows += done[key]
    frame = pd.DataFrame(rows)
    table, totals = _summary(frame)
    meta = {
        "space": args.space,
        "cv": args.cv,
        "seeds": args.seeds,
        "trials": args.trials,
        "max_rows": args.max_rows,
        "left_out": left_out,
        "cpu_minutes": frame.drop_duplicates(["source", "seed", "arm"])["search_cpu_s"].sum() / 60,
        "command": _command(sys.argv[1:] if argv is None else argv),
        "metaopt_version": metaopt.__version__,
    }
    out = args.results_dir
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "totals": totals, "runs": rows}, indent=1) + "\n"
    )
    (out / "summary.md").write_text(_markdown(table, totals, meta))
    _plot(frame, out / "curves.png")
    cache.unlink()
    print(table.round(4).to_string())
    for budget, t in totals.items():
        print(f"{budget} trials: {_totals_text(t)}")
    print(f"wrote {out}/summary.md, results.json, curves.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
