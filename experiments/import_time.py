"""Wall time of `import metaopt`, `metaopt --help` and `metaopt suggest` vs `python -c pass`.

Each command runs in a fresh interpreter ``--repeats`` times (after one warm-up run that fills
the OS file cache); the table reports the median wall time, its ratio to the median of
``python -c pass`` on the same machine at the same time (a loaded machine inflates both), and
the median CPU time (user + system), which depends less on what else the machine runs.
``python -X importtime`` then names the modules that dominate the import of the main entry
points (cumulative microseconds, as Python reports them).

Goal: ``import metaopt`` and ``metaopt --help`` under 1 s.

Example:
    python experiments/import_time.py                     # writes experiments/results/import_time
    python experiments/import_time.py --repeats 3 --no-suggest --out /tmp/import_time
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from metaopt._help import HelpFormatter

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "experiments" / "results" / "import_time"
GOAL_S = 1.0


def _commands(suggest: bool) -> dict[str, list[str]]:
    python = sys.executable
    cli = shutil.which("metaopt")
    cli_cmd = [cli] if cli else [python, "-m", "metaopt.cli"]
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "import metaopt": [python, "-c", "import metaopt"],
        "metaopt --help": [*cli_cmd, "--help"],
        "metaopt suggest --help": [*cli_cmd, "suggest", "--help"],
        "import metaopt; metaopt.suggest": [python, "-c", "import metaopt; metaopt.suggest"],
        "import metaopt; metaopt.MetaSampler": [
            python,
            "-c",
            "import metaopt; metaopt.MetaSampler",
        ],
        "experiments/openml_suite.py --help": [
            python,
            str(REPO / "experiments" / "openml_suite.py"),
            "--help",
        ],
    }
    if suggest:
        query = ["suggest", "sklearn:breast_cancer", "--space", "random_forest", "-n", "5"]
        commands["metaopt suggest (5 configs)"] = [*cli_cmd, *query]
        commands["metaopt suggest --explain"] = [*cli_cmd, *query, "--explain"]
    return commands


def _time(command: list[str], repeats: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system) of each timed run."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    walls, cpus = [], []
    for index in range(repeats + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
        elapsed = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        if index > 0:  # the first run warms the file cache
            walls.append(elapsed)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def _importtime(code: str, top: int) -> list[dict[str, object]]:
    """The ``top`` imported packages with the largest cumulative import time."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        rows.append(
            {"module": name.strip(), "self_us": int(self_us), "cumulative_us": int(cumulative_us)}
        )
    # Top-level packages (the first import of each) and metaopt's own modules.
    chosen = [
        r for r in rows if "." not in str(r["module"]) or str(r["module"]).startswith("metaopt")
    ]
    chosen.sort(key=lambda r: -int(r["cumulative_us"]))  # type: ignore[call-overload]
    seen: set[str] = set()
    chosen = [r for r in chosen if not (r["module"] in seen or seen.add(str(r["module"])))]
    return chosen[:top]


def _command(argv: list[str]) -> str:
    """The command line of this run, as a user would type it."""
    return " ".join(["python experiments/import_time.py", *map(shlex.quote, argv)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per command")
    parser.add_argument("--top", type=int, default=8, help="import-time offenders listed")
    parser.add_argument(
        "--no-suggest", action="store_true", help="skip timing `metaopt suggest` calls"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.top < 0:
        parser.error(f"--top must be >= 0, got {args.top}")
    commands = _commands(suggest=not args.no_suggest)
    results = {}
    for label, command in commands.items():
        walls, cpus = _time(command, args.repeats)
        results[label] = {
            "median_s": statistics.median(walls),
            "median_cpu_s": statistics.median(cpus),
            "runs_s": walls,
            "runs_cpu_s": cpus,
        }
        print(
            f"{label}: median {results[label]['median_s']:.3f} s wall, "
            f"{results[label]['median_cpu_s']:.3f} s CPU",
            flush=True,
        )
    base = results["python -c pass"]["median_s"]
    offenders = {
        code: _importtime(code, args.top)
        for code in ("import metaopt", "import metaopt; metaopt.suggest", "import metaopt.cli")
    }
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    payload = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1min_at_end": load[0],
        "repeats": args.repeats,
        "goal_s": GOAL_S,
        "commands": {
            k: " ".join(
                Path(c).name if i == 0 else c.replace(f"{REPO}/", "") for i, c in enumerate(v)
            )
            for k, v in commands.items()
        },
        "results": results,
        "importtime_top": offenders,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    lines = [
        "# Import and command-line start-up times",
        "",
        f"`{_command(sys.argv[1:] if argv is None else argv)}` (Python {payload['python']}, "
        f"{payload['cpus']} "
        f"CPUs, 1-minute load average {load[0]:.1f} at the end; median of {args.repeats} "
        "runs after one warm-up run; ratio against `python -c pass`).",
        "",
        "| command | median wall s | x `python -c pass` | median CPU s | goal < 1 s wall |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, row in results.items():
        goal = ""
        if label in ("import metaopt", "metaopt --help"):
            goal = "met" if row["median_s"] < GOAL_S else "missed"
        lines.append(
            f"| `{label}` | {row['median_s']:.3f} | {row['median_s'] / base:.1f} | "
            f"{row['median_cpu_s']:.3f} | {goal} |"
        )
    for code, rows in offenders.items():
        lines += [
            "",
            f'`python -X importtime -c "{code}"`: largest cumulative imports',
            "",
            "| module | cumulative ms |",
            "| --- | --- |",
        ]
        lines += [f"| {r['module']} | {int(r['cumulative_us']) / 1000:.1f} |" for r in rows]
    (args.out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
