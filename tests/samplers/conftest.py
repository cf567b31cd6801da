"""Fixtures shared by the sampler tests: a small synthetic knowledge base, a dataset near one
of its datasets, and a PostgreSQL server of the test's own."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase
from metaopt.testing import toy_knowledge


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    evaluations, metafeatures = toy_knowledge(n_datasets=10, n_configs=20, seed=3)
    return KnowledgeBase(evaluations, metafeatures, {"schema_version": SCHEMA_VERSION})


@pytest.fixture(scope="module")
def target(kb: KnowledgeBase) -> pd.Series:
    """Metafeatures 1% away from the third known dataset's."""
    return kb.metafeatures.iloc[2] * 1.01


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL is not installed (initdb/pg_ctl not on PATH)")
    pytest.importorskip("psycopg2", reason="psycopg2 is needed for Optuna's PostgreSQL storage")
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="metaopt-pg-"))
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: run it as the postgres user.
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is missing")
        os.chown(base, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=50"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
    )
    try:
        # SQLAlchemy 2.1 defaults to psycopg 3; the test extra installs psycopg2.
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        time.sleep(0.2)
        shutil.rmtree(base, ignore_errors=True)
