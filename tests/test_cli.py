"""The ``metaopt suggest`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import metaopt
from metaopt.cli import main
from metaopt.testing import toy_knowledge_base


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    datasets = {n: metaopt.load_dataset(f"sklearn:{n}") for n in ("iris", "wine", "breast_cancer")}
    toy_knowledge_base(datasets, space="knn", n_configs=10).save(directory / "kb")
    iris = datasets["iris"]
    frame = iris.X.assign(label=iris.y.astype(str))
    frame.to_csv(directory / "data.csv", index=False)
    return directory


def _args(setup, *extra: str) -> list[str]:
    return [
        "suggest",
        str(setup / "data.csv"),
        "--target",
        "label",
        "--space",
        "knn",
        "--knowledge",
        str(setup / "kb"),
        *extra,
    ]


def test_json_output_lists_n_configurations(setup, capsys) -> None:
    assert main(_args(setup, "-n", "3", "--json")) == 0
    configs = json.loads(capsys.readouterr().out)
    assert len(configs) == 3 and all(set(c) >= {"n_neighbors"} for c in configs)


def test_plain_and_explained_output(setup, capsys) -> None:
    assert main(_args(setup, "-n", "2")) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("n_neighbors" in json.loads(line) for line in lines)
    assert main(_args(setup, "-n", "2", "--explain", "--json")) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["space"] == "knn" and payload["nearest_datasets"][0]["dataset"] == "iris"
    assert main(_args(setup, "-n", "2", "--explain")) == 0
    assert "nearest known datasets: iris" in capsys.readouterr().out


def test_bad_input_exits_with_status_2_and_a_message(setup, capsys) -> None:
    assert main(_args(setup, "--model", "oracle")) == 2
    assert "unknown meta-model 'oracle'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["suggest"])


def test_module_entry_point_prints_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "metaopt.cli", "suggest", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "--target" in done.stdout
