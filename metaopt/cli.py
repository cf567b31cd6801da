"""The ``metaopt`` command line.

Example:
    ``metaopt suggest data.csv --target y --space random_forest -n 5 --json``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metaopt", description="Meta-learning for hyperparameter optimization."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    suggest = commands.add_parser(
        "suggest",
        help="the configurations to try first on a dataset",
        description="Print the n configurations of a search space to try first on a dataset, "
        "best first, from the knowledge base.",
    )
    suggest.add_argument(
        "dataset", help="a data file (csv, tsv, parquet, arff), openml:<id> or sklearn:<name>"
    )
    suggest.add_argument("--target", help="target column of a data file")
    suggest.add_argument(
        "--space",
        default="hist_gradient_boosting",
        help="search space name (default: %(default)s)",
    )
    suggest.add_argument("-n", type=int, default=5, help="how many configurations (default: 5)")
    suggest.add_argument("--model", help="meta-model: surrogate, nearest or portfolio")
    suggest.add_argument("--knowledge", help="directory of a knowledge base (default: shipped)")
    suggest.add_argument("--json", action="store_true", help="print JSON")
    suggest.add_argument(
        "--explain", action="store_true", help="also show scores, sources and nearest datasets"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    from metaopt._suggest import suggest

    try:
        result = suggest(
            args.dataset,
            space=args.space,
            n=args.n,
            knowledge=args.knowledge,
            model=args.model,
            explain=True,
            target=args.target,
        )
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"metaopt suggest: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        payload = result.to_dict() if args.explain else result.configs
        print(json.dumps(payload, indent=2))
    elif args.explain:
        print(result)
    else:
        for config in result.configs:
            print(json.dumps(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
