"""OpenML sources through the real openml package, offline, with the local-mirror fallback."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import openml
import pytest

from metaopt.datasets import load_dataset
from metaopt.exceptions import MetaoptWarning

pytestmark = pytest.mark.shared


@pytest.fixture()
def offline_openml(shared_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """openml pointed at a temporary copy of the shared test-server cache (openml deletes cache
    folders whose fetch fails, so the shared copy is never used directly)."""
    cache = tmp_path / "openml-cache"
    shutil.copytree(shared_dir / "openml-cache", cache)
    settings = {
        "server": "https://test.openml.org/api/v1/xml",
        "cachedir": cache,
        "connection_n_retries": 1,
        "retry_policy": "robot",
    }
    with openml.config.overwrite_config_context(settings):
        yield cache


def test_dataset_2_loads_from_the_openml_cache(offline_openml: Path) -> None:
    anneal = load_dataset("openml:2", openml_mirror=offline_openml / "no-mirror")
    assert anneal.name == "anneal"
    assert anneal.shape == (898, 38)
    assert anneal.task == "classification"
    assert anneal.metadata["loaded_from"] == "openml"
    assert anneal.y.name == "class"
    assert len(anneal.categorical_columns) > 20


def test_task_1882_loads_its_dataset(offline_openml: Path) -> None:
    dataset = load_dataset("openml-task:1882", openml_mirror=offline_openml / "no-mirror")
    assert dataset.metadata["openml_did"] == 2
    assert dataset.metadata["openml_tid"] == 1882
    assert dataset.shape == (898, 38)


def test_unreachable_dataset_falls_back_to_the_mirror(
    offline_openml: Path, openml_arff_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start = time.monotonic()
    with caplog.at_level("WARNING", logger="metaopt"):
        credit = load_dataset("openml:31", openml_mirror=openml_arff_dir)
    assert time.monotonic() - start < 60  # the offline failure must not hang
    assert credit.name == "credit-g"
    assert credit.shape == (1000, 20)
    assert credit.metadata["loaded_from"].endswith("31-credit-g.arff")
    assert "loading it from the mirror" in caplog.text


def test_mirror_leaves_out_the_row_id_as_openml_does(
    offline_openml: Path, openml_arff_dir: Path
) -> None:
    # The mirror's MagicTelescope file carries Weka's row numbers, sorted by class; OpenML
    # serves its 10 features without them.
    with pytest.warns(MetaoptWarning, match=r"dropped columns \['ID'\]"):
        magic = load_dataset("openml:1120", openml_mirror=openml_arff_dir)
    assert magic.shape == (19020, 10)
    assert "ID" not in magic.X.columns


def test_mirror_setting_is_honoured(
    offline_openml: Path, openml_arff_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAOPT_OPENML_MIRROR", str(openml_arff_dir))
    assert load_dataset("openml:61").name == "iris"


def test_unreachable_cc18_task_resolves_through_the_shipped_list(
    offline_openml: Path, openml_arff_dir: Path
) -> None:
    kr_vs_kp = load_dataset("openml-task:3", openml_mirror=openml_arff_dir)
    assert kr_vs_kp.metadata["openml_did"] == 3
    assert kr_vs_kp.name == "kr-vs-kp"


def test_neither_openml_nor_mirror_gives_a_clear_error(
    offline_openml: Path, openml_arff_dir: Path
) -> None:
    with pytest.raises(ValueError, match="openml package failed.*no file named 999999-<name>"):
        load_dataset("openml:999999", openml_mirror=openml_arff_dir)
    with pytest.raises(ValueError, match="METAOPT_OPENML_MIRROR"):
        load_dataset("openml:999999", openml_mirror=openml_arff_dir)
    with pytest.raises(ValueError, match="not in the shipped OpenML-CC18 list"):
        load_dataset("openml-task:999999", openml_mirror=openml_arff_dir)
