"""The score-conversations flow against a real loopback server and a real DuckDB file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client

from flows.parameters import ScoringRun
from flows.score_conversations import score_conversations
from memscore_core.backends.pool import RequestPool
from memscore_core.backends.vllm import VllmBackend
from memscore_core.config import ScoringConfig
from memscore_core.errors import StoreError
from memscore_core.formats.loading import load_conversations
from memscore_core.scoring.conversation import score_conversation
from memscore_core.scoring.sending import pool_sender
from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store
from memscore_core.synth.generator import generate_corpus
from memscore_core.synth.many import ManyShape, corpus_chunk_tokens, generate_many_corpus
from tests.support.servers import metric

pytestmark = pytest.mark.prefect

REQUESTS = "vllm:request_success_total"


def run_flow(**parameters: Any) -> dict[str, Any]:
    """The flow with ``parameters``: its own (``reports_dir``, ``shard``, ``shards``) and the run's."""
    own = {name: parameters.pop(name) for name in ("reports_dir", "shard", "shards") if name in parameters}
    return asyncio.run(score_conversations(ScoringRun(**parameters), **own))  # type: ignore[no-any-return]


def test_flow_scores_valid_conversations_and_records_invalid_ones(corpus: Path, tmp_path: Path,
                                                                   server: str) -> None:
    db = tmp_path / "flow.duckdb"
    summary = run_flow(source=str(corpus), db=str(db), base_url=server)
    store = Store(db)
    assert (summary["scored"], summary["invalid"], summary["failed"]) == (3, 1, 0)
    assert (store.count("results"), store.count("ingest_errors")) == (3, 1)
    [run] = store.runs()
    assert (run.status, run.requests, run.flow_run_id is not None) == ("completed", summary["requests"], True)


def test_flow_results_equal_the_library_scores(corpus: Path, tmp_path: Path, server: str) -> None:
    db = tmp_path / "flow.duckdb"
    run_flow(source=str(corpus), db=str(db), base_url=server)
    expected = asyncio.run(_library_scores(corpus, server))
    store = Store(db)
    for score in expected:
        stored = store.latest_result(score.conversation_id)
        assert stored is not None
        assert stored.memory_keys == score.memory_keys
        for got_row, want_row in zip(stored.matrix, score.matrix, strict=True):
            assert got_row == pytest.approx(want_row, abs=1e-5)


async def _library_scores(corpus: Path, server: str) -> list[Any]:
    backend = VllmBackend(base_url=server)
    async with RequestPool(backend, 4) as pool:
        scores = [await score_conversation(item.conversation, pool_sender(pool), ScoringConfig(),
                                           model=await backend.model())
                  for item in load_conversations([corpus]).conversations]
    await backend.aclose()
    return scores


def test_a_second_run_skips_scored_conversations_without_requests(corpus: Path, tmp_path: Path,
                                                                   server: str) -> None:
    db = tmp_path / "flow.duckdb"
    run_flow(source=str(corpus), db=str(db), base_url=server)
    before = metric(server, REQUESTS)
    summary = run_flow(source=str(corpus), db=str(db), base_url=server)
    assert (summary["skipped"], summary["scored"], metric(server, REQUESTS) - before) == (3, 0, 0)
    assert Store(db).count("results") == 3


def test_rescoring_answers_model_calls_from_the_task_cache(corpus: Path, tmp_path: Path, server: str) -> None:
    run_flow(source=str(corpus), db=str(tmp_path / "a.duckdb"), base_url=server)
    before = metric(server, REQUESTS)
    summary = run_flow(source=str(corpus), db=str(tmp_path / "b.duckdb"), base_url=server, rescore=True)
    assert summary["scored"] == 3
    assert metric(server, REQUESTS) - before == 0


def test_the_run_leaves_progress_summary_and_top_memory_artifacts(corpus: Path, tmp_path: Path,
                                                                  server: str) -> None:
    run_flow(source=str(corpus), db=str(tmp_path / "flow.duckdb"), base_url=server, rescore=True)
    keys = asyncio.run(_artifact_keys())
    assert {"score-conversations-summary", "score-conversations-top"} <= keys
    assert any(artifact_type == "progress" for artifact_type in asyncio.run(_artifact_types()))


def test_with_a_ui_url_the_summary_links_each_scored_conversation_to_its_ui_page(
        corpus: Path, tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSCORE_UI_URL", "http://127.0.0.1:8765/")
    summary = run_flow(source=str(corpus), db=str(tmp_path / "flow.duckdb"), base_url=server, rescore=True)
    [links] = asyncio.run(_artifacts_of("score-conversations-ui"))
    scored = [json.loads(line)["id"] for line in corpus.read_text().splitlines() if '"broken"' not in line]
    assert summary["scored"] == 3
    assert all(f"[{conversation_id}](http://127.0.0.1:8765/conversations/{conversation_id})" in links
               for conversation_id in scored)


async def _artifacts_of(key: str) -> list[str]:
    async with get_client() as client:
        return [str(artifact.data) for artifact in await client.read_artifacts() if artifact.key == key]


async def _artifact_keys() -> set[str]:
    async with get_client() as client:
        return {artifact.key for artifact in await client.read_artifacts() if artifact.key}


async def _artifact_types() -> set[str]:
    async with get_client() as client:
        return {artifact.type for artifact in await client.read_artifacts() if artifact.type}


def test_adding_a_conversation_scores_only_it(tmp_path: Path, server: str) -> None:
    conversations = list(generate_corpus(3, seed=21))
    source = tmp_path / "grow.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in conversations[:2]))
    run_flow(source=str(source), db=str(tmp_path / "grow.duckdb"), base_url=server)
    source.write_text("".join(c.model_dump_json() + "\n" for c in conversations))
    summary = run_flow(source=str(source), db=str(tmp_path / "grow.duckdb"), base_url=server)
    assert (summary["skipped"], summary["scored"]) == (2, 1)


def test_a_run_failing_in_persist_is_retried_without_new_model_requests(
        tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "persist.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in generate_corpus(3, seed=31)))
    db = tmp_path / "persist.duckdb"
    write_results = Store.write_results
    calls = {"n": 0}

    def failing_three_times(self: Store, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise StoreError("disk full (injected)")
        write_results(self, *args, **kwargs)

    monkeypatch.setattr(Store, "write_results", failing_three_times)
    before = metric(server, REQUESTS)
    summary = run_flow(source=str(source), db=str(db), base_url=server)
    store = Store(db)
    assert (summary["scored"], summary["skipped"], store.count("results")) == (1, 2, 3)
    sent = metric(server, REQUESTS) - before
    assert sent == sum(run.requests or 0 for run in store.runs())


def test_the_flow_reads_openai_logs_with_a_memory_tool_as_the_cli_does(tmp_path: Path, server: str) -> None:
    source = REPO_ROOT / "data" / "examples" / "openai-chat.jsonl"
    summary = run_flow(source=str(source), db=str(tmp_path / "openai.duckdb"), base_url=server,
                       memory_tools=["recall"], reports_dir=None)
    cli = subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(source), "--memory-tool", "recall",
                          "--base-url", server, "--db", str(tmp_path / "cli.duckdb"), "--json"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert cli.returncode == 0, cli.stderr
    expected = [json.loads(line) for line in cli.stdout.splitlines()]
    assert summary["scored"] == len(expected) > 0
    store = Store(tmp_path / "openai.duckdb")
    for want in expected:
        stored = store.latest_result(want["conversation_id"])
        assert stored is not None and stored.memory_keys == want["memory_keys"] and want["memory_keys"]
        for got_row, want_row in zip(stored.matrix, want["matrix"], strict=True):
            assert got_row == pytest.approx(want_row, abs=1e-9)


@pytest.mark.parametrize("ablation", ["remove", "replace"])
def test_the_flow_scores_a_screening_strategy_as_the_cli_does(tmp_path: Path, server: str, ablation: str) -> None:
    conversations = list(generate_many_corpus(1, 14, ManyShape(memories=24, used=3, chunks=1)))
    source = tmp_path / "many.jsonl"
    source.write_text("".join(c.model_dump_json(exclude_none=True) + "\n" for c in conversations))
    chunk_tokens = corpus_chunk_tokens(conversations)
    assert chunk_tokens is not None
    run_flow(source=str(source), db=str(tmp_path / "flow.duckdb"), base_url=server, strategy="hierarchical",
             chunk_tokens=chunk_tokens, reports_dir=None, ablation=ablation)
    cli = subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(source), "--strategy", "hierarchical",
                          "--chunk-tokens", str(chunk_tokens), "--base-url", server, "--ablation", ablation,
                          "--db", str(tmp_path / "cli.duckdb"), "--json"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert cli.returncode == 0, cli.stderr
    want = json.loads(cli.stdout)
    store = Store(tmp_path / "flow.duckdb")
    assert [run.config.get("ablation", "remove") for run in store.runs()] == [ablation]
    stored = store.latest_result(want["conversation_id"])
    assert stored is not None
    got = stored.to_score().model_dump()
    assert got["chunk_strategies"] == want["chunk_strategies"] == ["hierarchical"]
    assert got["noise_floor"] == pytest.approx(want["noise_floor"], abs=1e-9)
    for name in ("matrix", "screened"):
        for got_row, want_row in zip(got[name], want[name], strict=True):
            assert got_row == pytest.approx(want_row, abs=1e-9), name
