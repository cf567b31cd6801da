"""Suite definitions shipped with metaopt, so suites resolve without network."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def shipped_suites() -> dict[str, dict[str, object]]:
    """The shipped suite definitions, keyed by canonical name (e.g. ``"OpenML-CC18"``)."""
    text = resources.files("metaopt.datasets").joinpath("data/suites.json").read_text("utf-8")
    return json.loads(text)


def resolve_shipped_name(name: str) -> str | None:
    """Canonical name of a shipped suite for a name, alias or study id; None if not shipped."""
    wanted = name.strip().lower()
    for canonical, definition in shipped_suites().items():
        aliases = [str(a).lower() for a in definition.get("aliases", [])]  # type: ignore[union-attr]
        if wanted == canonical.lower() or wanted in aliases:
            return canonical
    return None


def cc18_dataset_for_task(task_id: int) -> int | None:
    """OpenML dataset id of an OpenML-CC18 task, or None when the task is not in CC18."""
    for entry in shipped_suites()["OpenML-CC18"]["tasks"]:  # type: ignore[union-attr]
        if int(entry["task_id"]) == task_id:
            return int(entry["dataset_id"])
    return None
