"""The ``metaopt suggest`` command line."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import metaopt
from metaopt.cli import main
from metaopt.testing import toy_knowledge_base

REPO = Path(__file__).resolve().parents[1]


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


def test_package_entry_point_version_and_help_without_doubled_defaults() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "metaopt", "--version"], capture_output=True, text=True, timeout=120
    )
    assert version.returncode == 0 and version.stdout.strip() == f"metaopt {metaopt.__version__}"
    done = subprocess.run(
        [sys.executable, "-m", "metaopt", "suggest", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    help_text = " ".join(done.stdout.split())
    assert "(default: hist_gradient_boosting)" in help_text
    assert "(default: None)" not in help_text and "(default: False)" not in help_text


def test_a_missing_target_names_the_option(setup, capsys) -> None:
    (setup / "no_target.csv").write_text("a,b\n1,2\n3,4\n")
    assert main(["suggest", str(setup / "no_target.csv"), "--knowledge", str(setup / "kb")]) == 2
    err = capsys.readouterr().err
    assert "pass --target COLUMN" in err and "target='column'" not in err


def test_explain_is_opt_in(setup, capsys, monkeypatch) -> None:
    import metaopt._suggest

    calls = []
    real = metaopt._suggest.suggest

    def spy(*args, **kwargs):
        calls.append(kwargs["explain"])
        return real(*args, **kwargs)

    monkeypatch.setattr(metaopt._suggest, "suggest", spy)
    assert main(_args(setup, "-n", "2")) == 0
    assert main(_args(setup, "-n", "2", "--explain")) == 0
    assert calls == [False, True]
    capsys.readouterr()


def test_a_closed_pipe_is_not_a_traceback(setup) -> None:
    # `metaopt suggest ... | head -n 0`: the reader is gone before anything is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "metaopt.cli", *_args(setup, "-n", "5")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_task_the_knowledge_does_not_cover_lists_what_it_covers(setup, capsys) -> None:
    diabetes = metaopt.load_dataset("sklearn:diabetes")
    diabetes.X.assign(target=diabetes.y).to_csv(setup / "regression.csv", index=False)
    args = ["suggest", str(setup / "regression.csv"), "--space", "knn"]
    assert main([*args, "--knowledge", str(setup / "kb")]) == 2
    err = capsys.readouterr().err
    assert "no regression evaluations of space 'knn'" in err
    assert "knn (classification, 3 datasets)" in err


def _argparse_problems(path: Path) -> list[str]:
    """Flags of a script's argparse parsers that lack help text or a shown default."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    formatters = {"ArgumentDefaultsHelpFormatter", "HelpFormatter"}  # metaopt._help's too
    for node in ast.walk(tree):  # classes of the module that derive from it count too
        if isinstance(node, ast.ClassDef) and any(
            "ArgumentDefaultsHelpFormatter" in ast.unparse(base) for base in node.bases
        ):
            formatters.add(node.name)
    parsers, flags = [], []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        keywords = {k.arg: k.value for k in node.keywords}
        if name.endswith(("ArgumentParser", "add_parser")):
            formatter = ast.unparse(keywords.get("formatter_class", ast.Constant("")))
            parsers.append((node.lineno, any(f in formatter for f in formatters)))
        elif name.endswith("add_argument"):
            flag = ast.unparse(node.args[0]) if node.args else "?"
            help_text = ast.unparse(keywords["help"]) if "help" in keywords else None
            flags.append((node.lineno, flag, help_text))
    # Without ArgumentDefaultsHelpFormatter each help text must state its default itself.
    shows_defaults = all(ok for _, ok in parsers)
    problems = []
    for line, flag, help_text in flags:
        if help_text is None:
            problems.append(f"line {line}: {flag} has no help text")
        elif not shows_defaults and "default" not in help_text and "SUPPRESS" not in help_text:
            problems.append(f"line {line}: {flag}'s help states no default")
    return problems


SCRIPTS = [REPO / "metaopt" / "cli.py", *sorted((REPO / "experiments").glob("*.py"))]


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_every_flag_has_help_with_its_default(path: Path) -> None:
    problems = _argparse_problems(path)
    assert not problems, f"{path.relative_to(REPO)}: " + "; ".join(problems)
