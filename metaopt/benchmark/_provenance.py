"""Which code made a stored result: a hash of metaopt's own files."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

#: The installed ``metaopt`` package folder, whose files the hash covers.
PACKAGE = Path(__file__).resolve().parents[1]


@functools.cache
def code_version(*parts: str) -> str:
    """A short hash of metaopt's files (source and shipped data), or of its subpackages ``parts``.

    The benchmark stores it with every run, and with cached metafeatures, so that results made
    by other code are told apart from this code's instead of being mixed in silently. The same
    files give the same hash on any machine; compiled caches (``__pycache__``) do not count.

    Args:
        parts: Subpackage folders (``"metafeatures"``, ``"datasets"``, ...); none: the whole
            package.

    Example:
        >>> from metaopt.benchmark import code_version
        >>> len(code_version()), code_version("metafeatures") == code_version("metafeatures")
        (12, True)
    """
    for part in parts:
        if not (PACKAGE / part).is_dir():
            raise ValueError(
                f"code_version takes subpackage names of metaopt such as 'metafeatures', "
                f"got {part!r}"
            )
    roots = [PACKAGE / part for part in parts] if parts else [PACKAGE]
    digest = hashlib.sha256()
    for root in roots:
        files = sorted(
            path
            for path in root.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        )
        for path in files:
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]
