"""The OptunaHub package in optunahub/package/samplers/meta_sampler loads and runs a study."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

import metaopt
from metaopt.samplers import MetaSampler

optunahub = pytest.importorskip(
    "optunahub", reason="optunahub is not installed (it is part of the test extra)"
)

REGISTRY = Path(__file__).resolve().parents[1] / "optunahub" / "package"
PACKAGE = "samplers/meta_sampler"
FOLDER = REGISTRY / PACKAGE


def _load():
    return optunahub.load_local_module(package=PACKAGE, registry_root=str(REGISTRY))


def test_the_package_has_the_registry_layout() -> None:
    assert {"__init__.py", "README.md", "LICENSE", "requirements.txt"} <= {
        p.name for p in FOLDER.iterdir()
    }
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    header = re.match(r"---\n(.*?)\n---\n", readme, re.DOTALL)
    assert header, "README.md must start with the OptunaHub front matter"
    fields = dict(line.split(": ", 1) for line in header.group(1).splitlines())
    assert set(fields) == {"author", "title", "description", "tags", "optuna_versions", "license"}
    assert "sampler" in fields["tags"] and fields["license"] == "MIT License"
    assert "<" not in readme.split("```")[0], "OptunaHub strips HTML tags from README.md"
    assert (FOLDER / "LICENSE").read_text().startswith("MIT License")
    assert "metaopt-hpo" in (FOLDER / "requirements.txt").read_text().split()


def test_the_readme_signature_is_the_samplers_own() -> None:
    import inspect

    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    documented = re.search(r"`MetaSampler\((.*?)\)`", readme)
    assert documented, "README.md must show MetaSampler's signature"
    expected = []
    for parameter in inspect.signature(MetaSampler).parameters.values():
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and "*" not in expected:
            expected.append("*")
        expected.append(f"{parameter.name}={parameter.default!r}")
    assert documented.group(1) == ", ".join(expected)


def test_load_local_module_exposes_metasampler_and_runs_a_study() -> None:
    module = _load()
    assert module.__name__ == "optunahub_registry.package.samplers.meta_sampler"
    assert module.MetaSampler is MetaSampler
    dataset = metaopt.load_dataset("sklearn:iris")
    sampler = module.MetaSampler(dataset, space="knn", n_warm=2, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(metaopt.spaces.objective("knn", dataset, cv=3), n_trials=4)
    warm = [t for t in study.trials if "metaopt:warm_start" in t.user_attrs]
    assert [t.number for t in warm] == [0, 1]
    assert study.best_value > 0.9


@pytest.mark.slow
def test_the_readme_example_runs(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    # load_module fetches from GitHub; the local registry folder is the same package.
    monkeypatch.setattr(optunahub, "load_module", lambda package, **_: _load())
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    assert "learning_rate" in capsys.readouterr().out
