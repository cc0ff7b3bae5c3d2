"""Score conversations against a backend with a strategy: the one entry point callers use."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memscore_core.ablation import PromptRequest, ResponseLogprobs, aggregate_exact, plan_exact, read_responses
from memscore_core.backends.vllm import RequestOptions
from memscore_core.chunking import DEFAULT_CHUNK_TOKENS, chunk_budget
from memscore_core.conversation import Conversation
from memscore_core.errors import ContextLengthError
from memscore_core.parsing import ScoredPrompt
from memscore_core.pool import RequestPool
from memscore_core.prompt import ChatPrompt
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


async def score_conversation(conversation: Conversation, pool: RequestPool, config: ScoringConfig) -> ConversationScore:
    """Score one conversation, sending its requests through ``pool``."""
    model = await pool.backend.model()
    if config.strategy == "seed":
        async def seed_request(prompt: ChatPrompt) -> ScoredPrompt:
            return await pool.score(prompt, RequestOptions.seed())

        return await score_seed(conversation, seed_request, chunk_tokens=config.chunk_tokens, model=model)
    return await _score_exact(conversation, pool, config, model)


async def _score_exact(conversation: Conversation, pool: RequestPool, config: ScoringConfig,
                       model: str) -> ConversationScore:
    chunk_tokens = config.chunk_tokens
    while True:
        plan = plan_exact(conversation, chunk_tokens, config.window)
        try:
            answers = await asyncio.gather(*(_run(conversation, pool, request) for request in plan.requests))
        except ContextLengthError as exc:
            chunk_tokens = smaller_chunks(conversation, chunk_tokens, exc)
            continue
        return aggregate_exact(conversation, plan, dict(zip(plan.requests, answers, strict=True)), model=model)


def smaller_chunks(conversation: Conversation, chunk_tokens: int, error: ContextLengthError) -> int:
    """Half the chunk budget after a context-length rejection; re-raise once chunks cannot shrink further."""
    if chunk_budget(conversation, chunk_tokens) == 0:
        raise ContextLengthError(f"conversation {conversation.id!r} does not fit even one exchange per "
                                 f"chunk: {error}", status=error.status) from None
    return chunk_tokens // 2


async def _run(conversation: Conversation, pool: RequestPool, request: PromptRequest) -> ResponseLogprobs:
    scored = await pool.score(request.prompt(conversation), RequestOptions())
    return read_responses(conversation, request, scored)
