"""Several worker processes on one storage evaluate each warm-start configuration exactly once.

Runs on SQLite, on an Optuna journal file and on a real PostgreSQL 15 server that the test
starts on 127.0.0.1 in a temporary directory (skipped, with the reason, when PostgreSQL is not
installed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase
from metaopt.metamodel import NearestDatasets
from metaopt.testing import toy_knowledge

pytestmark = pytest.mark.slow

N_WORKERS = 3
N_WARM = 8
TRIALS_PER_WORKER = 6
WARM = "metaopt:warm_start"
USER_PARAMS = {"x": 0.5, "depth": 5, "kind": "b"}

WORKER = """
import json, sys, time
from pathlib import Path
import optuna
import pandas as pd
from metaopt.samplers import MetaSampler

url, kb_dir, worker, n_workers, n_warm, n_trials = sys.argv[1:7]
optuna.logging.set_verbosity(optuna.logging.WARNING)
if url.startswith("journal:"):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(url[len("journal:"):]))
elif url.startswith("sqlite"):
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
else:
    storage = url
target = pd.Series(json.loads((Path(kb_dir) / "target.json").read_text()))
sampler = MetaSampler(metafeatures=target, task="classification", knowledge=kb_dir, space="toy",
                      model="nearest", n_warm=int(n_warm), seed=int(worker))
sampler.warm_start_configs()  # fit before the start line, so workers really race
study = optuna.load_study(study_name="distributed", storage=storage, sampler=sampler)
barrier = Path(kb_dir) / "barrier"
(barrier / f"ready-{worker}").touch()
deadline = time.time() + 120
while len(list(barrier.iterdir())) < int(n_workers) and time.time() < deadline:
    time.sleep(0.005)

def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    depth = trial.suggest_int("depth", 1, 10)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    time.sleep(0.05)
    return x + depth + (kind == "a")

study.optimize(objective, n_trials=int(n_trials))
"""


@pytest.fixture(scope="module")
def knowledge_dir(tmp_path_factory) -> tuple[Path, list[dict]]:
    evaluations, metafeatures = toy_knowledge(n_datasets=12, n_configs=20, seed=5)
    kb = KnowledgeBase(evaluations, metafeatures, {"schema_version": SCHEMA_VERSION})
    directory = tmp_path_factory.mktemp("kb")
    kb.save(directory)
    target = metafeatures.iloc[4] * 0.98
    (directory / "target.json").write_text(json.dumps(target.to_dict()))
    (directory / "worker.py").write_text(WORKER)
    expected = NearestDatasets().fit(kb, "toy").rank(target, N_WARM, task="classification")
    return directory, expected


def _run_workers(
    storage_url: str, storage: object, directory: Path, *, enqueue: bool = True
) -> optuna.Study:
    barrier = directory / "barrier"
    shutil.rmtree(barrier, ignore_errors=True)
    barrier.mkdir()
    study = optuna.create_study(study_name="distributed", storage=storage)
    if enqueue:
        # A user-enqueued trial takes trial number 0: its warm config must still run once.
        study.enqueue_trial(USER_PARAMS)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(directory / "worker.py"),
                storage_url,
                str(directory),
                str(i),
                str(N_WORKERS),
                str(N_WARM),
                str(TRIALS_PER_WORKER),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N_WORKERS)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
    return study


def _check(study: optuna.Study, expected: list[dict], *, enqueue: bool = True) -> None:
    trials = study.get_trials()
    assert len(trials) >= N_WORKERS * TRIALS_PER_WORKER
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials if t.params)
    if enqueue:
        assert trials[0].params == USER_PARAMS
        assert sum(t.params == USER_PARAMS for t in trials) == 1
    warm = [t for t in trials if WARM in t.user_attrs]
    ranks = sorted(t.user_attrs[WARM]["rank"] for t in warm)
    assert ranks == list(range(1, N_WARM + 1))  # each exactly once
    for trial in warm:
        config = expected[trial.user_attrs[WARM]["rank"] - 1]
        assert {k: trial.params[k] for k in config} == config


def test_sqlite_workers(knowledge_dir, tmp_path) -> None:
    directory, expected = knowledge_dir
    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    # Optuna's own trial queue (enqueue_trial) can hand one queued trial to two processes on
    # SQLite, which has no row locks; the warm start itself does not use the queue.
    _check(_run_workers(url, storage, directory, enqueue=False), expected, enqueue=False)


def test_journal_file_workers(knowledge_dir, tmp_path) -> None:
    directory, expected = knowledge_dir
    path = tmp_path / "journal.log"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    _check(_run_workers(f"journal:{path}", storage, directory), expected)


def test_postgresql_workers(knowledge_dir, postgres_url) -> None:
    directory, expected = knowledge_dir
    _check(_run_workers(postgres_url, postgres_url, directory), expected)
