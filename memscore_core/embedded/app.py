"""The ASGI app: vLLM's OpenAI-compatible endpoints over a :class:`LocalModel`.

Optionally emulates a GPU server for benchmarks: at most ``slots`` requests in flight, each held for
``prompt_tokens / prefill_tps`` seconds while its real computation runs alongside. Without the forward
pass (``forward_pass=False``) the answers keep the real tokenizer, chat template and response shape but
carry stand-in log-probabilities (:func:`stand_in_logprobs`), so several emulated servers on a few cores
measure the timing they emulate rather than the cores they share.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
import orjson
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from memscore_core.embedded.metrics import ServerMetrics
from memscore_core.embedded.model import LocalModel, PromptLogprobs
from memscore_core.embedded.protocol import ApiError, ChatRequest, CompletionRequest, TokenizeRequest


@dataclass(frozen=True)
class ServerOptions:
    api_key: str | None = None
    max_model_len: int = 4096
    max_logprobs: int = 20
    emulate_gpu: bool = False
    prefill_tps: float = 4000.0
    slots: int = 8
    forward_pass: bool = True


class _Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def build_app(model: LocalModel, options: ServerOptions) -> Starlette:
    """The app; ``model`` is shared by every request (its computations are serialised)."""
    metrics = ServerMetrics(model=model.name)
    slots = asyncio.Semaphore(options.slots) if options.emulate_gpu else None
    one_at_a_time = anyio.CapacityLimiter(1)

    async def compute(work: Callable[[], Any]) -> Any:
        """Run ``work`` in a worker thread, one request's work at a time: the model serialises its
        computations anyway, and queued requests then neither hold threads nor split its prefix cache."""
        return await anyio.to_thread.run_sync(work, limiter=one_at_a_time)

    async def run(prompt_tokens: int, work: Callable[[], Any]) -> Any:
        """Run ``work``; under emulation, in a slot, for at least the emulated prefill time."""
        if slots is None:
            metrics.started()
            try:
                return await compute(work)
            finally:
                metrics.finished()
        async with slots:
            metrics.started()
            try:
                result, _ = await asyncio.gather(compute(work),
                                                 asyncio.sleep(prompt_tokens / options.prefill_tps))
                return result
            finally:
                metrics.finished()

    def check(body: Any, model_name: str | None, prompt_logprobs: int | None, stream: bool) -> None:
        if model_name is not None and model_name != model.name:
            raise ApiError(f"The model `{model_name}` does not exist.", status=404, param="model",
                           kind="NotFoundError")
        if prompt_logprobs is not None:
            if stream:
                raise ApiError("`prompt_logprobs` are not available when `stream=True`. (parameter=prompt_logprobs)",
                               param="prompt_logprobs")
            requested = int(model.model.config.vocab_size) if prompt_logprobs < 0 else prompt_logprobs
            if requested > options.max_logprobs:
                raise ApiError(f"Requested prompt logprobs of {requested}, which is greater than max allowed: "
                               f"{options.max_logprobs} (parameter=prompt_logprobs, value={requested})",
                               param="prompt_logprobs")

    def budget(prompt_len: int, max_tokens: int | None) -> int:
        limit = options.max_model_len
        if prompt_len > limit:
            raise ApiError(f"This model's maximum context length is {limit} tokens. However, your prompt contains "
                           f"at least {prompt_len} input tokens, which exceeds this limit even without any output "
                           f"tokens. Please reduce the length of the input prompt. (parameter=input_tokens, "
                           f"value={prompt_len})", param="input_tokens")
        if prompt_len == limit and max_tokens is None:
            raise ApiError("max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)",
                           param="max_tokens")
        if prompt_len == limit:
            raise ApiError(f"The decoder prompt (length {prompt_len}) plus the number of requested output tokens "
                           f"(at least 1) is longer than the maximum model length of {limit}. Make sure that "
                           "`max_model_len` is no smaller than the number of text tokens (prompt + requested "
                           "output tokens).")
        if max_tokens is None:
            return limit - prompt_len
        if prompt_len + max_tokens > limit:
            raise ApiError(f"This model's maximum context length is {limit} tokens. However, you requested "
                           f"{max_tokens} output tokens and your prompt contains at least {prompt_len} input "
                           f"tokens, for a total of at least {prompt_len + max_tokens} tokens. Please reduce the "
                           "length of the input prompt or the number of requested output tokens. "
                           f"(parameter=max_tokens, value={max_tokens})", param="max_tokens")
        return max_tokens

    def score(ids: list[int], top_k: int | None, max_tokens: int) -> tuple[PromptLogprobs | None, list[int], str]:
        if not options.forward_pass:
            end = [min(model.eos_ids)] if max_tokens else []
            return (None if top_k is None else stand_in_logprobs(model, ids, top_k)), end, "stop" if end else "length"
        if top_k is None:
            generated, reason = model.generate(ids, max_tokens) if max_tokens else ([], "length")
            return None, generated, reason
        scored = model.prompt_logprobs(ids, top_k)
        if max_tokens == 0:
            return scored, [], "length"
        if max_tokens == 1:
            token = model.next_token(ids)
            return scored, [token], "stop" if token in model.eos_ids else "length"
        generated, reason = model.generate(ids, max_tokens)
        return scored, generated, reason

    def usage(prompt_len: int, completion: int) -> dict[str, Any]:
        return {"prompt_tokens": prompt_len, "total_tokens": prompt_len + completion, "completion_tokens": completion,
                "prompt_tokens_details": None}

    async def chat(request: Request) -> Response:
        body = await _parse(request, ChatRequest)
        assert isinstance(body, ChatRequest)
        check(body, body.model, body.prompt_logprobs, body.stream)
        text = model.render(body.messages, add_generation_prompt=body.add_generation_prompt and
                            not body.continue_final_message, continue_final_message=body.continue_final_message,
                            tools=body.template_tools())
        ids = model.encode(text)
        max_tokens = budget(len(ids), body.max_tokens)
        scored, generated, reason = await run(len(ids), lambda: score(ids, body.prompt_logprobs, max_tokens))
        metrics.prompt_tokens += len(ids)
        metrics.generation_tokens += len(generated)
        metrics.successes += 1
        content = "".join(model.decode(generated)).removesuffix("<|im_end|>")
        return _Json({
            "id": f"chatcmpl-{secrets.token_hex(8)}", "object": "chat.completion", "created": int(time.time()),
            "model": model.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                                 "annotations": None, "audio": None, "function_call": None,
                                                 "reasoning": None},
                         "logprobs": None, "finish_reason": reason, "stop_reason": None,
                         "token_ids": generated if body.return_token_ids else None}],
            "service_tier": None, "system_fingerprint": f"memscore-local-{model.name}",
            "usage": usage(len(ids), len(generated)),
            "prompt_logprobs": _prompt_logprobs_json(scored),
            "prompt_token_ids": ids if body.return_token_ids else None, "prompt_text": None, **_TRAILER,
        })

    async def completions(request: Request) -> Response:
        body = await _parse(request, CompletionRequest)
        assert isinstance(body, CompletionRequest)
        check(body, body.model, body.prompt_logprobs, body.stream)
        ids = list(body.prompt) if isinstance(body.prompt, list) else model.encode(body.prompt)
        max_tokens = budget(len(ids), body.max_tokens)
        scored, generated, reason = await run(len(ids), lambda: score(ids, body.prompt_logprobs, max_tokens))
        metrics.prompt_tokens += len(ids)
        metrics.generation_tokens += len(generated)
        metrics.successes += 1
        return _Json({
            "id": f"cmpl-{secrets.token_hex(8)}", "object": "text_completion", "created": int(time.time()),
            "model": model.name,
            "choices": [{"index": 0, "text": "".join(model.decode(generated)), "logprobs": None,
                         "finish_reason": reason, "stop_reason": None,
                         "token_ids": generated if body.return_token_ids else None,
                         "prompt_token_ids": ids if body.return_token_ids else None,
                         "prompt_logprobs": _prompt_logprobs_json(scored)}],
            "service_tier": None, "system_fingerprint": f"memscore-local-{model.name}",
            "usage": usage(len(ids), len(generated)), **_TRAILER,
        })

    async def tokenize(request: Request) -> Response:
        body = await _parse(request, TokenizeRequest)
        assert isinstance(body, TokenizeRequest)
        if body.messages is not None:
            text = model.render(body.messages, add_generation_prompt=body.add_generation_prompt,
                                continue_final_message=body.continue_final_message, tools=body.template_tools())
        elif body.prompt is not None:
            text = body.prompt
        else:
            raise ApiError("Either `messages` or `prompt` is required.")
        ids = model.encode(text)
        return _Json({"count": len(ids), "max_model_len": options.max_model_len, "tokens": ids,
                      "token_strs": model.token_strings(ids) if body.return_token_strs else None})

    async def models(_: Request) -> Response:
        return _Json({"object": "list", "data": [{
            "id": model.name, "object": "model", "created": int(time.time()), "owned_by": "memscore",
            "root": model.name, "parent": None, "max_model_len": options.max_model_len, "permission": []}]})

    async def health(_: Request) -> Response:
        return Response(status_code=200)

    async def prometheus(_: Request) -> Response:
        return PlainTextResponse(metrics.render(model.computed_tokens, model.reused_tokens))

    routes = [Route("/v1/chat/completions", _guarded(chat, options), methods=["POST"]),
              Route("/v1/completions", _guarded(completions, options), methods=["POST"]),
              Route("/tokenize", _guarded(tokenize, options), methods=["POST"]),
              Route("/v1/models", _guarded(models, options), methods=["GET"]),
              Route("/health", health, methods=["GET"]),
              Route("/metrics", prometheus, methods=["GET"])]
    return Starlette(routes=routes)


_TRAILER = {"kv_transfer_params": None, "ec_transfer_params": None, "metrics": None}
STAND_IN_CONTEXT = 4


def stand_in_logprobs(model: LocalModel, ids: list[int], top_k: int) -> PromptLogprobs:
    """Log-probabilities in (−10, 0] hashed from each token and the ``STAND_IN_CONTEXT`` before it, no forward pass.

    Deterministic, and removing a memory changes those of the tokens right after it, as a model's would. Each
    actual token ranks first; the other top-k entries are the following token ids, each one nat lower.
    """
    tokens = np.asarray(ids, dtype=np.uint64)
    mixed = np.zeros(len(ids) - 1, dtype=np.uint64)
    for back in range(STAND_IN_CONTEXT + 1):
        mixed = mixed * np.uint64(1_000_003) + np.concatenate([np.zeros(back, dtype=np.uint64), tokens])[1:len(ids)]
    logprobs = -((mixed % np.uint64(10_000)).astype(np.float32) / np.float32(1_000.0))
    size, vocab = len(ids) - 1, int(model.model.config.vocab_size)
    offsets = np.arange(max(top_k, 0), dtype=np.int64)
    top_ids = (np.asarray(ids[1:], dtype=np.int64)[:, None] + offsets) % vocab
    decoded = model.decode(ids)
    return PromptLogprobs(token_ids=ids, logprobs=logprobs, ranks=np.ones(size, dtype=np.int64), top_ids=top_ids,
                          top_logprobs=(logprobs[:, None] - offsets).astype(np.float32), decoded=decoded,
                          top_decoded=[[decoded[i]] + [""] * (len(offsets) - 1) if len(offsets) else []
                                       for i in range(1, len(ids))])


def _guarded(handler: Callable[[Request], Awaitable[Response]], options: ServerOptions
             ) -> Callable[[Request], Awaitable[Response]]:
    """Bearer-key check on /v1 paths (as vLLM), and API errors answered in vLLM's shape."""
    async def endpoint(request: Request) -> Response:
        if options.api_key and request.url.path.startswith("/v1"):
            supplied = request.headers.get("authorization", "")
            if not secrets.compare_digest(supplied.encode(), f"Bearer {options.api_key}".encode()):
                return JSONResponse({"error": "Unauthorized"}, status_code=401)
        try:
            return await handler(request)
        except ApiError as error:
            return _Json(error.body(), status_code=error.status)
    return endpoint


async def _parse(request: Request, kind: type[BaseModel]) -> BaseModel:
    raw = await request.body()
    try:
        return kind.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise ApiError(f"Invalid JSON body: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ApiError(f"{field}: {first['msg']}", param=field or None) from None


def _prompt_logprobs_json(scored: PromptLogprobs | None) -> list[Any] | None:
    """vLLM's ``prompt_logprobs``: per position after the first, the actual token and the top-k, keyed by id.

    Built from Python lists (``tolist``), not per-element numpy access: it runs once per prompt token.
    """
    if scored is None:
        return None
    out: list[Any] = [None]
    ids, decoded = scored.token_ids, scored.decoded
    logprobs, ranks = scored.logprobs.tolist(), scored.ranks.tolist()
    top_ids, top_logprobs = scored.top_ids.tolist(), scored.top_logprobs.tolist()
    for i in range(1, len(ids)):
        entry = {str(ids[i]): {"logprob": logprobs[i - 1], "rank": ranks[i - 1], "decoded_token": decoded[i]}}
        for rank, (token, logprob, text) in enumerate(zip(top_ids[i - 1], top_logprobs[i - 1],
                                                          scored.top_decoded[i - 1], strict=True), start=1):
            key = str(token)
            if key not in entry:
                entry[key] = {"logprob": logprob, "rank": rank, "decoded_token": text}
        out.append(entry)
    return out
