"""The work behind each endpoint of the local server, over one :class:`LocalModel` (vLLM's serving objects).

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt

from memscore_core.embedded.logprobs import PromptLogprobs
from memscore_core.embedded.metrics import ServerMetrics
from memscore_core.embedded.model import LocalModel
from memscore_core.embedded.protocol import ApiError, ChatRequest, CompletionRequest, TokenizeRequest
from memscore_core.embedded.stand_in import stand_in_logprobs

SCORED_ROLES = "memscore_scored_roles"
"""The chat request field, and the model card's flag saying the server understands it."""
_TRAILER = {"kv_transfer_params": None, "ec_transfer_params": None, "metrics": None}


@dataclass(frozen=True)
class ServerOptions:
    api_key: str | None = None
    max_model_len: int = 4096
    max_logprobs: int = 20
    emulate_gpu: bool = False
    prefill_tps: float = 4000.0
    slots: int = 8
    forward_pass: bool = True
    scored_roles: bool = True
    """Honour ``memscore_scored_roles`` and say so on the model card (off: every position, as vLLM)."""


@dataclass(frozen=True)
class Answer:
    """One prompt's answer: its token ids, prompt log-probs (if asked for), generated tokens, finish reason."""

    ids: list[int]
    scored: PromptLogprobs | None
    generated: list[int]
    reason: str

    def usage(self) -> dict[str, Any]:
        prompt, completion = len(self.ids), len(self.generated)
        return {"prompt_tokens": prompt, "total_tokens": prompt + completion, "completion_tokens": completion,
                "prompt_tokens_details": None}


class Serving:
    """Chat completions, completions, tokenization, the model list and the metrics, as vLLM answers them."""

    def __init__(self, model: LocalModel, options: ServerOptions) -> None:
        self.model, self.options = model, options
        self.metrics = ServerMetrics(model=model.name)
        self._slots = asyncio.Semaphore(options.slots) if options.emulate_gpu else None

    async def create_chat_completion(self, body: ChatRequest) -> dict[str, Any]:
        """The chat template's rendering of ``body.messages`` scored and continued."""
        model = self.model
        self._check(body.model, body.prompt_logprobs, body.stream)
        text = model.render(body.messages, add_generation_prompt=body.add_generation_prompt and
                            not body.continue_final_message, continue_final_message=body.continue_final_message,
                            tools=body.template_tools())
        ids = model.encode(text)
        roles = body.memscore_scored_roles if self.options.scored_roles else None
        answer = await self._answer(ids, body.prompt_logprobs, body.max_tokens,
                                    None if roles is None else model.role_positions(ids, roles))
        content = "".join(model.decode(answer.generated)).removesuffix("<|im_end|>")
        return {
            "id": f"chatcmpl-{secrets.token_hex(8)}", "object": "chat.completion", "created": int(time.time()),
            "model": model.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                                 "annotations": None, "audio": None, "function_call": None,
                                                 "reasoning": None},
                         "logprobs": None, "finish_reason": answer.reason, "stop_reason": None,
                         "token_ids": answer.generated if body.return_token_ids else None}],
            "service_tier": None, "system_fingerprint": f"memscore-local-{model.name}", "usage": answer.usage(),
            "prompt_logprobs": prompt_logprobs_json(answer.scored),
            "prompt_token_ids": answer.ids if body.return_token_ids else None, "prompt_text": None, **_TRAILER,
        }

    async def create_completion(self, body: CompletionRequest) -> dict[str, Any]:
        """``body.prompt`` (text or token ids) scored and continued."""
        model = self.model
        self._check(body.model, body.prompt_logprobs, body.stream)
        ids = list(body.prompt) if isinstance(body.prompt, list) else model.encode(body.prompt)
        answer = await self._answer(ids, body.prompt_logprobs, body.max_tokens)
        return {
            "id": f"cmpl-{secrets.token_hex(8)}", "object": "text_completion", "created": int(time.time()),
            "model": model.name,
            "choices": [{"index": 0, "text": "".join(model.decode(answer.generated)), "logprobs": None,
                         "finish_reason": answer.reason, "stop_reason": None,
                         "token_ids": answer.generated if body.return_token_ids else None,
                         "prompt_token_ids": answer.ids if body.return_token_ids else None,
                         "prompt_logprobs": prompt_logprobs_json(answer.scored)}],
            "service_tier": None, "system_fingerprint": f"memscore-local-{model.name}", "usage": answer.usage(),
            **_TRAILER,
        }

    def tokenize(self, body: TokenizeRequest) -> dict[str, Any]:
        """The token ids of ``body.messages`` as the chat template renders them, or of ``body.prompt``."""
        if body.messages is not None:
            text = self.model.render(body.messages, add_generation_prompt=body.add_generation_prompt,
                                     continue_final_message=body.continue_final_message, tools=body.template_tools())
        elif body.prompt is not None:
            text = body.prompt
        else:
            raise ApiError("Either `messages` or `prompt` is required.")
        ids = self.model.encode(text)
        return {"count": len(ids), "max_model_len": self.options.max_model_len, "tokens": ids,
                "token_strs": self.model.token_strings(ids) if body.return_token_strs else None}

    def show_models(self) -> dict[str, Any]:
        name = self.model.name
        return {"object": "list", "data": [{
            "id": name, "object": "model", "created": int(time.time()), "owned_by": "memscore", "root": name,
            "parent": None, "max_model_len": self.options.max_model_len, "permission": [],
            SCORED_ROLES: self.options.scored_roles}]}

    def render_metrics(self) -> str:
        model = self.model
        return self.metrics.render(model.computed_tokens, model.reused_tokens,
                                   (model.lanes, model.peak_lanes, model.lane_seconds))

    async def _answer(self, ids: list[int], top_k: int | None, max_tokens: int | None,
                      wanted: npt.NDArray[np.bool_] | None = None) -> Answer:
        """Score (the positions ``wanted``, or all) and continue ``ids`` within the context budget, and count it."""
        budget = self._budget(len(ids), max_tokens)
        scored, generated, reason = await self._run(len(ids), lambda: self._score(ids, top_k, budget, wanted))
        self.metrics.prompt_tokens += len(ids)
        self.metrics.generation_tokens += len(generated)
        self.metrics.successes += 1
        return Answer(ids, scored, generated, reason)

    def _check(self, model_name: str | None, prompt_logprobs: int | None, stream: bool) -> None:
        if model_name is not None and model_name != self.model.name:
            raise ApiError(f"The model `{model_name}` does not exist.", status=404, param="model",
                           kind="NotFoundError")
        if prompt_logprobs is not None:
            if stream:
                raise ApiError("`prompt_logprobs` are not available when `stream=True`. (parameter=prompt_logprobs)",
                               param="prompt_logprobs")
            requested = int(self.model.model.config.vocab_size) if prompt_logprobs < 0 else prompt_logprobs
            if requested > self.options.max_logprobs:
                raise ApiError(f"Requested prompt logprobs of {requested}, which is greater than max allowed: "
                               f"{self.options.max_logprobs} (parameter=prompt_logprobs, value={requested})",
                               param="prompt_logprobs")

    def _budget(self, prompt_len: int, max_tokens: int | None) -> int:
        """The tokens to generate: ``max_tokens``, or what the context leaves; vLLM's errors beyond it."""
        limit = self.options.max_model_len
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

    def _score(self, ids: list[int], top_k: int | None, max_tokens: int, wanted: npt.NDArray[np.bool_] | None
               ) -> tuple[PromptLogprobs | None, list[int], str]:
        model = self.model
        if not self.options.forward_pass:
            end = [min(model.eos_ids)] if max_tokens else []
            return (None if top_k is None else stand_in_logprobs(model, ids, top_k)), end, "stop" if end else "length"
        if top_k is None:
            generated, reason = model.generate(ids, max_tokens) if max_tokens else ([], "length")
            return None, generated, reason
        scored = model.prompt_logprobs(ids, top_k, wanted)
        if max_tokens == 0:
            return scored, [], "length"
        if max_tokens == 1:
            token = model.next_token(ids)
            return scored, [token], "stop" if token in model.eos_ids else "length"
        generated, reason = model.generate(ids, max_tokens)
        return scored, generated, reason

    async def _compute(self, work: Callable[[], Any]) -> Any:
        """Run ``work`` in a worker thread: the model computes ``lanes`` requests at once and holds the others,
        each waiting without a lane for a prefix another lane is computing, or for a lane."""
        return await anyio.to_thread.run_sync(work)

    async def _run(self, prompt_tokens: int, work: Callable[[], Any]) -> Any:
        """Run ``work``; under emulation, in a slot, for at least the emulated prefill time."""
        if self._slots is None:
            self.metrics.started()
            try:
                return await self._compute(work)
            finally:
                self.metrics.finished()
        async with self._slots:
            self.metrics.started()
            try:
                result, _ = await asyncio.gather(self._compute(work),
                                                 asyncio.sleep(prompt_tokens / self.options.prefill_tps))
                return result
            finally:
                self.metrics.finished()


def prompt_logprobs_json(scored: PromptLogprobs | None) -> list[Any] | None:
    """vLLM's ``prompt_logprobs``: per position after the first, the actual token and the top-k, keyed by id; a
    position not computed (see ``PromptLogprobs.scored``) has its token with ``logprob`` and ``rank`` null.

    Built from Python lists (``tolist``), not per-element numpy access: it runs once per prompt token.
    """
    if scored is None:
        return None
    out: list[Any] = [None]
    ids, decoded = scored.token_ids, scored.decoded
    logprobs, ranks = scored.logprobs.tolist(), scored.ranks.tolist()
    top_ids, top_logprobs = scored.top_ids.tolist(), scored.top_logprobs.tolist()
    done = [True] * len(logprobs) if scored.scored is None else scored.scored.tolist()
    for i in range(1, len(ids)):
        if not done[i - 1]:
            out.append({str(ids[i]): {"logprob": None, "rank": None, "decoded_token": decoded[i]}})
            continue
        entry = {str(ids[i]): {"logprob": logprobs[i - 1], "rank": ranks[i - 1], "decoded_token": decoded[i]}}
        for rank, (token, logprob, text) in enumerate(zip(top_ids[i - 1], top_logprobs[i - 1],
                                                          scored.top_decoded[i - 1], strict=True), start=1):
            key = str(token)
            if key not in entry:
                entry[key] = {"logprob": logprob, "rank": rank, "decoded_token": text}
        out.append(entry)
    return out
