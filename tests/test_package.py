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


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )


def test_import_is_light_and_every_subpackage_is_an_attribute() -> None:
    done = _run(
        """
import sys
import metaopt
heavy = ("sklearn", "pandas", "optuna", "scipy", "torch", "matplotlib", "openml", "dask")
assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]
for name in metaopt.SUBMODULES:
    if name == "fewshot" and not hasattr(metaopt, name):
        continue
    module = getattr(metaopt, name)
    assert module.__name__ == f"metaopt.{name}", module
assert callable(metaopt.suggest) and callable(metaopt.load_dataset)
print("ok")
"""
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_unknown_attribute_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        metaopt.nope  # noqa: B018


def test_a_missing_extra_names_the_extra_to_install() -> None:
    done = _run(
        """
import sys


class Uninstalled:  # as if the [torch] and [benchmark] extras were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "matplotlib", "cmaes"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, Uninstalled())
import metaopt
from metaopt.exceptions import MissingExtraError
import importlib
direct = [lambda m=m: importlib.import_module(m) for m in ("metaopt.optim", "metaopt.fewshot")]
for get in (lambda: metaopt.optim, lambda: metaopt.maml, lambda: metaopt.LSTMOptimizer, *direct):
    try:
        get()
    except MissingExtraError as error:
        assert 'pip install "metaopt-hpo[torch]"' in str(error), error
    else:
        raise AssertionError("no error without torch")
from metaopt.spaces import TorchMLPClassifier
try:
    TorchMLPClassifier(epochs=1).fit([[0.0], [1.0]], [0, 1])
except MissingExtraError as error:
    assert "metaopt-hpo[torch]" in str(error) and "mlp" in str(error), error
else:
    raise AssertionError("the mlp space trained without torch")
import pandas as pd
from metaopt.benchmark._plots import plot_benchmark
try:
    plot_benchmark(pd.DataFrame(), pd.DataFrame(), "b", "b.png")
except MissingExtraError as error:
    assert "metaopt-hpo[benchmark]" in str(error), error
else:
    raise AssertionError("plotted without matplotlib")
from metaopt.benchmark import available_methods, resolve_methods
assert "cmaes" not in available_methods() and "tpe" in available_methods()
try:
    resolve_methods(["tpe", "ws-cmaes"])
except MissingExtraError as error:
    assert "metaopt-hpo[benchmark]" in str(error) and "ws-cmaes" in str(error), error
else:
    raise AssertionError("a CMA-ES method was accepted without cmaes")
print("ok")
"""
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_test_helpers_live_in_metaopt_testing_not_the_public_api() -> None:
    import metaopt.metamodel
    import metaopt.testing

    assert callable(metaopt.testing.toy_knowledge)
    assert callable(metaopt.testing.toy_knowledge_base)
    assert not hasattr(metaopt.metamodel, "toy_knowledge")
    assert "toy_knowledge" not in metaopt.metamodel.__all__
