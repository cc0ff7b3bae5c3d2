"""The embedded server hands messages and tools to the chat template as vLLM 0.32 does (checked against the real
server in tests/vllm), and refuses tools without ``tool_choice: none`` with vLLM's message."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.model import LocalModel
from memscore_core.embedded.protocol import ChatRequest
from memscore_core.embedded.serve import load_model
from memscore_core.settings import DEFAULT_MODEL_DIR

TOOLS = [{"type": "function", "function": {"name": "recall", "parameters": {"type": "object"}, "x-extra": 1}}]


@pytest.fixture(scope="module")
def model() -> LocalModel:
    return load_model(DEFAULT_MODEL_DIR)


def post(model: LocalModel, path: str, body: dict[str, Any]) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_app(model, ServerOptions()))
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            return await client.post(path, json=body)
    return asyncio.run(send())


def test_tools_without_tool_choice_none_are_refused_as_vllm_refuses_them(model: LocalModel) -> None:
    answer = post(model, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "tools": TOOLS,
                                                  "prompt_logprobs": 0, "max_tokens": 1})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set')


def test_tools_reach_the_template_as_vllm_keeps_them() -> None:
    request = ChatRequest.model_validate({"messages": [{"role": "user", "content": "hi"}], "tools": TOOLS,
                                          "tool_choice": "none"})
    assert request.template_tools() == [{"type": "function", "function": {
        "name": "recall", "description": None, "parameters": {"type": "object"}}}]


def test_messages_reach_the_template_as_vllm_hands_them_over() -> None:
    request = ChatRequest.model_validate({"messages": [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "name": "u"},
        {"role": "assistant", "content": None, "tool_call_id": "x", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "recall", "arguments": '{"key": "k"}'}},
            {"id": "c2", "type": "function", "function": {"name": "recall", "arguments": "not json"}}]},
        {"role": "tool", "content": "r", "tool_call_id": "c1", "weight": 1}]})
    assert request.messages == [
        {"role": "user", "content": "a\nb", "name": "u"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "recall", "arguments": {"key": "k"}}},
            {"id": "c2", "type": "function", "function": {"name": "recall", "arguments": {}}}]},
        {"role": "tool", "content": "r", "tool_call_id": "c1"}]


def test_tokenize_renders_the_tools_as_chat_completions_does(model: LocalModel) -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}]
    body = {"messages": messages, "tools": TOOLS, "tool_choice": "none", "add_generation_prompt": False}
    tokens = post(model, "/tokenize", body).json()["tokens"]
    chat = post(model, "/v1/chat/completions", {**body, "prompt_logprobs": 0, "max_tokens": 1,
                                                "return_token_ids": True}).json()
    assert tokens == chat["prompt_token_ids"]
    assert "# Tools" in model.render(ChatRequest.model_validate(body).messages, add_generation_prompt=False,
                                     tools=ChatRequest.model_validate(body).template_tools())
