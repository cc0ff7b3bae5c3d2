"""`memscore score` over a fleet of replicas: a replica killed mid-run or coming up late changes nothing in
the stored results; replicas that disagree on the model, or are all down, end the run with one error line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from memscore_core.embedded.loopback import free_port
from memscore_core.settings import REPO_ROOT
from tests.support.fault_proxy import fault_proxy
from tests.support.scripted_server import Reply, models_body, scripted_server
from tests.support.servers import RunningServer, local_servers, metric

SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
REQUESTS = "vllm:request_success_total"
SLOW = ("--emulate-gpu", "--prefill-tps", "1000", "--slots", "4")  # ~0.3 s a request: room to act mid-run


def memscore_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MEMSCORE_REQUEST_CACHE": str(tmp_path / "cache"), "MEMSCORE_RETRIES": "3", **extra}


def memscore(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memscore_core.cli", *args], capture_output=True, text=True,
                          env=memscore_env(tmp_path, **env), timeout=600, cwd=REPO_ROOT)


def start_scoring(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "memscore_core.cli", "score", str(SAMPLE), "--no-cache", *args],
                            env=memscore_env(tmp_path), cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def scores(db: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT conversation_id, memory_entry_idx, response_entry_idx, divergence, signed "
                           "FROM scores ORDER BY ALL").fetchall()


def wait_until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningServer]]:
    """Two replicas of the embedded model, emulating a slow GPU; the first stays up for the whole module."""
    with local_servers(tmp_path_factory.mktemp("replicas"), 2, *SLOW) as servers:
        yield servers


@pytest.fixture(scope="module")
def clean_run(replicas: list[RunningServer], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The sample scored on one replica alone, and the requests that took."""
    tmp = tmp_path_factory.mktemp("clean")
    before = metric(replicas[0].url, REQUESTS)
    done = memscore(tmp, "score", str(SAMPLE), "--base-url", replicas[0].url, "--db", str(tmp / "clean.duckdb"),
                    "--no-cache", "--concurrency", "4")
    assert done.returncode == 0, done.stderr
    return tmp / "clean.duckdb", int(metric(replicas[0].url, REQUESTS) - before)


def test_killing_one_of_two_replicas_mid_run_completes_with_the_clean_results(
        replicas: list[RunningServer], clean_run: tuple[Path, int], tmp_path: Path) -> None:
    survivor, victim = replicas
    before = metric(survivor.url, REQUESTS)
    run = start_scoring(tmp_path, "--base-url", survivor.url, "--base-url", victim.url, "--db",
                        str(tmp_path / "fleet.duckdb"), "--concurrency", "4")
    wait_until(lambda: metric(victim.url, REQUESTS) >= 10)
    assert run.poll() is None, "the run finished before the kill"
    answered_by_victim = metric(victim.url, REQUESTS)
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait()
    _, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stderr[-3000:]
    assert scores(tmp_path / "fleet.duckdb") == scores(clean_run[0])
    assert f"replica {victim.url} out of rotation" in stderr
    assert metric(survivor.url, REQUESTS) - before + answered_by_victim >= clean_run[1]
    with duckdb.connect(str(tmp_path / "fleet.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT conversation_id) FROM results").fetchone() == (20, 20)


def test_a_replica_that_comes_up_mid_run_joins_the_rotation(replicas: list[RunningServer],
                                                            clean_run: tuple[Path, int], tmp_path: Path) -> None:
    up = replicas[0]
    late_port = free_port()
    before = metric(up.url, REQUESTS)
    run = start_scoring(tmp_path, "--base-url", f"{up.url},http://127.0.0.1:{late_port}/v1", "--db",
                        str(tmp_path / "late.duckdb"), "--concurrency", "2")
    wait_until(lambda: metric(up.url, REQUESTS) - before >= 10)
    assert run.poll() is None, "the run finished before the late replica came up"
    with fault_proxy(up.url.removesuffix("/v1"), port=late_port, every=10**9) as late:
        _, stderr = run.communicate(timeout=600)
    assert run.returncode == 0, stderr[-3000:]
    assert late.seen["ok"] >= 1, stderr[-3000:]
    assert f"replica http://127.0.0.1:{late_port}/v1 back in rotation" in stderr
    assert scores(tmp_path / "late.duckdb") == scores(clean_run[0])


def test_replicas_serving_different_models_fail_with_one_line_before_any_request(tmp_path: Path) -> None:
    with scripted_server(Reply(500), models=models_body("alpha")) as a, \
            scripted_server(Reply(500), models=models_body("beta")) as b:
        done = memscore(tmp_path, "score", str(SAMPLE), "--db", str(tmp_path / "m.duckdb"),
                        MEMSCORE_BASE_URL=f"{a.url},{b.url}")
    assert (done.returncode, done.stderr.strip()) == (
        1, f"error: replicas serve different models: {a.url} serves 'alpha', {b.url} serves 'beta'; every replica "
           "must serve 'alpha'")
    assert a.arrivals == b.arrivals == [] and a.model_checks == b.model_checks == 1


def test_every_replica_down_is_one_clear_error(tmp_path: Path) -> None:
    down = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    done = memscore(tmp_path, "score", str(SAMPLE), "--db", str(tmp_path / "d.duckdb"), "--base-url", down[0],
                    "--base-url", down[1], "--no-cache")
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: no replica answered GET /models after 3 attempts: GET {down[0]}/models: "
                                   f"connection failed (ConnectError); GET {down[1]}/models: connection failed "
                                   "(ConnectError)")
