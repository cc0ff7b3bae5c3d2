"""The local app: prefix reuse, protocol details, keys, metrics, generation and GPU emulation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from memscore_core.backends.vllm import VllmBackend
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.model import LocalModel
from memscore_core.embedded.serve import embedded_transport
from memscore_core.model.prompt import ChatPrompt, RequestOptions
from memscore_core.settings import DEFAULT_MODEL_DIR
from tests.embedded.conftest import call

MESSAGES = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "The dog is called Biscuit."},
            {"role": "user", "content": "The cat is called Miso."},
            {"role": "user", "content": "What is the dog called?"},
            {"role": "assistant", "content": "The dog is called Biscuit."}]


def scoring_body(messages: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"messages": messages, "max_tokens": 1, "prompt_logprobs": 0, "add_generation_prompt": False,
            "return_token_ids": True, **extra}


def test_chat_scoring_is_shaped_like_vllm(capture_model: LocalModel) -> None:
    body = call(capture_model, "POST", "/v1/chat/completions", scoring_body(MESSAGES)).json()
    entries = body["prompt_logprobs"]
    assert entries[0] is None
    assert len(entries) == len(body["prompt_token_ids"]) == body["usage"]["prompt_tokens"]
    assert all(len(entry) == 1 for entry in entries[1:])
    assert [int(next(iter(e))) for e in entries[1:]] == body["prompt_token_ids"][1:]
    text = "".join(next(iter(e.values()))["decoded_token"] for e in entries[1:])
    assert text == capture_model.render(MESSAGES, add_generation_prompt=False)[len("<|im_start|>"):]


def test_top_k_lists_the_actual_token_first_then_alternatives_by_rank(capture_model: LocalModel) -> None:
    body = call(capture_model, "POST", "/v1/chat/completions", scoring_body(MESSAGES, prompt_logprobs=3)).json()
    for entry in body["prompt_logprobs"][1:]:
        infos = list(entry.values())
        alternatives = [info["rank"] for info in infos[1:]]
        assert alternatives == sorted(alternatives) and len(entry) in (3, 4)
        assert infos[0]["rank"] >= 1


def test_an_unknown_model_is_not_found(capture_model: LocalModel) -> None:
    response = call(capture_model, "POST", "/v1/chat/completions", scoring_body(MESSAGES, model="nope"))
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFoundError"


def test_invalid_json_is_a_bad_request(capture_model: LocalModel) -> None:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_app(capture_model, ServerOptions()))
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            return await client.post("/v1/chat/completions", content=b"{not json")
    response = asyncio.run(send())
    assert (response.status_code, response.json()["error"]["type"]) == (400, "BadRequestError")


def test_an_api_key_is_required_on_v1_paths_when_set(capture_model: LocalModel) -> None:
    options = ServerOptions(api_key="s3cret")
    assert call(capture_model, "GET", "/v1/models", options=options).json() == {"error": "Unauthorized"}
    assert call(capture_model, "GET", "/v1/models", options=options,
                headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert call(capture_model, "GET", "/v1/models", options=options,
                headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert call(capture_model, "GET", "/health", options=options).status_code == 200


def test_models_lists_the_served_name_and_its_context_length(capture_model: LocalModel) -> None:
    [model] = call(capture_model, "GET", "/v1/models", options=ServerOptions(max_model_len=2048)).json()["data"]
    assert (model["id"], model["max_model_len"]) == ("capture-model", 2048)


def test_generation_is_bounded_and_never_returns_the_end_marker(capture_model: LocalModel) -> None:
    body = call(capture_model, "POST", "/v1/chat/completions",
                {"messages": MESSAGES[:4], "max_tokens": 5, "return_token_ids": True}).json()
    choice = body["choices"][0]
    assert len(choice["token_ids"]) <= 5
    assert "<|im_end|>" not in choice["message"]["content"]
    assert choice["finish_reason"] == ("stop" if len(choice["token_ids"]) < 5 else choice["finish_reason"])


def test_metrics_count_requests_and_prompt_tokens(capture_model: LocalModel) -> None:
    async def run() -> tuple[str, int]:
        transport = httpx.ASGITransport(app=build_app(capture_model, ServerOptions()))
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            body = (await client.post("/v1/chat/completions", json=scoring_body(MESSAGES))).json()
            return (await client.get("/metrics")).text, body["usage"]["prompt_tokens"]
    text, tokens = asyncio.run(run())
    assert 'vllm:request_success_total{model_name="capture-model"} 1' in text
    assert f'vllm:prompt_tokens_total{{model_name="capture-model"}} {tokens}' in text


def test_gpu_emulation_holds_each_request_and_caps_requests_in_flight(capture_model: LocalModel) -> None:
    options = ServerOptions(emulate_gpu=True, prefill_tps=500.0, slots=2)

    async def run() -> tuple[float, str, int]:
        transport = httpx.ASGITransport(app=build_app(capture_model, options))
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            start = time.perf_counter()
            bodies = await asyncio.gather(*(client.post("/v1/chat/completions", json=scoring_body(MESSAGES))
                                            for _ in range(4)))
            elapsed = time.perf_counter() - start
            return elapsed, (await client.get("/metrics")).text, bodies[0].json()["usage"]["prompt_tokens"]
    elapsed, text, tokens = asyncio.run(run())
    hold = tokens / 500.0
    assert elapsed >= 2 * hold * 0.95
    busy = float(next(line.rsplit(" ", 1)[1] for line in text.splitlines()
                      if line.startswith("memscore:busy_slot_seconds_total")))
    active = float(next(line.rsplit(" ", 1)[1] for line in text.splitlines()
                        if line.startswith("memscore:active_seconds_total")))
    assert busy / active <= 2.0 + 1e-6
    assert busy == pytest.approx(4 * hold, rel=0.5)


def test_the_client_scores_through_the_embedded_transport() -> None:
    async def run() -> tuple[str, int]:
        backend = VllmBackend(base_url="http://memscore.embedded/v1", transport=embedded_transport(DEFAULT_MODEL_DIR))
        async with backend:
            scored = await backend.score(ChatPrompt(MESSAGES), RequestOptions())
            return await backend.model(), len(scored)
    name, tokens = asyncio.run(run())
    assert name == "memscore-tiny" and tokens > 20


def test_the_embedded_app_and_a_real_loopback_server_answer_alike(server: str) -> None:
    async def embedded() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=embedded_transport(DEFAULT_MODEL_DIR),
                                     base_url="http://memscore.embedded/v1") as client:
            return (await client.post("/chat/completions", json=scoring_body(MESSAGES, prompt_logprobs=2))).json()
    local = asyncio.run(embedded())
    remote = httpx.post(f"{server}/chat/completions", json=scoring_body(MESSAGES, prompt_logprobs=2), timeout=60).json()
    for body in (local, remote):
        body.pop("id")
        body.pop("created")
    assert local == remote
