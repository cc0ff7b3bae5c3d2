"""Faults, crashes and secrets: an unattended run loses nothing and leaks nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from memscore_core.settings import REPO_ROOT
from tests.support.fault_proxy import FAULTS, fault_proxy
from tests.support.servers import local_server, metric

SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
API_KEY = "sk-memscore-test-7f3a9c"
REQUESTS = "vllm:request_success_total"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A deterministic server (no prefix cache) that requires an API key."""
    with local_server(tmp_path_factory.mktemp("keyed"), "--no-prefix-cache", "--api-key", API_KEY) as url:
        yield url


def memscore(tmp_path: Path, *args: str, timeout: float = 600, retries: int = 5) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMSCORE_API_KEY": API_KEY, "MEMSCORE_TIMEOUT": "3",
           "MEMSCORE_REQUEST_CACHE": str(tmp_path / "cache"), "MEMSCORE_RETRIES": str(retries)}
    return subprocess.run([sys.executable, "-m", "memscore_core.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO_ROOT)


def scores(db: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT conversation_id, memory_entry_idx, response_entry_idx, divergence, signed "
                           "FROM scores ORDER BY ALL").fetchall()


@pytest.fixture(scope="module")
def clean_run(keyed_server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The undisturbed run every disturbed one must equal, and the requests it needed."""
    tmp = tmp_path_factory.mktemp("clean")
    before = metric(keyed_server, REQUESTS)
    done = memscore(tmp, "score", str(SAMPLE), "--base-url", keyed_server, "--db", str(tmp / "clean.duckdb"),
                    "--no-cache")
    assert done.returncode == 0, done.stderr
    return tmp / "clean.duckdb", int(metric(keyed_server, REQUESTS) - before)


def test_a_run_through_a_faulty_proxy_equals_a_clean_run(keyed_server: str, clean_run: tuple[Path, int],
                                                         tmp_path: Path) -> None:
    with fault_proxy(keyed_server.removesuffix("/v1"), every=5, stall_seconds=6) as proxy:
        done = memscore(tmp_path, "score", str(SAMPLE), "--base-url", f"http://127.0.0.1:{proxy.port}/v1",
                        "--db", str(tmp_path / "faulty.duckdb"), "--no-cache")
    assert done.returncode == 0, done.stderr[-3000:]
    assert all(proxy.seen[fault] >= 1 for fault in FAULTS), proxy.seen
    assert scores(tmp_path / "faulty.duckdb") == scores(clean_run[0])


@pytest.mark.parametrize("kill_after", [3, 100])
def test_kill_9_and_rerun_gives_the_clean_results_without_resending_answered_requests(
        keyed_server: str, clean_run: tuple[Path, int], tmp_path: Path, kill_after: int) -> None:
    db = tmp_path / "crash.duckdb"
    env = {**os.environ, "MEMSCORE_API_KEY": API_KEY, "MEMSCORE_REQUEST_CACHE": str(tmp_path / "cache")}
    before = metric(keyed_server, REQUESTS)
    process = subprocess.Popen([sys.executable, "-m", "memscore_core.cli", "score", str(SAMPLE), "--base-url",
                                keyed_server, "--db", str(db), "--concurrency", "2"], env=env, cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while metric(keyed_server, REQUESTS) - before < kill_after and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before the kill"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = memscore(tmp_path, "score", str(SAMPLE), "--base-url", keyed_server, "--db", str(db))
    assert done.returncode == 0, done.stderr[-3000:]
    assert scores(db) == scores(clean_run[0])
    sent = metric(keyed_server, REQUESTS) - before
    assert clean_run[1] <= sent <= clean_run[1] + 2  # at most the requests in flight at the kill
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM results").fetchone() == (20,)


def test_the_api_key_appears_in_no_log_database_cache_export_or_report(keyed_server: str, tmp_path: Path) -> None:
    db = tmp_path / "secret.duckdb"
    outputs = [memscore(tmp_path, "score", str(SAMPLE), "--base-url", keyed_server, "--db", str(db)),
               memscore(tmp_path, "score", str(SAMPLE), "--base-url", "http://127.0.0.1:9/v1", "--db",
                        str(tmp_path / "unreachable.duckdb"), "--rescore", "--no-cache", retries=1),
               memscore(tmp_path, "export", "--db", str(db), "--format", "parquet", "--out", str(tmp_path / "exports"),
                        "--threshold", "0"),
               memscore(tmp_path, "weights", "--db", str(db), "--out", str(tmp_path / "exports" / "weights.json")),
               memscore(tmp_path, "report", "synth-2026-00000", "--db", str(db), "--out", str(tmp_path / "r.html")),
               memscore(tmp_path, "top", "--db", str(db), "--json")]
    assert outputs[0].returncode == 0 and outputs[1].returncode == 1
    for done in outputs:
        assert API_KEY not in done.stdout + done.stderr
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.suffix == ".npz" for path in files) and db in files
    for path in files:
        assert API_KEY.encode() not in path.read_bytes(), path
