"""``python -m metaopt``: the ``metaopt`` command line."""

from __future__ import annotations

import sys

from metaopt.cli import main

if __name__ == "__main__":
    sys.exit(main())
