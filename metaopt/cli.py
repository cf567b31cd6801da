"""The ``metaopt`` command line.

Example:
    ``metaopt suggest data.csv --target y --space random_forest -n 5 --json``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metaopt",
        description="Meta-learning for hyperparameter optimization.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    suggest = commands.add_parser(
        "suggest",
        help="the configurations to try first on a dataset",
        description="Print the n configurations of a search space to try first on a dataset, "
        "best first, from the knowledge base: one JSON object per line, or a JSON list with "
        "--json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    suggest.add_argument(
        "dataset",
        help="a data file (csv, tsv, parquet, arff), openml:<id>, openml-task:<id> or "
        "sklearn:<name>",
    )
    suggest.add_argument(
        "--target",
        default=None,
        help="target column of a data file (default: the file's own, or a column named "
        "target, class, y or label)",
    )
    suggest.add_argument("--space", default="hist_gradient_boosting", help="search space name")
    suggest.add_argument("-n", type=int, default=5, help="how many configurations")
    suggest.add_argument(
        "--model",
        default=None,
        help="meta-model: transfer, nearest, portfolio or surrogate (default: the library's "
        "default, transfer)",
    )
    suggest.add_argument(
        "--knowledge",
        default=None,
        metavar="DIR",
        help="directory of a knowledge base (default: the shipped one)",
    )
    suggest.add_argument("--json", action="store_true", help="print one JSON document")
    suggest.add_argument(
        "--explain",
        action="store_true",
        help="also show scores, sources and the nearest known datasets (slower: it always "
        "computes the dataset's metafeatures)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    try:
        lines = _suggest(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"metaopt suggest: error: {error}", file=sys.stderr)
        return 2
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped reading: not an error of ours. Point stdout at
        # devnull so that the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0


def _suggest(args: argparse.Namespace) -> list[str]:
    """The output lines of ``metaopt suggest``."""
    from metaopt import knowledge, load_dataset
    from metaopt._suggest import suggest

    kb = knowledge.load(args.knowledge)
    data = load_dataset(args.dataset, target=args.target)
    _check_covered(kb, args.space, data.task)
    result: Any = suggest(
        data,
        space=args.space,
        n=args.n,
        knowledge=kb,
        model=args.model,
        explain=args.explain,
    )
    if args.json:
        return [json.dumps(result.to_dict() if args.explain else result, indent=2)]
    if args.explain:
        return [str(result)]
    return [json.dumps(config) for config in result]


def _check_covered(kb: Any, space: str, task: str) -> None:
    """Raise ValueError when ``kb`` has no evaluations of ``space`` on ``task`` datasets."""
    covered = kb.evaluations.groupby(["space", "task"])["dataset"].nunique()
    if (space, task) in covered.index:
        return
    listing = ", ".join(f"{s} ({t}, {n} datasets)" for (s, t), n in covered.items())
    raise ValueError(
        f"the knowledge base has no {task} evaluations of space {space!r}, so it cannot "
        f"suggest for this {task} dataset; it covers: {listing}."
    )


if __name__ == "__main__":
    sys.exit(main())
