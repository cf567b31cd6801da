"""Every code block of README.md and docs/*.md runs as written.

Each ```python block runs in a fresh interpreter in an empty temporary folder. A ```bash block
runs when every command in it is a ``metaopt`` command (they work offline and fast); the
``python experiments/<script>.py`` commands of other bash blocks are checked against the
script's ``--help`` (every flag they use exists), without running them.

A block's comment lines may carry markers:

- ``# docs-test: slow``: runs, marked slow;
- ``# docs-test: shared``: needs the shared data folder (``METAOPT_SHARED``); skipped with that
  reason when it is absent;
- ``# docs-test: skip <why>``: not run, e.g. because it needs network. The reason is required;
- ``# docs-test: continues``: a python block that continues the previous python block of its
  file (runs after it, in the same interpreter).

Every block starts a fresh interpreter, so these tests are slow (seconds each); they run in CI.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from metaopt._settings import shared_dir

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# A fence may be indented (inside a list item); its code is dedented.
FENCE = re.compile(r"^( *)```(\w+)[^\n]*\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"#\s*docs-test:\s*(\w+)\s*(.*)")
TIMEOUT_S = 600


@dataclass(frozen=True)
class Block:
    """One fenced code block."""

    file: Path
    line: int
    language: str
    code: str

    @property
    def markers(self) -> dict[str, str]:
        found = {}
        for line in self.code.splitlines():
            match = MARKER.search(line)
            if match:
                found[match.group(1)] = match.group(2).strip()
        return found

    @property
    def commands(self) -> list[str]:
        """Shell commands of a bash block (comments and blank lines dropped, ``\\`` joined)."""
        text = self.code.replace("\\\n", " ")
        return [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}"


def _blocks() -> list[Block]:
    blocks = []
    for file in DOCS:
        text = file.read_text(encoding="utf-8")
        previous = ""  # the code of the file's previous python block, with what it continues
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            code = textwrap.dedent(match.group(3))
            block = Block(file, line, match.group(2).lower(), code)
            if block.language == "python":
                if "continues" in block.markers:
                    block = Block(file, line, "python", previous + "\n" + code)
                previous = block.code
            blocks.append(block)
    return blocks


BLOCKS = _blocks()
PYTHON_BLOCKS = [b for b in BLOCKS if b.language == "python"]
SHELL_BLOCKS = [b for b in BLOCKS if b.language in ("bash", "sh", "shell", "console")]
METAOPT_BLOCKS = [
    b for b in SHELL_BLOCKS if b.commands and all(c.startswith("metaopt ") for c in b.commands)
]
SCRIPT_LINES = [
    (b, c)
    for b in SHELL_BLOCKS
    if b not in METAOPT_BLOCKS
    for c in b.commands
    if re.search(r"\bpython3? experiments/\w+\.py", c)
]


def _params(blocks: list[Block]) -> list[object]:
    params = []
    for block in blocks:
        marks = [pytest.mark.slow] if "slow" in block.markers else []
        params.append(pytest.param(block, id=block.id, marks=marks))
    return params


def _skip_if_marked(block: Block) -> None:
    markers = block.markers
    if "skip" in markers:
        if not markers["skip"]:
            pytest.fail(f"{block.id}: '# docs-test: skip' must say why the block cannot run")
        pytest.skip(f"{block.id}: {markers['skip']}")
    if "shared" in markers and not (shared_dir() / "README.md").is_file():
        pytest.skip(f"{block.id} needs the shared data folder (METAOPT_SHARED), absent here")


def _env() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env["METAOPT_SHARED"] = str(shared_dir())  # absolute: the blocks run in a temporary folder
    return env


def _check(done: subprocess.CompletedProcess[str], block: Block) -> None:
    assert done.returncode == 0, (
        f"{block.id} failed (exit {done.returncode}):\n{block.code}\n--- stderr ---\n"
        f"{done.stderr[-3000:]}"
    )


def test_every_markdown_file_has_its_blocks_found() -> None:
    # A guard on the extraction itself: README's three kinds of block are all seen.
    readme = [b for b in BLOCKS if b.file.name == "README.md"]
    assert {b.language for b in readme} >= {"python", "bash"}
    assert METAOPT_BLOCKS, "no runnable metaopt command block found"


@pytest.mark.slow
@pytest.mark.parametrize("block", _params(PYTHON_BLOCKS))
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    _skip_if_marked(block)
    script = tmp_path / "block.py"
    script.write_text(block.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    _check(done, block)


@pytest.mark.slow
@pytest.mark.parametrize("block", _params(METAOPT_BLOCKS))
def test_metaopt_command_block_runs(block: Block, tmp_path: Path) -> None:
    _skip_if_marked(block)
    cli = [sys.executable, "-m", "metaopt.cli"]
    for command in block.commands:
        done = subprocess.run(
            cli + shlex.split(command, comments=True)[1:],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        _check(done, block)
        assert done.stdout.strip(), f"{block.id}: {command!r} printed nothing"


@functools.cache
def _script_help(script: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / script), "--help"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, f"{script} --help failed:\n{done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("block", "command"),
    [pytest.param(b, c, id=f"{b.id}:{c.split('.py')[0].split('/')[-1]}") for b, c in SCRIPT_LINES],
)
def test_documented_script_flags_exist(block: Block, command: str) -> None:
    _skip_if_marked(block)
    for part in command.split("&&"):
        words = shlex.split(part, comments=True)
        starts = [i for i, w in enumerate(words[:-1]) if re.fullmatch(r"python3?", w)]
        if not starts:  # e.g. pip install
            continue
        words = words[starts[0] :]  # after a prefix such as `nice -n 10`
        script = words[1]
        assert (REPO / script).is_file(), f"{block.id}: {script} does not exist"
        help_text = _script_help(script)
        for flag in (w.split("=")[0] for w in words[2:] if w.startswith("--")):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text), (
                f"{block.id}: {script} has no option {flag}"
            )


def _readme_command(section: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    part = text.split(f"## {section}", 1)[1]
    block = FENCE.search(part)
    assert block is not None and block.group(2) == "bash", f"no bash block under {section}"
    return Block(REPO / "README.md", 0, "bash", block.group(3)).commands[0]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if line.strip() and line[0] != "#"]
    assert commands[-1] == _readme_command("Test it")
    assert "/work/" not in ci, ".ci/run names a path of one particular machine"


def test_readme_main_job_installs_what_it_needs() -> None:
    command = _readme_command("Run it")
    assert "pip install" in command and "experiments/openml_suite.py" in command
    assert "[benchmark]" in command  # plots and the CMA-ES baselines
