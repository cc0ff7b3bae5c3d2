"""Agent transcripts scored on the embedded model, over a real loopback server that records every request body."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.serve import load_model
from memscore_core.model.conversation import Conversation, Entry, ToolCall, ToolFunction
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.conversation import score_conversation
from memscore_core.scoring.sending import pooled_sender
from memscore_core.settings import DEFAULT_MODEL_DIR
from tests.support.threaded_server import serve_in_thread

KEY_PARAMETER = {"type": "object", "properties": {"key": {"type": "string"}}}
TOOLS = [{"type": "function", "function": {"name": "recall", "description": "Recall a note about the user.",
                                           "parameters": KEY_PARAMETER}}]


def call(call_id: str, key: str) -> ToolCall:
    return ToolCall(id=call_id, function=ToolFunction(name="recall", arguments=f'{{"key": "{key}"}}'))


AGENT = Conversation(id="agent", system_prompt="You are a concise assistant.", tools=TOOLS, entries=[
    Entry(role="user", content="Which town do I live in?"),
    Entry(role="assistant", content=None, tool_calls=[call("c1", "home/city")]),
    Entry(role="tool", content="The user moved to the town of Shoulsy.", tool_call_id="c1", name="recall",
          memory_key="home/city"),
    Entry(role="assistant", content="You live in the town of Shoulsy."),
    Entry(role="user", content="What did we call my project? And my dentist room?"),
    Entry(role="assistant", content="Let me check.", tool_calls=[call("c2", "work/project"),
                                                                  call("c3", "calendar/dentist-room")]),
    Entry(role="tool", content="The codename of the user's project is Louquaithvys.", tool_call_id="c2",
          memory_key="work/project"),
    Entry(role="tool", content="The dentist room for the user is Z836.", tool_call_id="c3",
          memory_key="calendar/dentist-room"),
    Entry(role="assistant", content="Your project is codenamed Louquaithvys. Your dentist room is Z836."),
])


@contextmanager
def recording_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The embedded app behind a real HTTP listener on loopback; yields its URL and the JSON bodies it received."""
    app = build_app(load_model(DEFAULT_MODEL_DIR), ServerOptions())
    bodies: list[dict[str, Any]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    method, path = head.split(b" ", 2)[:2]
                    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    body = await reader.readexactly(length)
                    if body:
                        bodies.append(orjson.loads(body))
                    answer = await client.request(method.decode(), path.decode(), content=body,
                                                  headers={"content-type": "application/json"})
                    writer.write(f"HTTP/1.1 {answer.status_code} X\r\ncontent-type: application/json\r\n"
                                 f"content-length: {len(answer.content)}\r\n\r\n".encode() + answer.content)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            finally:
                writer.close()

    with serve_in_thread(handle) as port:
        yield f"http://127.0.0.1:{port}/v1", bodies


def score_at(url: str, conversation: Conversation) -> ConversationScore:
    async def run() -> ConversationScore:
        backend = VllmBackend(base_url=url, retry=RetryPolicy(attempts=1))
        async with backend, pooled_sender(backend, ScoringConfig(), 2) as send:
            return await score_conversation(conversation, send, ScoringConfig(), model=await backend.model())
    return asyncio.run(run())


@pytest.fixture(scope="module")
def scored() -> tuple[ConversationScore, list[dict[str, Any]]]:
    with recording_server() as (url, bodies):
        return score_at(url, AGENT), bodies


def sent_without(bodies: list[dict[str, Any]], content: str) -> dict[str, Any]:
    """The one ablation body whose messages lack the tool result ``content``."""
    full = max(len(body["messages"]) for body in bodies)
    matching = [body for body in bodies if len(body["messages"]) < full
                and all(m["content"] != content for m in body["messages"])
                and sum(m["role"] == "tool" for m in body["messages"]) == 2]
    assert len(matching) == 1
    return matching[0]


def test_removing_a_tool_result_memory_sends_the_turn_without_the_call_that_asked_for_it(
        scored: tuple[ConversationScore, list[dict[str, Any]]]) -> None:
    _, bodies = scored
    body = sent_without(bodies, "The codename of the user's project is Louquaithvys.")
    turn = next(m for m in body["messages"] if m["content"] == "Let me check.")
    assert [c["id"] for c in turn["tool_calls"]] == ["c3"]


def test_removing_the_only_result_of_a_call_only_turn_sends_neither_the_turn_nor_the_result(
        scored: tuple[ConversationScore, list[dict[str, Any]]]) -> None:
    _, bodies = scored
    body = next(b for b in bodies if b["messages"][1]["content"] == "Which town do I live in?"
                and b["messages"][2]["content"] == "You live in the town of Shoulsy.")
    assert not any(c["id"] == "c1" for m in body["messages"] for c in m.get("tool_calls", ()))


def test_every_request_sends_the_tools_with_tool_choice_none(
        scored: tuple[ConversationScore, list[dict[str, Any]]]) -> None:
    _, bodies = scored
    chat = [body for body in bodies if "messages" in body]
    assert chat and all(body["tools"] == TOOLS and body["tool_choice"] == "none" for body in chat)


def test_a_tool_call_only_turn_is_a_scored_response(scored: tuple[ConversationScore, list[dict[str, Any]]]) -> None:
    score, _ = scored
    tokenizer = load_model(DEFAULT_MODEL_DIR).tokenizer
    rendered_call = '<tool_call>\n{"name": "recall", "arguments": {"key": "home/city"}}\n</tool_call>'
    assert score.response_entry_indices == [1, 3, 5, 8]
    assert score.response_tokens[0] == len(tokenizer.encode(rendered_call, add_special_tokens=False))
    assert score.matrix[1][0] is not None and score.matrix[2][0] is not None


def test_the_turn_a_removal_changed_is_null_and_unchanged_responses_are_scored(
        scored: tuple[ConversationScore, list[dict[str, Any]]]) -> None:
    score, _ = scored
    assert score.memory_keys == ["home/city", "work/project", "calendar/dentist-room"]
    home, project, room = score.matrix
    assert home[0] is None and all(cell is not None for cell in home[1:])
    assert project[2] is None and room[2] is None
    assert all(cell is not None for cell in project[:2] + project[3:])
    assert score.drop_all[2] is None


def test_the_requests_are_one_baseline_one_per_memory_and_one_drop_all(
        scored: tuple[ConversationScore, list[dict[str, Any]]]) -> None:
    score, bodies = scored
    assert score.requests == 1 + 3 + 1
    assert len([body for body in bodies if "messages" in body]) == score.requests
