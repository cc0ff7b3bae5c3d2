"""The score flow under faults, and with a key from a Prefect Secret block that must never leak."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client

from flows.score_conversations import score_conversations
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
        faulty = asyncio.run(score_conversations(source=str(source), db=str(tmp_path / "faulty.duckdb"),
                                                 base_url=f"http://127.0.0.1:{proxy.port}/v1",
                                                 api_key_secret=secret_block, reports_dir=None))
    assert all(proxy.seen[fault] >= 1 for fault in FAULTS), proxy.seen
    monkeypatch.setenv("PREFECT_TASKS_REFRESH_CACHE", "true")
    clean = asyncio.run(score_conversations(source=str(source), db=str(tmp_path / "clean.duckdb"),
                                            base_url=keyed_server, api_key_secret=secret_block, reports_dir=None))
    assert faulty["scored"] == clean["scored"] == 4
    assert rows(tmp_path / "faulty.duckdb") == rows(tmp_path / "clean.duckdb")


def test_a_secret_block_key_never_reaches_the_database_results_or_artifacts(keyed_server: str, secret_block: str,
                                                                            tmp_path: Path) -> None:
    source = tmp_path / "secret.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in generate_corpus(2, seed=809)))
    db = tmp_path / "secret.duckdb"
    summary = asyncio.run(score_conversations(source=str(source), db=str(db), base_url=keyed_server,
                                              api_key_secret=secret_block, reports_dir=str(tmp_path / "reports")))
    assert summary["scored"] == 2
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    stored += [p for p in Path(os.environ["MEMSCORE_RESULTS_DIR"]).rglob("*") if p.is_file()]
    assert db in stored
    for path in stored:
        assert API_KEY.encode() not in path.read_bytes(), path
    for artifact in asyncio.run(_artifacts()):
        assert API_KEY not in str(artifact.data) + str(artifact.description)


async def _artifacts() -> list[object]:
    async with get_client() as client:
        return list(await client.read_artifacts())
