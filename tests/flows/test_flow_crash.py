"""kill -9 of a score-conversations flow run mid-way: the rerun completes it from the request cache.

An answer is durable once it is in the request cache; the answers still being written at the
kill are the only ones asked again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from prefect.settings import PREFECT_API_URL

from memscore_core.settings import REPO_ROOT
from memscore_core.synth.generator import generate_corpus
from tests.support.servers import local_server, metric

pytestmark = pytest.mark.prefect
REQUESTS = "vllm:request_success_total"
CONCURRENCY = 2
RUN_FLOW = ("import asyncio, sys; from flows.parameters import ScoringRun; "
            "from flows.score_conversations import score_conversations; "
            "asyncio.run(score_conversations(ScoringRun(source=sys.argv[1], db=sys.argv[2], base_url=sys.argv[3], "
            f"concurrency={CONCURRENCY}), reports_dir=None))")


@pytest.fixture(scope="module")
def exact_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Without prefix reuse, so a request's answer never depends on what the server saw before."""
    with local_server(tmp_path_factory.mktemp("crash-server"), "--no-prefix-cache") as url:
        yield url


def _scores(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT conversation_id, memory_entry_idx, response_entry_idx, divergence, tokens "
                           "FROM scores ORDER BY ALL").fetchall()


def _complete_results(directory: Path) -> int:
    """Answers in the request cache (written to a temporary name and renamed: only whole ones count)."""
    return len(list(directory.rglob("*.npz")))


def _flow(source: Path, db: Path, server: str, results: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "MEMSCORE_REQUEST_CACHE": str(results)}
    return subprocess.Popen([sys.executable, "-c", RUN_FLOW, str(source), str(db), server], env=env, cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def clean_run(exact_server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    """The corpus, its undisturbed flow run's database, and the requests that run sent."""
    tmp = tmp_path_factory.mktemp("clean-flow")
    source = tmp / "crash.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in generate_corpus(6, seed=812)))
    before = metric(exact_server, REQUESTS)
    clean = _flow(source, tmp / "clean.duckdb", exact_server, tmp / "clean-results")
    assert clean.wait(300) == 0, clean.stderr.read().decode()[-3000:] if clean.stderr else ""
    return source, tmp / "clean.duckdb", metric(exact_server, REQUESTS) - before


@pytest.mark.parametrize("kill_at", [0.1, 0.9], ids=["early", "late"])
def test_a_flow_run_killed_mid_way_reruns_to_the_clean_results_without_resending_answered_requests(
        exact_server: str, clean_run: tuple[Path, Path, float], tmp_path: Path, kill_at: float) -> None:
    server = exact_server
    source, clean_db, clean_requests = clean_run
    before = metric(server, REQUESTS)
    killed = _flow(source, tmp_path / "crash.duckdb", server, tmp_path / "results")
    deadline = time.monotonic() + 300
    while metric(server, REQUESTS) - before < int(clean_requests * kill_at) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert killed.poll() is None, "the run finished before the kill"
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    while metric(server, "vllm:num_requests_running") > 0:  # the server finishes what the dead client sent
        time.sleep(0.02)
    answered_before_kill = metric(server, REQUESTS) - before
    stored_answers = _complete_results(tmp_path / "results")
    before_rerun = metric(server, REQUESTS)
    rerun = _flow(source, tmp_path / "crash.duckdb", server, tmp_path / "results")
    assert rerun.wait(300) == 0, rerun.stderr.read().decode()[-3000:] if rerun.stderr else ""

    # A late kill on a loaded machine may land after the last answer, while results are still being stored:
    # a crash point as valid as any, so every answer may have arrived, but the run must not have finished.
    assert 0 < stored_answers <= answered_before_kill <= clean_requests
    assert _scores(tmp_path / "crash.duckdb") == _scores(clean_db)
    assert metric(server, REQUESTS) - before_rerun == clean_requests - stored_answers  # no stored answer resent
