"""Score one conversation with a strategy: the one entry point every caller uses.

Requests leave through a :data:`Send` callable, so the same scoring runs wherever a model call is
executed: the CLI sends through a bounded :class:`RequestPool`; a Prefect flow wraps each call in a
cached, retried task. The strategies and the re-chunk loop live here once: ``exact`` and ``seed`` plan
every request up front; ``hierarchical``, ``surrogate`` and ``auto`` (:mod:`memscore_core.strategies`) decide
chunk by chunk what to send next, over the same plan of chunks.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from memscore_core.ablation import (
    AblationPlan,
    PromptRequest,
    ResponseLogprobs,
    aggregate_exact,
    plan_exact,
    plan_over,
    read_responses,
)
from memscore_core.backends.base import PromptBackend
from memscore_core.backends.vllm import RequestOptions
from memscore_core.chunking import CHARS_PER_TOKEN, DEFAULT_CHUNK_TOKENS, chunk_budget
from memscore_core.conversation import Conversation
from memscore_core.errors import ContextLengthError
from memscore_core.fillers import memory_fillers
from memscore_core.parsing import ScoredPrompt
from memscore_core.pool import RequestPool
from memscore_core.prompt import ChatPrompt
from memscore_core.result import ConversationScore, config_hash
from memscore_core.seed import score_seed
from memscore_core.strategies.auto import thresholds
from memscore_core.strategies.chunked import ChunkedSettings, chunk_strategies, score_chunked
from memscore_core.strategies.cost import estimated_chunk_tokens
from memscore_core.strategies.noise_floor import DEFAULT_QUANTILE
from memscore_core.strategies.scope import chunk_scopes
from memscore_core.strategies.surrogate import DEFAULT_MASKS, MIN_MASKS

Strategy = Literal["exact", "seed", "hierarchical", "surrogate", "auto"]
Ablation = Literal["remove", "replace"]
CHUNKED: tuple[Strategy, ...] = ("hierarchical", "surrogate", "auto")
_SCREENING = ("noise_floor", "floor_quantile")


class ScoringConfig(BaseModel):
    """What is computed. Everything here changes results and so enters the config hash.

    ``masks``: random masks per chunk (surrogate); ``noise_floor``: a fixed floor in nats for screening
    (hierarchical), ``None`` to measure it per conversation at ``floor_quantile`` of its null samples.
    ``ablation``: ``remove`` takes a memory out of the prompt (the seed's semantics); ``replace`` puts
    content-free filler of the same token count in its place (:mod:`memscore_core.fillers`).
    """

    model_config = ConfigDict(frozen=True)

    strategy: Strategy = "exact"
    chunk_tokens: int = Field(default=DEFAULT_CHUNK_TOKENS, ge=1)
    window: int | None = Field(default=None, ge=1)
    masks: int = Field(default=DEFAULT_MASKS, ge=MIN_MASKS)
    noise_floor: float | None = Field(default=None, ge=0)
    floor_quantile: float = Field(default=DEFAULT_QUANTILE, gt=0, le=1)
    ablation: Ablation = "remove"

    @model_validator(mode="after")
    def _seed_removes(self) -> ScoringConfig:
        if self.strategy == "seed" and self.ablation != "remove":
            raise ValueError("the seed strategy removes memories, as the original did: "
                             "ablation 'replace' needs exact, hierarchical, surrogate or auto")
        return self

    def result_config(self) -> dict[str, Any]:
        """The settings the strategy uses (so exact and seed configurations hash as they always have; the
        ablation only when it is ``replace``)."""
        config = self.model_dump()
        if self.ablation == "remove":
            del config["ablation"]
        unused = {"exact": ("masks", *_SCREENING), "seed": ("masks", *_SCREENING),
                  "hierarchical": ("masks",), "surrogate": _SCREENING, "auto": ()}[self.strategy]
        for name in unused:
            del config[name]
        if self.strategy == "auto":
            config |= thresholds()
        return config

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
    if config.strategy in CHUNKED:
        scopes = chunk_scopes(conversation, plan)
        chosen = chunk_strategies(config.strategy, scopes)
        return sum(estimated_chunk_tokens(conversation, plan, scope, strategy, config.masks)
                   for scope, strategy in zip(scopes, chosen, strict=True)) // CHARS_PER_TOKEN
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
    if config.strategy in CHUNKED:
        settings = ChunkedSettings(config.strategy, config.masks, config.noise_floor, config.floor_quantile)

        async def send_prompt(prompt: ChatPrompt, label: str) -> ScoredPrompt:
            return await send(ModelCall(prompt, RequestOptions(), label))

        async def chunked(plan: AblationPlan) -> ConversationScore:
            plan, answered = await _ablation_plan(conversation, plan, send, config)
            return await score_chunked(conversation, plan, send_prompt, settings, model=model, answered=answered)

        return await _rechunked(conversation, config, chunked)

    async def exact(plan: AblationPlan) -> ConversationScore:
        plan, answered = await _ablation_plan(conversation, plan, send, config)
        rest = [request for request in plan.requests if request not in answered]
        answers = await asyncio.gather(*(_run(conversation, send, request) for request in rest))
        results = answered | dict(zip(rest, answers, strict=True))
        return aggregate_exact(conversation, plan, results, model=model)

    return await _rechunked(conversation, config, exact)


async def _ablation_plan(conversation: Conversation, plan: AblationPlan, send: Send, config: ScoringConfig
                         ) -> tuple[AblationPlan, dict[PromptRequest, ResponseLogprobs]]:
    """``plan`` as ``config.ablation`` needs it, with the requests already answered: for ``replace``, the
    baselines are sent first and each memory's filler is measured in them."""
    if config.ablation == "remove" or not conversation.memories:
        return plan, {}
    scored = await asyncio.gather(*(_send(conversation, send, request) for request in plan.baseline))
    filled = plan_over(conversation, plan.chunks, plan.window, memory_fillers(conversation, plan, scored))
    return filled, {request: read_responses(conversation, request, answer)
                    for request, answer in zip(plan.baseline, scored, strict=True)}


async def _rechunked(conversation: Conversation, config: ScoringConfig,
                     score: Callable[[AblationPlan], Awaitable[ConversationScore]]) -> ConversationScore:
    """``score`` over the plan of ``config``'s chunks, halving them after each context-length rejection."""
    chunk_tokens = config.chunk_tokens
    while True:
        plan = plan_exact(conversation, chunk_tokens, config.window)
        try:
            return await score(plan)
        except ContextLengthError as exc:
            chunk_tokens = smaller_chunks(conversation, chunk_tokens, exc)


def smaller_chunks(conversation: Conversation, chunk_tokens: int, error: ContextLengthError) -> int:
    """Half the chunk budget after a context-length rejection; re-raise once chunks cannot shrink further."""
    if chunk_budget(conversation, chunk_tokens) == 0:
        raise ContextLengthError(f"conversation {conversation.id!r} does not fit even one exchange per "
                                 f"chunk: {error}", status=error.status) from None
    return chunk_tokens // 2


async def _run(conversation: Conversation, send: Send, request: PromptRequest) -> ResponseLogprobs:
    return read_responses(conversation, request, await _send(conversation, send, request))


async def _send(conversation: Conversation, send: Send, request: PromptRequest) -> ScoredPrompt:
    label = f"{conversation.id}-{request.label()}"
    return await send(ModelCall(request.prompt(conversation), RequestOptions(), label))
