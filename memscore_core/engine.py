"""Score one conversation with a strategy: the one entry point every caller uses.

Requests leave through a :data:`Send` callable, so the same scoring runs wherever a model call is
executed: the CLI sends through a bounded :class:`RequestPool`; a Prefect flow wraps each call in a
cached, retried task. The strategies and the re-chunk loop live here once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memscore_core.ablation import PromptRequest, ResponseLogprobs, aggregate_exact, plan_exact, read_responses
from memscore_core.backends.base import PromptBackend
from memscore_core.backends.vllm import RequestOptions
from memscore_core.chunking import CHARS_PER_TOKEN, DEFAULT_CHUNK_TOKENS, chunk_budget
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


@dataclass(frozen=True)
class ModelCall:
    """One prompt-logprobs request: what is sent, how it is scored, and a label for logs and task names."""

    prompt: ChatPrompt
    options: RequestOptions
    label: str


Send = Callable[[ModelCall], Awaitable[ScoredPrompt]]


def pool_sender(pool: RequestPool) -> Send:
    """Send each call through ``pool`` (bounded concurrency, longest prompts first)."""
    async def send(call: ModelCall) -> ScoredPrompt:
        return await pool.score(call.prompt, call.options)
    return send


def request_concurrency(config: ScoringConfig, concurrency: int) -> int:
    """Requests in flight at once: the seed strategy sends strictly one after another, as the original did."""
    return 1 if config.strategy == "seed" else concurrency


@asynccontextmanager
async def pooled_sender(backend: PromptBackend, config: ScoringConfig, concurrency: int) -> AsyncIterator[Send]:
    """A :data:`Send` over a request pool sized for ``config``; the pool stops on exit."""
    async with RequestPool(backend, request_concurrency(config, concurrency)) as pool:
        yield pool_sender(pool)


def estimated_prompt_tokens(conversation: Conversation, config: ScoringConfig) -> int:
    """Prompt tokens the strategy will send for ``conversation`` (≈ 4 characters a token), before any is sent."""
    if config.strategy == "seed":
        whole = ChatPrompt(conversation.prefix_messages() + [entry.api_message() for entry in conversation.entries])
        return whole.size() * (len(conversation.memories) + 1) // CHARS_PER_TOKEN
    plan = plan_exact(conversation, config.chunk_tokens, config.window)
    return sum(request.prompt(conversation).size() for request in plan.requests) // CHARS_PER_TOKEN


async def score_conversation(conversation: Conversation, send: Send, config: ScoringConfig, *,
                             model: str) -> ConversationScore:
    """Score one conversation, sending its requests through ``send``; ``model`` names the scoring model."""
    if config.strategy == "seed":
        seed_calls = itertools.count()

        async def seed_request(prompt: ChatPrompt) -> ScoredPrompt:
            label = f"{conversation.id}-seed-{next(seed_calls)}"
            return await send(ModelCall(prompt, RequestOptions.seed(), label))

        return await score_seed(conversation, seed_request, chunk_tokens=config.chunk_tokens, model=model)
    return await _score_exact(conversation, send, config, model)


async def _score_exact(conversation: Conversation, send: Send, config: ScoringConfig,
                       model: str) -> ConversationScore:
    chunk_tokens = config.chunk_tokens
    while True:
        plan = plan_exact(conversation, chunk_tokens, config.window)
        try:
            answers = await asyncio.gather(*(_run(conversation, send, request) for request in plan.requests))
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


async def _run(conversation: Conversation, send: Send, request: PromptRequest) -> ResponseLogprobs:
    label = f"{conversation.id}-{request.kind}-{request.chunk}"
    if request.removed:
        label += f"-{request.removed[0]}"
    scored = await send(ModelCall(request.prompt(conversation), RequestOptions(), label))
    return read_responses(conversation, request, scored)
