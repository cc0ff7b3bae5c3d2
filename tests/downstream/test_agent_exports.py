"""Exports of agent transcripts rebuild what the model saw: tool calls, tools and system-prompt memories."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import polars as pl
import pytest

from memscore_core.downstream.export import ExportOptions, export_dataset
from memscore_core.store import Store
from tests.store.test_shared_store import AGENT, agent_score

TOOLS = AGENT.tools


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """The agent conversation scored: its final answer (entry 3) loses 4 nats over 4 tokens without memories."""
    store = Store(tmp_path / "memscore.duckdb")
    score = agent_score()
    run_id = store.record_run_start(model="tiny", backend="embedded", strategy="exact", config={}, config_hash="cfg")
    store.upsert_conversation(AGENT, score.content_hash, "agent.jsonl")
    store.write_result(run_id, score, "cfg")
    return store


def sft(store: Store, tmp_path: Path, **options: object) -> dict[str, object]:
    directory, _ = asyncio.run(export_dataset(store, ExportOptions(threshold=0.9, **options), tmp_path / "out"))
    [record] = [json.loads(line) for line in (directory / "train.jsonl").read_text().splitlines()]
    return record


def test_an_sft_record_keeps_the_system_memory_tool_call_result_and_tools(store: Store, tmp_path: Path) -> None:
    record = sft(store, tmp_path, keep_memories=True)
    assert record["tools"] == TOOLS
    assert record["messages"] == [
        {"role": "system", "content": "You are an agent.\n\nThe user is Ada."},
        {"role": "user", "content": "Where do I live?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call-1", "type": "function", "function": {"name": "recall", "arguments": "{\"key\": \"home\"}"}}]},
        {"role": "tool", "content": "Ada lives in Varnholt.", "tool_call_id": "call-1", "name": "recall"},
        {"role": "assistant", "content": "<think>The tool said so.</think>In Varnholt."}]


def test_without_memories_the_block_the_tool_result_and_the_call_that_asked_for_it_are_removed(
        store: Store, tmp_path: Path) -> None:
    record = sft(store, tmp_path)
    assert record["messages"] == [
        {"role": "system", "content": "You are an agent.\n\n"},  # the slot's block cut, the prompt's text kept
        {"role": "user", "content": "Where do I live?"},
        {"role": "assistant", "content": "<think>The tool said so.</think>In Varnholt."}]


def test_parquet_messages_carry_tool_calls_and_the_tools_as_json(store: Store, tmp_path: Path) -> None:
    directory, _ = asyncio.run(export_dataset(store, ExportOptions(format="parquet", threshold=0.9,
                                                                   keep_memories=True), tmp_path / "out"))
    row = pl.read_parquet(directory / "train.parquet").row(0, named=True)
    assert row["messages"][2]["tool_calls"][0]["function"] == {"name": "recall", "arguments": "{\"key\": \"home\"}"}
    assert row["messages"][3]["tool_call_id"] == "call-1"
    assert json.loads(row["tools"]) == TOOLS
