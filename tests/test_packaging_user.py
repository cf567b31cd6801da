"""What a user installing metaopt-hpo gets: metadata, the sdist's contents, typing, install lines.

These read ``pyproject.toml``, ``metaopt/__init__.py`` and the docs directly; the one test that
builds (the sdist, then the wheel from it) uses setuptools in a temporary copy of the sources.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import metaopt
from metaopt import _extras

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "metaopt"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
EXTRAS = set(PROJECT["optional-dependencies"])


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """Names bound under ``if TYPE_CHECKING:`` in metaopt/__init__.py: name -> (module, alias)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    ]
    assert len(blocks) == 1, "metaopt/__init__.py has one `if TYPE_CHECKING:` block"
    found: dict[str, tuple[str, str]] = {}
    for node in blocks[0].body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module or "", alias.asname or "")
    return found


def test_type_checkers_see_every_lazy_name_and_subpackage() -> None:
    # Lazy attributes come from a module __getattr__, which type checkers read as Any: without
    # these imports, `metaopt.MetaSearchCV(spac=...)` or `metaopt.benchmark.nope` type-check.
    imported = _type_checking_imports()
    missing = sorted((set(metaopt._LAZY) | set(metaopt.SUBMODULES)) - set(imported))
    assert not missing, f"not imported under TYPE_CHECKING in metaopt/__init__.py: {missing}"
    for name, module in metaopt._LAZY.items():
        assert imported[name][0] == module, (name, imported[name], module)
    for name in metaopt.SUBMODULES:
        module, alias = imported[name]
        # `from metaopt import x as x`: re-exported even under mypy --no-implicit-reexport.
        assert module == "metaopt" and (alias == name or name in metaopt.__all__), name


def test_version_has_one_source_and_matches_the_installed_metadata() -> None:
    assert "version" not in PROJECT, "the version is read from metaopt.__version__"
    assert "version" in PROJECT.get("dynamic", [])
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "metaopt.__version__"}
    assert importlib.metadata.version("metaopt-hpo") == metaopt.__version__


def _setuptools_floor() -> tuple[int, ...]:
    for requirement in PYPROJECT["build-system"]["requires"]:
        match = re.fullmatch(r"setuptools\s*>=\s*([\d.]+)", requirement.strip())
        if match:
            return tuple(int(part) for part in match.group(1).split("."))
    raise AssertionError("build-system.requires names no `setuptools>=` lower bound")


def test_license_is_an_spdx_expression_the_build_backend_supports() -> None:
    # The `{ text = ... }` table is deprecated: every build warns, and newer setuptools refuse it.
    assert PROJECT["license"] == "BSD-3-Clause"
    assert _setuptools_floor() >= (77,), "an SPDX `license` string needs setuptools>=77"
    # setuptools refuses a License classifier beside a license expression.
    assert not [c for c in PROJECT.get("classifiers", []) if c.startswith("License ::")]


def test_classifiers_name_the_supported_pythons_and_the_typing_marker() -> None:
    classifiers = PROJECT.get("classifiers", [])
    assert "Typing :: Typed" in classifiers  # metaopt/py.typed ships
    floor = re.fullmatch(r">=\s*3\.(\d+)", PROJECT["requires-python"])
    assert floor is not None, PROJECT["requires-python"]
    minors = sorted(
        int(c.rsplit(".", 1)[1])
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    assert minors and minors[0] == int(floor.group(1)), (minors, PROJECT["requires-python"])
    assert minors == list(range(minors[0], minors[-1] + 1)), minors


def test_every_missing_extra_message_names_an_extra_that_brings_the_module() -> None:
    # MissingExtraError says `pip install "metaopt-hpo[<extra>]"`: that extra must exist and
    # must install the module that was missing.
    extras = PROJECT["optional-dependencies"]
    for module, extra in _extras.EXTRA_OF.items():
        assert extra in EXTRAS, (module, extra)
        requirements = " ".join(extras[extra]).lower()
        assert re.search(rf"(^|[\s\[,]){re.escape(module)}([\s\[\],<>=!~;]|$)", requirements), (
            f"the [{extra}] extra does not install {module!r}: {extras[extra]}"
        )


_EXTRA_MENTION = re.compile(r"(?:metaopt-hpo|\.)\[([\w,\s-]+)\]")


def test_every_install_line_in_the_docs_names_an_existing_extra() -> None:
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    seen = set()
    for file in files:
        for match in _EXTRA_MENTION.finditer(file.read_text(encoding="utf-8")):
            for extra in match.group(1).split(","):
                seen.add(extra.strip())
                assert extra.strip() in EXTRAS, (
                    f"{file.relative_to(REPO)} installs the extra {extra.strip()!r}, which "
                    f"pyproject.toml does not define (extras: {sorted(EXTRAS)})"
                )
    assert {"test", "benchmark", "torch"} <= seen  # README's two commands and the docs


_BUILD_SDIST_THEN_WHEEL = """
import json, os, sys, tarfile
from pathlib import Path
from setuptools import build_meta

out = Path(sys.argv[1])
sdist = build_meta.build_sdist(str(out))
safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
with tarfile.open(out / sdist) as archive:
    archive.extractall(out / "unpacked", **safe)
(unpacked,) = (out / "unpacked").iterdir()
os.chdir(unpacked)  # the wheel is built from the unpacked sdist, as pip does
wheel = build_meta.build_wheel(str(out))
print(json.dumps({"sdist": sdist, "wheel": wheel}))
"""


def test_sdist_ships_the_package_data_and_no_tests_and_builds_the_wheel(tmp_path: Path) -> None:
    try:
        import setuptools
    except ModuleNotFoundError:
        pytest.skip("building the sdist needs setuptools")
    version = tuple(int(p) for p in re.findall(r"\d+", setuptools.__version__)[:2])
    if version < _setuptools_floor()[:2]:
        pytest.skip(f"setuptools {setuptools.__version__} is older than the build-system's floor")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "MANIFEST.in", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PACKAGE, source / "metaopt", ignore=ignore)
    shutil.copytree(REPO / "tests", source / "tests", ignore=ignore)
    out = tmp_path / "dist"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _BUILD_SDIST_THEN_WHEEL, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    built = json.loads(done.stdout.strip().splitlines()[-1])

    with tarfile.open(out / built["sdist"]) as archive:
        sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert not [n for n in sdist if n.startswith("tests/")], "the sdist ships (part of) tests/"
    assert not [n for n in sdist if "__pycache__" in n or n.endswith((".pyc", ".pkl"))]
    data = {
        path.relative_to(REPO).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in (".py", ".pyc")
    }
    assert {
        "metaopt/py.typed",
        "metaopt/knowledge/data/evaluations.parquet",
        "metaopt/knowledge/data/metafeatures.parquet",
        "metaopt/datasets/data/suites.json",
    } <= data
    assert data <= sdist, f"data files left out of the sdist: {sorted(data - sdist)}"

    with zipfile.ZipFile(out / built["wheel"]) as wheel:
        names = set(wheel.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        fields = wheel.read(metadata).decode("utf-8")
    assert data <= names, f"data files left out of the wheel: {sorted(data - names)}"
    assert {n.split("/")[0] for n in names} == {"metaopt", metadata.split("/")[0]}
    assert f"Version: {metaopt.__version__}\n" in fields
    assert "License-Expression: BSD-3-Clause\n" in fields
    # The BSD licence asks for its text to travel with every copy.
    assert "LICENSE" in sdist and any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-File: LICENSE\n" in fields
    assert "Requires-Dist: torch" in fields and 'extra == "torch"' in fields
