"""Agent transcripts end to end through ``memscore score``: stored, then read back by ``show`` and ``top``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.formats.conftest import EXAMPLES
from tests.formats.test_cli import memscore

LETTA = EXAMPLES / "letta-agent.af"
OPENAI = EXAMPLES / "openai-chat.jsonl"


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    db = tmp_path_factory.mktemp("formats-cli") / "agents.duckdb"
    done = memscore("score", str(LETTA), str(OPENAI), "--memory-tool", "recall", "--memory-tool",
                    "conversation_search", "--db", str(db), "--json", "--no-cache")
    assert done.returncode == 0, done.stderr
    return db, [json.loads(line) for line in done.stdout.splitlines()]


def test_a_letta_agent_file_scores_through_the_cli_with_its_blocks_as_memories(
        scored: tuple[Path, list[dict[str, Any]]]) -> None:
    _, results = scored
    agent = results[0]
    assert agent["conversation_id"] == "letta-agent:agent-0"
    assert agent["memory_keys"] == ["human", "persona", "conversation_search:call_9"]
    assert agent["memory_entry_indices"] == [None, None, 4]
    assert agent["matrix"][2][1] is None and all(cell is not None for cell in agent["matrix"][0])


def test_show_reads_the_stored_agent_back_with_its_system_memories(scored: tuple[Path, list[dict[str, Any]]]) -> None:
    db, results = scored
    done = memscore("show", "letta-agent:agent-0", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "human" in done.stdout and "persona" in done.stdout
    assert f"{results[0]['matrix'][0][0]:.2f}" in done.stdout


def test_top_lists_block_and_tool_result_memories_with_their_stored_importance(
        scored: tuple[Path, list[dict[str, Any]]]) -> None:
    db, results = scored
    listed = {row["memory_key"]: row["importance"] for row in json.loads(
        memscore("top", "--db", str(db), "--json", "--limit", "100").stdout)}
    for result in results:
        for key, weight in zip(result["memory_keys"], result["memory_weights"], strict=True):
            assert listed[key] == pytest.approx(weight)


def test_a_rerun_skips_every_agent_transcript_and_prints_the_same_results(
        scored: tuple[Path, list[dict[str, Any]]]) -> None:
    db, results = scored
    again = memscore("score", str(LETTA), str(OPENAI), "--memory-tool", "recall", "--memory-tool",
                     "conversation_search", "--db", str(db), "--json")
    assert again.returncode == 0, again.stderr
    assert [json.loads(line)["matrix"] for line in again.stdout.splitlines()] == [r["matrix"] for r in results]
    assert "scored 0, skipped 3 already scored" in " ".join(again.stderr.split())
