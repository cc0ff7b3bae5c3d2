"""Score conversations against a backend with a strategy: the one entry point callers use."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memscore_core.ablation import PromptRequest, ResponseLogprobs, aggregate_exact, plan_exact, read_responses
from memscore_core.backends.vllm import RequestOptions, VllmBackend
from memscore_core.chunking import DEFAULT_CHUNK_TOKENS, chunk_budget
from memscore_core.conversation import Conversation
from memscore_core.errors import ContextLengthError
from memscore_core.parsing import ScoredPrompt
from memscore_core.result import ConversationScore, config_hash
from memscore_core.seed import score_seed

Strategy = Literal["exact", "seed"]


class ScoringConfig(BaseModel):
    """What is computed. Everything here changes results and so enters the config hash."""

    model_config = ConfigDict(frozen=True)

    strategy: Strategy = "exact"
    chunk_tokens: int = Field(default=DEFAULT_CHUNK_TOKENS, ge=1)
    window: int | None = Field(default=None, ge=1)

    def result_config(self) -> dict[str, Any]:
        return self.model_dump()

    def hash(self) -> str:
        return config_hash(self.result_config())


async def score_conversation(conversation: Conversation, backend: VllmBackend, config: ScoringConfig,
                             limiter: asyncio.Semaphore | None = None) -> ConversationScore:
    """Score one conversation; requests share ``limiter`` (the bound on in-flight requests)."""
    limiter = limiter or asyncio.Semaphore(8)
    model = await backend.model()
    if config.strategy == "seed":
        async def seed_request(messages: list[dict[str, str]]) -> ScoredPrompt:
            async with limiter:
                return await backend.score(messages, RequestOptions.seed())

        return await score_seed(conversation, seed_request, chunk_tokens=config.chunk_tokens, model=model)
    return await _score_exact(conversation, backend, config, limiter, model)


async def _score_exact(conversation: Conversation, backend: VllmBackend, config: ScoringConfig,
                       limiter: asyncio.Semaphore, model: str) -> ConversationScore:
    chunk_tokens = config.chunk_tokens
    while True:
        plan = plan_exact(conversation, chunk_tokens, config.window)
        try:
            answers = await asyncio.gather(*(_run(conversation, backend, request, limiter) for request in plan.requests))
        except ContextLengthError as exc:
            if chunk_budget(conversation, chunk_tokens) == 0:
                raise ContextLengthError(f"conversation {conversation.id!r} does not fit even one exchange per "
                                         f"chunk: {exc}", status=exc.status) from None
            chunk_tokens //= 2
            continue
        return aggregate_exact(conversation, plan, dict(zip(plan.requests, answers, strict=True)), model=model)


async def _run(conversation: Conversation, backend: VllmBackend, request: PromptRequest,
               limiter: asyncio.Semaphore) -> ResponseLogprobs:
    async with limiter:
        scored = await backend.score(request.messages(conversation), RequestOptions())
    return read_responses(conversation, request, scored)
