"""docs/metafeatures.md documents every feature, and its examples run as printed."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from metaopt.metafeatures import feature_names
from metaopt.metafeatures._summary import SUMMARIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "metafeatures.md"


def test_every_feature_has_a_table_row() -> None:
    documented = set(re.findall(r"^\| `([a-z_0-9.<>]+)` \|", DOC.read_text(), re.M))
    expanded = set()
    for name in documented:
        if name.endswith(".<summary>"):
            expanded.update(name.replace("<summary>", how) for how in SUMMARIES)
        else:
            expanded.add(name)
    assert set(feature_names()) == expanded


def test_examples_print_what_the_page_says() -> None:
    text = DOC.read_text()
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        expected = [line[2:] for line in block.splitlines() if line.startswith("# ")]
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(block, str(DOC), "exec"), {})
        assert output.getvalue().splitlines() == expected
