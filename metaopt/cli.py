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

from metaopt._help import HelpFormatter


def _parser() -> argparse.ArgumentParser:
    from metaopt import __version__

    parser = argparse.ArgumentParser(
        prog="metaopt",
        description="Meta-learning for hyperparameter optimization.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__}",
        help="print the version and exit",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    suggest = commands.add_parser(
        "suggest",
        help="the configurations to try first on a dataset",
        description="Print the n configurations of a search space to try first on a dataset, "
        "best first, from the knowledge base: one JSON object per line, or a JSON list with "
        "--json.",
        formatter_class=HelpFormatter,
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
    suggest.add_argument(
        "--space",
        default="hist_gradient_boosting",
        help="search space name",
    )
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
        # The library's messages name the Python argument; here it is the --target option.
        message = str(error).replace("pass target='column'", "pass --target COLUMN")
        print(f"metaopt suggest: error: {message}", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
