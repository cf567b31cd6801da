"""Package-level promises: importing needs no network, public names are re-exported, typed."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

import metaopt

_BLOCK_NETWORK_THEN_IMPORT = """
import socket

def refuse(*args, **kwargs):
    raise RuntimeError("network access during import")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import pkgutil, importlib
import metaopt
for module in pkgutil.walk_packages(metaopt.__path__, "metaopt."):
    importlib.import_module(module.name)
print("ok")
"""


def test_importing_every_module_touches_no_network() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _BLOCK_NETWORK_THEN_IMPORT],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_public_names_are_exported() -> None:
    for name in metaopt.__all__:
        assert getattr(metaopt, name) is not None, name


def test_py_typed_marker_ships() -> None:
    assert resources.files("metaopt").joinpath("py.typed").is_file()
