"""Agent transcripts (tool calls, parts lists, tools, system memories) scored through the real vLLM CPU server
equal the embedded default, and the same conversation written in memscore's own format."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from memscore_core.backends.vllm import RetryPolicy, VllmBackend, chat_request_body
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.serve import load_model
from memscore_core.formats import InputOptions
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import ChatPrompt, RequestOptions
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.conversation import score_conversation
from memscore_core.scoring.sending import pooled_sender
from memscore_core.settings import DEFAULT_MODEL_DIR, REPO_ROOT

EXAMPLES = REPO_ROOT / "data" / "examples"
RULES = InputOptions(memory_tools=("recall", "conversation_search"))
OPENAI = [item.conversation for item in load_conversations([EXAMPLES / "openai-chat.jsonl"], RULES).conversations]
LETTA = [item.conversation for item in load_conversations([EXAMPLES / "letta-agent.af"], RULES).conversations]
NATIVE = [item.conversation for item in load_conversations([EXAMPLES / "memscore-chat.jsonl"]).conversations]
TOLERANCE = 1e-4  # nats; and 10 ppm of a divergence summed over many float32 token log-probs (149 nats: 1.4e-4)
RELATIVE = 1e-5


def embedded_post(body: dict[str, Any]) -> httpx.Response:
    """One request to the embedded server's app."""
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_app(load_model(DEFAULT_MODEL_DIR), ServerOptions()))
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            return await client.post("/v1/chat/completions", json=body)
    return asyncio.run(send())


def embedded() -> VllmBackend:
    transport = httpx.ASGITransport(app=build_app(load_model(DEFAULT_MODEL_DIR), ServerOptions()))
    return VllmBackend(base_url="http://embedded/v1", transport=transport, retry=RetryPolicy(attempts=1))


def scores(backend: VllmBackend, conversations: list[Conversation]) -> list[ConversationScore]:
    async def run() -> list[ConversationScore]:
        async with backend, pooled_sender(backend, ScoringConfig(), 4) as send:
            model = await backend.model()
            return list(await asyncio.gather(*(score_conversation(c, send, ScoringConfig(), model=model)
                                               for c in conversations)))
    return asyncio.run(run())


@pytest.fixture(scope="module")
def through_vllm(vllm_url: str) -> list[ConversationScore]:
    return scores(VllmBackend(base_url=vllm_url, model="memscore-tiny"), OPENAI + LETTA)


@pytest.fixture(scope="module")
def through_embedded() -> list[ConversationScore]:
    return scores(embedded(), OPENAI + LETTA)


def assert_same_numbers(got: ConversationScore, want: ConversationScore) -> None:
    assert (got.memory_keys, got.response_entry_indices, got.response_tokens) == (
        want.memory_keys, want.response_entry_indices, want.response_tokens)
    for field in ("matrix", "signed_matrix"):
        for got_row, want_row in zip(getattr(got, field), getattr(want, field), strict=True):
            assert [cell is None for cell in got_row] == [cell is None for cell in want_row]
            assert [c for c in got_row if c is not None] == pytest.approx(
                [c for c in want_row if c is not None], abs=TOLERANCE, rel=RELATIVE)
    assert [c is None for c in got.drop_all] == [c is None for c in want.drop_all]
    assert [c for c in got.drop_all if c is not None] == pytest.approx(
        [c for c in want.drop_all if c is not None], abs=TOLERANCE, rel=RELATIVE)


def test_a_prompt_with_tools_parts_and_calls_is_the_same_tokens_and_logprobs_on_vllm(vllm_url: str) -> None:
    conversation = OPENAI[0]
    prompt = ChatPrompt(conversation.prefix_messages() + [e.api_message() for e in conversation.entries],
                        conversation.tools)
    body = chat_request_body("memscore-tiny", prompt, RequestOptions())
    remote = httpx.post(f"{vllm_url}/chat/completions", json=body, timeout=120).json()
    local = embedded_post(body)
    assert remote["prompt_token_ids"] == local.json()["prompt_token_ids"]
    first = [np.array([next(iter(entry.values()))["logprob"] for entry in answer["prompt_logprobs"][1:]])
             for answer in (remote, local.json())]
    assert np.abs(first[0] - first[1]).max() < TOLERANCE


def test_vllm_refuses_tools_without_tool_choice_none_as_the_embedded_server_does(vllm_url: str) -> None:
    body = {"model": "memscore-tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1,
            "prompt_logprobs": 0, "tools": OPENAI[0].tools}
    remote = httpx.post(f"{vllm_url}/chat/completions", json=body, timeout=60)
    local = embedded_post(body)
    assert remote.status_code == local.status_code == 400
    assert remote.json()["error"]["message"] == local.json()["error"]["message"]


@pytest.mark.parametrize("index", range(len(OPENAI + LETTA)), ids=[c.id for c in OPENAI + LETTA])
def test_agent_transcripts_score_through_vllm_to_the_numbers_of_the_embedded_default(
        index: int, through_vllm: list[ConversationScore], through_embedded: list[ConversationScore]) -> None:
    assert_same_numbers(through_vllm[index], through_embedded[index])


def test_tool_call_only_turns_are_scored_responses_through_vllm(through_vllm: list[ConversationScore]) -> None:
    agent = through_vllm[0]
    assert agent.response_entry_indices[0] == 1 and agent.response_tokens[0] > 10
    assert [row[0] for row in agent.matrix] == [None, pytest.approx(0.0, abs=TOLERANCE),
                                                pytest.approx(0.0, abs=TOLERANCE)]


def test_the_openai_transcript_scores_as_the_same_conversation_in_memscores_format(
        vllm_url: str, through_vllm: list[ConversationScore]) -> None:
    native = next(c for c in NATIVE if c.id == OPENAI[0].id)
    [again] = scores(VllmBackend(base_url=vllm_url, model="memscore-tiny"), [native])
    assert_same_numbers(again, through_vllm[0])


def test_system_memories_are_scored_through_vllm(vllm_url: str) -> None:
    saved = next(c for c in NATIVE if c.id == "saved-memories")
    [remote] = scores(VllmBackend(base_url=vllm_url, model="memscore-tiny"), [saved])
    [local] = scores(embedded(), [saved])
    assert remote.memory_entry_indices[:2] == [None, None]
    assert_same_numbers(remote, local)


def test_memscore_score_prints_the_same_numbers_through_vllm_and_the_embedded_default(vllm_url: str,
                                                                                      tmp_path: Path) -> None:
    def score_cli(name: str, *extra: str) -> list[dict[str, Any]]:
        done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(EXAMPLES / "openai-chat.jsonl"),
                               str(EXAMPLES / "letta-agent.af"), "--memory-tool", "recall", "--memory-tool",
                               "conversation_search", "--json", "--no-cache", "--db", str(tmp_path / f"{name}.duckdb"),
                               *extra], capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        return [json.loads(line) for line in done.stdout.splitlines()]

    remote = score_cli("vllm", "--base-url", vllm_url, "--model", "memscore-tiny")
    local = score_cli("embedded")
    assert [r["conversation_id"] for r in remote] == [r["conversation_id"] for r in local]
    for got, want in zip(remote, local, strict=True):
        assert_same_numbers(ConversationScore.model_validate(got), ConversationScore.model_validate(want))
