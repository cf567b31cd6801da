"""The ``metaopt`` command line as a user meets it: interrupts, warnings, messages, JSON."""

from __future__ import annotations

import json
import warnings

import optuna
import pytest

import metaopt
import metaopt.cli
from metaopt import knowledge
from metaopt.cli import main
from metaopt.exceptions import FallbackWarning, MissingExtraError


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli_user")
    iris = metaopt.load_dataset("sklearn:iris")
    path = directory / "data.csv"
    iris.X.assign(label=iris.y.astype(str)).to_csv(path, index=False)
    return path


def test_keyboard_interrupt_exits_130_without_a_traceback(monkeypatch, capsys) -> None:
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(metaopt.cli, "_suggest", interrupted)
    assert main(["suggest", "sklearn:iris"]) == 130
    err = capsys.readouterr().err
    assert err == "metaopt: interrupted\n"


def test_a_warning_is_one_line_without_the_source_line(monkeypatch, capsys) -> None:
    def warns(args):
        message = "dataset unlike any known one;\n  using the portfolio"
        warnings.warn(message, FallbackWarning, stacklevel=2)
        return ["{}"]

    monkeypatch.setattr(metaopt.cli, "_suggest", warns)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["suggest", "sklearn:iris"]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        "metaopt suggest: warning: dataset unlike any known one; using the portfolio\n"
    )
    assert captured.out == "{}\n"


def test_a_multi_line_error_is_printed_on_one_line(monkeypatch, capsys) -> None:
    def invalid(args):
        raise ValueError("invalid knowledge base at kb:\n- 3 ok rows have no score\n- bad task")

    monkeypatch.setattr(metaopt.cli, "_suggest", invalid)
    assert main(["suggest", "sklearn:iris"]) == 2
    assert capsys.readouterr().err == (
        "metaopt suggest: error: invalid knowledge base at kb: 3 ok rows have no score; bad task\n"
    )


def test_a_missing_extra_exits_2_with_its_message(monkeypatch, capsys) -> None:
    def missing(args):
        raise MissingExtraError("reading arff files needs liac-arff: pip install metaopt[data]")

    monkeypatch.setattr(metaopt.cli, "_suggest", missing)
    assert main(["suggest", "data.arff"]) == 2
    assert "pip install metaopt[data]" in capsys.readouterr().err


def test_knowledge_option_naming_a_file_says_it_is_not_a_directory(data_file, capsys) -> None:
    assert main(["suggest", str(data_file), "--knowledge", str(data_file)]) == 2
    err = capsys.readouterr().err
    assert "not a directory" in err and err.count("\n") == 1


def test_explain_json_is_strict_json_for_an_unlike_dataset(data_file, tmp_path, capsys) -> None:
    # A base from one study: the dataset is unlike any known one (infinite novelty).
    study = optuna.create_study(study_name="mine", direction="minimize")
    study.set_user_attr("metaopt:metafeatures", {"general.n_instances": 1e6})
    study.set_user_attr("metaopt:task", "classification")
    study.set_user_attr("metaopt:space", "myspace")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=4)
    knowledge.from_studies(None, study).save(tmp_path / "kb")
    args = [
        "suggest",
        str(data_file),
        "--target",
        "label",
        "--space",
        "myspace",
        "--knowledge",
        str(tmp_path / "kb"),
        "-n",
        "2",
        "--explain",
        "--json",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        assert main(args) == 0

    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant}")

    payload = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert payload["novelty"] is None and len(payload["suggestions"]) == 2


def test_help_states_the_exit_statuses_and_keel(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["suggest", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "130 interrupted" in out and "keel:<name>" in out
