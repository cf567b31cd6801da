"""Latency of metaopt.suggest on a 10,000 x 50 dataset, metafeature extraction included.

``cold`` is the first call in a fresh process after ``import metaopt`` (it also loads the
knowledge base and fits the meta-model for the space); ``warm`` is the median of later calls
(each still extracts the dataset's metafeatures). Each model is measured in its own process.

Usage::

    python experiments/suggest_latency.py [--rows 10000] [--cols 50] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from metaopt._help import HelpFormatter

RESULTS = Path(__file__).resolve().parent / "results" / "suggest_latency"
# make_classification below: 10 informative and 2 redundant features need 12 columns.
MIN_COLS = 12
MIN_ROWS = 10

CHILD = """
import json, statistics, sys, time
import pandas as pd
from sklearn.datasets import make_classification
from metaopt._suggest import suggest
from metaopt.datasets import Dataset
from metaopt.metafeatures import extract_metafeatures
rows, cols, repeats, model, space, knowledge = sys.argv[1:7]
X, y = make_classification(int(rows), int(cols), n_informative=10, random_state=0)
X = pd.DataFrame(X, columns=[f"f{i}" for i in range(int(cols))])
# A new Dataset object for every call: a warm call describes a dataset it has not seen (the
# same Dataset object again reuses its description).
new = lambda: Dataset(X, pd.Series(y).astype("category"), "classification", "synthetic", "bench")
data = new()
kw = dict(space=space, n=5, model=None if model == "default" else model,
          knowledge=None if knowledge == "shipped" else knowledge)
t = time.perf_counter(); suggest(new(), **kw); cold = time.perf_counter() - t
warm = []
for _ in range(int(repeats)):
    fresh = new()
    t = time.perf_counter(); suggest(fresh, **kw); warm.append(time.perf_counter() - t)
extract = []
for _ in range(int(repeats)):
    t = time.perf_counter(); extract_metafeatures(data); extract.append(time.perf_counter() - t)
print(json.dumps({"cold": cold, "warm": statistics.median(warm),
                  "extract": statistics.median(extract)}))
"""


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Catch bad arguments here, not as a failed child process per model."""
    from metaopt import spaces
    from metaopt.metamodel import MODEL_NAMES

    if args.rows < MIN_ROWS:
        parser.error(f"--rows must be >= {MIN_ROWS}, got {args.rows}")
    if args.cols < MIN_COLS:
        parser.error(
            f"--cols must be >= {MIN_COLS} (the synthetic data has 10 informative and 2 "
            f"redundant features), got {args.cols}"
        )
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    unknown = [m for m in args.models if m != "default" and m not in MODEL_NAMES]
    if unknown:
        parser.error(
            f"unknown --models {', '.join(map(repr, unknown))}; accepted: default, "
            + ", ".join(MODEL_NAMES)
        )
    if args.space not in spaces.names():
        parser.error(f"unknown --space {args.space!r}; accepted: {', '.join(spaces.names())}")
    if args.knowledge != "shipped" and not Path(args.knowledge).is_dir():
        parser.error(f"--knowledge {args.knowledge!r} is not a folder (or 'shipped')")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--rows", type=int, default=10_000, help=f"rows of the synthetic dataset, >= {MIN_ROWS}"
    )
    parser.add_argument(
        "--cols", type=int, default=50, help=f"columns of the synthetic dataset, >= {MIN_COLS}"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per model")
    parser.add_argument("--space", default="hist_gradient_boosting", help="search space name")
    parser.add_argument(
        "--models",
        nargs="+",
        default=["default", "nearest", "portfolio", "surrogate"],
        help="meta-models timed ('default': the library's default)",
    )
    parser.add_argument("--knowledge", default="shipped", help="knowledge base dir or 'shipped'")
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    args = parser.parse_args(argv)
    _check(parser, args)
    load = os.getloadavg()[0]
    rows = []
    for model in args.models:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(args.rows),
                str(args.cols),
                str(args.repeats),
                model,
                args.space,
                args.knowledge,
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:  # its own error, not the child script CalledProcessError shows
            print(done.stderr.rstrip(), file=sys.stderr)
            print(
                f"error: timing model {model!r} failed (exit {done.returncode})", file=sys.stderr
            )
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((model, result))
    lines = [
        f"# metaopt.suggest latency ({args.rows} x {args.cols}, space {args.space!r}, n=5)",
        "",
        "| model | cold first call (s) | warm call (s) | metafeature extraction alone (s) |",
        "|---|---|---|---|",
        *[f"| {m} | {r['cold']:.2f} | {r['warm']:.2f} | {r['extract']:.2f} |" for m, r in rows],
        "",
        f"Machine: {os.cpu_count()} cores, load average {load:.1f} when the run started.",
        "",
        "Goal: well under 1 s (warm call, metafeature extraction included). A warm call of a "
        "model that uses the dataset's metafeatures (the default, nearest, surrogate) extracts "
        "them (no time budget, so the result never depends on the machine's load); the last "
        "column is that extraction alone. The cold call also imports the libraries' lazy "
        "parts, loads the knowledge base and fits the meta-model for the space.",
        "",
    ]
    text = "\n".join(lines)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(text)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = [m for m, _ in rows]
    positions = range(len(rows))
    ax.bar([p - 0.2 for p in positions], [r["cold"] for _, r in rows], 0.4, label="cold")
    ax.bar([p + 0.2 for p in positions], [r["warm"] for _, r in rows], 0.4, label="warm")
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(list(positions), names)
    ax.set_ylabel("seconds per suggest call")
    ax.set_title(f"suggest latency, {args.rows} x {args.cols}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=120)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
