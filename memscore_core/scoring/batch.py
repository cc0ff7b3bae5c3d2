"""Score a batch of conversations: one bad conversation never stops the others.

Conversations are scored in *parts*: consecutive conversations grouped until a part holds enough
planned prompt tokens to be worth one unit of orchestration (a Prefect task costs about 30 ms of CPU
whatever it does). The CLI uses parts of one conversation. A few parts are in flight at once so that
the shared request pool always has work queued; only their arrays are held, and each outcome is handed
on, in input order, as soon as its part is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from memscore_core.collector import long_lived_objects_frozen
from memscore_core.config import ScoringConfig
from memscore_core.errors import MemscoreError
from memscore_core.formats.loading import LoadedConversation
from memscore_core.model.prompt import Send
from memscore_core.scoring.conversation import estimated_prompt_tokens, score_conversation
from memscore_core.scoring.outcome import Outcome

T = TypeVar("T")
R = TypeVar("R")


ScorePart = Callable[[Sequence[LoadedConversation]], Awaitable[list[Outcome]]]
"""Score the conversations of one part: in this process, or as a flow's retried task."""

IN_FLIGHT = 2
MAX_IN_FLIGHT = 64
SETTLE_ROUNDS = 4


def in_flight(config: ScoringConfig) -> int:
    """How many conversations (and parts) are scored at once; the seed strategy is strictly sequential."""
    return 1 if config.spec.sequential else IN_FLIGHT


Hungry = Callable[[], bool]
"""Whether the request pool has fewer requests waiting than it can run at once."""


async def in_input_order(items: Sequence[T], lookahead: int, score: Callable[[T], Awaitable[R]], *,
                         hungry: Hungry | None = None) -> AsyncIterator[tuple[T, R | BaseException]]:
    """Score ``lookahead`` items at once, and more (up to ``MAX_IN_FLIGHT``) while ``hungry()``, so a
    shared request pool (a fleet of servers) stays fed across their boundaries; yield each item with its
    result (or the exception that stopped it) in input order."""
    pending: list[tuple[T, asyncio.Future[tuple[R | BaseException]]]] = []
    for item in items:
        pending.append((item, asyncio.gather(score(item), return_exceptions=True)))
        if hungry is not None:
            for _ in range(SETTLE_ROUNDS):  # let the new item queue its first requests before asking again
                await asyncio.sleep(0)
        while len(pending) >= MAX_IN_FLIGHT or (len(pending) >= lookahead and not (hungry and hungry())):
            first, outcome = pending.pop(0)
            yield first, (await outcome)[0]
    for item, outcome in pending:
        yield item, (await outcome)[0]


def parts(conversations: Sequence[LoadedConversation], config: ScoringConfig,
          part_tokens: int) -> list[list[LoadedConversation]]:
    """Consecutive conversations grouped until each part plans at least ``part_tokens`` prompt tokens
    (the last part may plan fewer); ``part_tokens`` 0 puts each conversation in a part of its own."""
    grouped: list[list[LoadedConversation]] = []
    current: list[LoadedConversation] = []
    tokens = 0
    for loaded in conversations:
        current.append(loaded)
        tokens += estimated_prompt_tokens(loaded.conversation, config) if part_tokens else 0
        if tokens >= part_tokens:
            grouped.append(current)
            current, tokens = [], 0
    if current:
        grouped.append(current)
    return grouped


def direct_scorer(send: Send, config: ScoringConfig, model: str, hungry: Hungry | None = None) -> ScorePart:
    """Score each part in this process, its conversations in flight together (more while ``hungry()``),
    requests through ``send``."""
    async def score(part: Sequence[LoadedConversation]) -> list[Outcome]:
        outcomes = []
        async for _, outcome in in_input_order(part, in_flight(config), one, hungry=_unless_seed(config, hungry)):
            if isinstance(outcome, BaseException):
                raise outcome
            outcomes.append(outcome)
        return outcomes

    async def one(loaded: LoadedConversation) -> Outcome:
        try:
            return Outcome(loaded, score=await score_conversation(loaded.conversation, send, config, model=model))
        except MemscoreError as exc:
            return Outcome(loaded, error=exc)

    return score


def _unless_seed(config: ScoringConfig, hungry: Hungry | None) -> Hungry | None:
    return None if config.spec.sequential else hungry


async def score_batch(conversations: Sequence[LoadedConversation], score: ScorePart, config: ScoringConfig, *,
                      part_tokens: int = 0, hungry: Hungry | None = None) -> AsyncIterator[Outcome]:
    """Yield one outcome per conversation, in input order; a conversation's own failure is its outcome."""
    with long_lived_objects_frozen():
        scored = in_input_order(parts(conversations, config, part_tokens), in_flight(config), score,
                                hungry=_unless_seed(config, hungry))
        async for part, outcomes in scored:
            if isinstance(outcomes, MemscoreError):
                outcomes = [Outcome(loaded, error=outcomes) for loaded in part]
            elif isinstance(outcomes, BaseException):
                raise outcomes
            for outcome in outcomes:
                yield outcome
