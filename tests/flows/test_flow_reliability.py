"""The score flow under faults, and with a key from a Prefect Secret block that must never leak."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.logging.handlers import APILogHandler
from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, PREFECT_RESULTS_LOCAL_STORAGE_PATH
from prefect.states import Failed

from flows.parameters import ScoringRun
from flows.score_conversations import score_conversations
from flows.tasks import is_transient
from memscore_core.errors import ContextLengthError, RequestRejectedError, TransientBackendError
from memscore_core.synth.generator import generate_corpus
from tests.support.fault_proxy import FAULTS, fault_proxy
from tests.support.servers import local_server

pytestmark = pytest.mark.prefect
API_KEY = "sk-flow-secret-91c2e4"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_server(tmp_path_factory.mktemp("keyed"), "--no-prefix-cache", "--api-key", API_KEY) as url:
        yield url


@pytest.fixture(scope="module")
def secret_block() -> str:
    Secret(value=API_KEY).save("memscore-test-key", overwrite=True)
    return "memscore-test-key"


def rows(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT conversation_id, memory_entry_idx, response_entry_idx, divergence "
                           "FROM scores ORDER BY ALL").fetchall()


def test_the_flow_through_a_faulty_proxy_equals_a_clean_run(keyed_server: str, secret_block: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "faults.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in generate_corpus(4, seed=808)))
    monkeypatch.setenv("MEMSCORE_TIMEOUT", "3")
    with fault_proxy(keyed_server.removesuffix("/v1"), every=5, stall_seconds=6) as proxy:
        faulty = asyncio.run(score_conversations(ScoringRun(
            source=str(source), db=str(tmp_path / "faulty.duckdb"), base_url=f"http://127.0.0.1:{proxy.port}/v1",
            api_key_secret=secret_block), reports_dir=None))
    assert all(proxy.seen[fault] >= 1 for fault in FAULTS), proxy.seen
    monkeypatch.setenv("MEMSCORE_REQUEST_CACHE", str(tmp_path / "clean-cache"))
    clean = asyncio.run(score_conversations(ScoringRun(
        source=str(source), db=str(tmp_path / "clean.duckdb"), base_url=keyed_server, api_key_secret=secret_block),
        reports_dir=None))
    assert faulty["scored"] == clean["scored"] == 4
    assert rows(tmp_path / "faulty.duckdb") == rows(tmp_path / "clean.duckdb")


def test_a_secret_block_key_never_reaches_the_database_results_or_artifacts(keyed_server: str, secret_block: str,
                                                                            tmp_path: Path) -> None:
    source = tmp_path / "secret.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in generate_corpus(2, seed=809)))
    db = tmp_path / "secret.duckdb"
    summary = asyncio.run(score_conversations(ScoringRun(
        source=str(source), db=str(db), base_url=keyed_server, api_key_secret=secret_block),
        reports_dir=str(tmp_path / "reports")))
    assert summary["scored"] == 2
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    stored += [p for p in Path(os.environ["MEMSCORE_REQUEST_CACHE"]).rglob("*") if p.is_file()]
    assert db in stored
    for path in stored:
        assert API_KEY.encode() not in path.read_bytes(), path
    for artifact in asyncio.run(_artifacts()):
        assert API_KEY not in str(artifact.data) + str(artifact.description)


def test_no_prefect_log_database_or_result_file_holds_the_secret_block_key(keyed_server: str, secret_block: str,
                                                                            tmp_path: Path) -> None:
    source = tmp_path / "logged.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in generate_corpus(2, seed=810)))
    asyncio.run(score_conversations(ScoringRun(
        source=str(source), db=str(tmp_path / "logged.duckdb"), base_url=keyed_server, api_key_secret=secret_block),
        reports_dir=None))
    logs = _shipped_logs()
    assert logs and not [log for log in logs if API_KEY in log]
    database = Path(PREFECT_API_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    prefect_files = [p for p in database.parent.glob(database.name + "*") if p.is_file()]
    prefect_files += [p for p in Path(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value()).rglob("*") if p.is_file()]
    assert any(p.name == database.name for p in prefect_files)
    for path in prefect_files:
        assert API_KEY.encode() not in path.read_bytes(), path


async def _artifacts() -> list[object]:
    async with get_client() as client:
        return list(await client.read_artifacts())


def _shipped_logs(wait_s: float = 30.0) -> list[str]:
    """The server's log records once the run's have arrived: Prefect ships them in batches from a background
    worker, later still on a loaded machine."""
    APILogHandler().flush()
    deadline = time.monotonic() + wait_s
    while not (logs := asyncio.run(_logs())) and time.monotonic() < deadline:
        time.sleep(0.5)
    return logs


async def _logs() -> list[str]:
    """Every log record this test session's Prefect server holds, the faulty run's retries included."""
    async with get_client() as client:
        records = []
        while batch := await client.read_logs(limit=200, offset=len(records)):
            records.extend(batch)
        return [record.message for record in records]


@pytest.mark.parametrize(("error", "retried"), [
    (TransientBackendError("HTTP 503 from logprobs API: busy", status=503), True),
    (TransientBackendError("HTTP 429 from logprobs API: slow down", status=429, retry_after=1.0), True),
    (TransientBackendError("POST http://gpu/v1/chat/completions: connection failed (ConnectError)"), True),
    (RequestRejectedError("HTTP 401 from logprobs API: Unauthorized", status=401), False),
    (ContextLengthError("HTTP 400 from logprobs API: maximum context length", status=400), False),
    (ValueError("a bug"), False)], ids=["503", "429", "dropped", "401", "context-length", "bug"])
def test_model_call_tasks_retry_transient_failures_and_never_a_4xx(error: Exception, retried: bool) -> None:
    assert is_transient(None, None, Failed(data=error)) is retried
