"""A PostgreSQL catalog restarted (``-m immediate``) again and again during `memscore score`: the run waits it out.

Real components: a private PostgreSQL, `memscore serve --no-forward-pass` on loopback (the real tokenizer and
template, stand-in log-probabilities, answers in milliseconds), `memscore score` in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from memscore_core.model.result import content_hash
from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store
from memscore_core.synth.generator import generate_corpus
from tests.store.conftest import conversation, score_of
from tests.support.postgres import PostgresServer, postgres_server
from tests.support.servers import local_server

PER_KEY = {"conversations": "conversation_id, content_hash", "entries": "conversation_id, content_hash, entry_idx",
           "results": "content_hash, model, config_hash",
           "scores": "content_hash, model, config_hash, memory_idx, column_idx",
           "responses": "content_hash, model, config_hash, column_idx"}
CELLS = ("SELECT conversation_id, memory_idx, column_idx, memory_key, divergence, signed, tokens FROM scores "
         "ORDER BY ALL")


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PostgresServer]:
    """A server of this module's own: the tests restart and stop it."""
    root = Path(tempfile.mkdtemp(prefix="memscore-outage-"))
    try:
        with postgres_server(root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Stand-in log-probabilities held like a GPU's prefill (~0.1 s a request), so a run lasts long enough to be
    disturbed."""
    with local_server(tmp_path_factory.mktemp("stand-in"), "--no-forward-pass", "--emulate-gpu", "--prefill-tps",
                      "4000", "--slots", "4") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_bytes(b"".join(orjson.dumps(c.model_dump(mode="json")) + b"\n" for c in generate_corpus(30, seed=11)))
    return path


def pg_ctl(server: PostgresServer, *args: str) -> None:
    """``pg_ctl`` on the module's server, its output to its log (a pipe would stay open as long as it runs)."""
    options = f"-p {server.port} -k {server.root} -c listen_addresses={server.host} -c fsync=off -c max_connections=200"
    command = [str(server.bin / "pg_ctl"), "-D", str(server.root / "data"), "-l", str(server.root / "log"), "-w",
               "-o", options, *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def score(corpus: Path, db: str, stand_in: str, data_path: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "memscore_core.cli", "score", str(corpus), "--db", db,
                             "--data-path", str(data_path), "--base-url", stand_in, "--no-cache", "--concurrency", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                            env={**os.environ, **env})


def test_a_catalog_restarted_five_times_during_a_run_leaves_every_row_once_as_an_undisturbed_run(
        private_postgres: PostgresServer, stand_in: str, corpus: Path, tmp_path: Path) -> None:
    calm = score(corpus, str(tmp_path / "calm.duckdb"), stand_in, tmp_path / "unused")
    assert calm.wait(600) == 0, calm.stderr.read() if calm.stderr else ""
    lake = f"ducklake:postgres:{private_postgres.create_database()}"
    Store(lake, data_path=tmp_path / "lake-data")
    run = score(corpus, lake, stand_in, tmp_path / "lake-data", MEMSCORE_STORE_OUTAGE_SECONDS="90")
    restarts = 0
    time.sleep(5)
    while run.poll() is None and restarts < 5:
        pg_ctl(private_postgres, "-m", "immediate", "restart")
        restarts += 1
        time.sleep(2)
    _, stderr = run.communicate(timeout=600)
    assert restarts >= 2
    assert run.returncode == 0, stderr
    assert "error:" not in stderr
    store = Store(lake, data_path=tmp_path / "lake-data")
    with store.connect() as con:
        for table, key in PER_KEY.items():
            assert con.execute(f"SELECT max(n) FROM (SELECT count(*) AS n FROM {table} GROUP BY {key})"
                               ).fetchall() == [(1,)], table
        disturbed = con.execute(CELLS).fetchall()
    with Store(tmp_path / "calm.duckdb").connect() as con:
        assert disturbed == con.execute(CELLS).fetchall()
    assert [run.status for run in store.runs()] == ["completed"]


def test_a_catalog_that_stays_away_ends_the_run_with_one_error_line_and_a_failed_run_record(
        private_postgres: PostgresServer, stand_in: str, corpus: Path, tmp_path: Path) -> None:
    lake = f"ducklake:postgres:{private_postgres.create_database()}"
    Store(lake, data_path=tmp_path / "lake-data")
    run = score(corpus, lake, stand_in, tmp_path / "lake-data", MEMSCORE_STORE_OUTAGE_SECONDS="6")
    while not run_statuses(lake, tmp_path / "lake-data"):
        time.sleep(0.5)
    pg_ctl(private_postgres, "-m", "immediate", "stop")
    try:
        time.sleep(9)  # past the first wait: the run gives up on its results and waits to record its end
    finally:
        pg_ctl(private_postgres, "start")
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 1
    assert stderr.count("error:") == 1, stderr
    assert "the store has been unreachable for" in stderr
    assert run_statuses(lake, tmp_path / "lake-data") == ["failed"]


def run_statuses(lake: str, data_path: Path) -> list[str]:
    """The status of each run in ``lake``, read by a process of its own (this one's attached instance may have
    been broken by the outage)."""
    done = subprocess.run([sys.executable, "-c", "import sys; from memscore_core.store import Store; "
                           "print(*[r.status for r in Store(sys.argv[1], data_path=sys.argv[2]).runs()])",
                           lake, str(data_path)], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                          check=True)
    return done.stdout.split()


def test_a_read_while_the_catalog_is_down_waits_for_it_and_answers_as_before(
        private_postgres: PostgresServer, tmp_path: Path) -> None:
    store = Store(f"ducklake:postgres:{private_postgres.create_database()}", data_path=tmp_path / "lake-data")
    scored = conversation()
    store.upsert_conversation(scored, content_hash(scored), "convs.jsonl")
    store.write_result("run", score_of(scored, [[3.0, 0.0], [0.5, 2.0]]), "cfg")
    calm = store.top_memories()
    pg_ctl(private_postgres, "-m", "immediate", "stop")
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(store.top_memories)
        time.sleep(3)
        waiting = not asked.done()
        pg_ctl(private_postgres, "start")
        answer = asked.result(timeout=120)
    assert waiting
    assert answer == calm
