"""The formats through the command line: ``memscore convert`` round trips, ``memscore score`` reports bad records."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.cli import app
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.serve import load_model
from memscore_core.formats import InputOptions
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.conversation import score_conversation
from memscore_core.scoring.sending import pooled_sender
from memscore_core.settings import DEFAULT_MODEL_DIR, REPO_ROOT
from tests.formats.conftest import EXAMPLES

OPENAI = EXAMPLES / "openai-chat.jsonl"
LETTA = EXAMPLES / "letta-agent.af"


def memscore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memscore_core.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO_ROOT, env={**os.environ, "COLUMNS": "200"})


def embedded_scores(conversations: list[Conversation]) -> list[ConversationScore]:
    async def run() -> list[ConversationScore]:
        transport = httpx.ASGITransport(app=build_app(load_model(DEFAULT_MODEL_DIR), ServerOptions()))
        backend = VllmBackend(base_url="http://embedded/v1", transport=transport, retry=RetryPolicy(attempts=1))
        async with backend, pooled_sender(backend, ScoringConfig(), 2) as send:
            model = await backend.model()
            return [await score_conversation(c, send, ScoringConfig(), model=model) for c in conversations]
    return asyncio.run(run())


@pytest.mark.parametrize(("source", "tool"), [(OPENAI, "recall"), (LETTA, "conversation_search")])
def test_convert_writes_memscore_records_that_load_as_the_same_conversations(tmp_path: Path, source: Path,
                                                                              tool: str) -> None:
    out = tmp_path / "converted.jsonl"
    done = memscore("convert", str(source), "--to", "memscore", "--memory-tool", tool, "--out", str(out))
    assert done.returncode == 0, done.stderr
    originals = load_conversations([source], InputOptions(memory_tools=(tool,))).conversations
    converted = load_conversations([out], InputOptions(input_format="memscore")).conversations
    assert [item.conversation for item in converted] == [item.conversation for item in originals]
    assert f"wrote {len(originals)} conversations to {out}, invalid 0" in " ".join(done.stderr.split())


def test_scoring_a_converted_file_gives_the_numbers_of_the_original(tmp_path: Path) -> None:
    out = tmp_path / "converted.jsonl"
    assert memscore("convert", str(OPENAI), str(LETTA), "--memory-tool", "recall", "--memory-tool",
                    "conversation_search", "--out", str(out)).returncode == 0
    options = InputOptions(memory_tools=("recall", "conversation_search"))
    original = embedded_scores([i.conversation for i in load_conversations([OPENAI, LETTA], options).conversations])
    converted = embedded_scores([i.conversation for i in load_conversations([out]).conversations])
    assert [s.model_dump() for s in converted] == [s.model_dump() for s in original]
    assert any(key.startswith("conversation_search:") for s in original for key in s.memory_keys)


def bad_files(tmp_path: Path) -> list[Path]:
    """One file per format, each with one broken record and one good one (of what the store keeps)."""
    openai = tmp_path / "chats.jsonl"
    openai.write_text(json.dumps({"id": "ok-openai", "messages": [
        {"role": "user", "content": "Recalled memory: The user lives in Oslo.", "memory_key": "home"},
        {"role": "user", "content": "Where do I live?"}, {"role": "assistant", "content": "In Oslo."}]}) + "\n"
        + json.dumps({"id": "bad-openai", "messages": [{"role": "robot", "content": "x"}]}) + "\n")
    native = tmp_path / "native.jsonl"
    native.write_text(json.dumps({"id": "bad-native", "entries": [{"role": "user", "content": 3}]}) + "\n"
                      + json.dumps({"id": "ok-native", "entries": [
                          {"role": "tool", "content": "The user has a cat.", "memory_key": "pet"},
                          {"role": "user", "content": "Pet?"}, {"role": "assistant", "content": "A cat."}]}) + "\n")
    agents = json.loads(LETTA.read_text())
    good = agents["agents"][0]
    good["block_ids"], good["tool_ids"] = [], []
    good["in_context_message_ids"] = ["message-0", "message-1", "message-2"]
    good["messages"][1]["content"][0]["text"] = "Recalled memory: The user moved to the town of Shoulsy."
    bad = {**json.loads(json.dumps(good)), "id": "agent-1", "in_context_message_ids": ["message-0", "message-42"]}
    agents["agents"].append(bad)
    letta = tmp_path / "agents.af"
    letta.write_text(json.dumps(agents, indent=2))
    return [openai, native, letta]


def test_score_names_each_bad_record_of_every_format_and_scores_the_rest(tmp_path: Path) -> None:
    openai, native, letta = bad_files(tmp_path)
    done = memscore("score", str(openai), str(native), str(letta), "--db", str(tmp_path / "s.duckdb"), "--json",
                    "--no-cache")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    bad_line = next(n for n, line in enumerate(letta.read_text().splitlines(), 1) if '"message-42"' in line)
    assert done.returncode == 1
    assert errors == [
        f"error: {openai}:2: conversation 'bad-openai': field 'messages[0].role': unsupported role 'robot' "
        "(expected system, user, assistant or tool)",
        f"error: {native}:1: conversation 'bad-native': field 'entries[0].content': Input should be a valid string",
        f"error: {letta}:{bad_line}: conversation 'agents:agent-1': field 'agents[1].in_context_message_ids[1]': "
        "in-context message 'message-42' is not among the agent's messages"]
    scored = [json.loads(line) for line in done.stdout.splitlines()]
    assert [s["conversation_id"] for s in scored] == ["ok-openai", "ok-native", "agents:agent-0"]
    assert all(s["matrix"] for s in scored[:2])


def test_an_unknown_input_format_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["score", str(OPENAI), "--input-format", "csv"])
    assert result.exit_code == 2
    assert "must be auto, memscore, openai or letta" in result.output


def test_convert_writes_the_good_records_and_exits_1_naming_the_bad(tmp_path: Path) -> None:
    openai, _, _ = bad_files(tmp_path)
    out = tmp_path / "out.jsonl"
    done = memscore("convert", str(openai), "--out", str(out))
    assert done.returncode == 1
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["ok-openai"]
    assert "field 'messages[0].role'" in done.stderr



def test_convert_writes_only_memscore() -> None:
    result = CliRunner().invoke(app, ["convert", str(OPENAI), "--to", "openai", "--out", "x.jsonl"])
    assert result.exit_code == 2
    assert "only memscore can be written" in result.output
