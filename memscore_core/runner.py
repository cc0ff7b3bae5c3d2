"""Score a batch of conversations: one bad conversation never stops the others.

Several conversations are in flight at once so that the shared request pool always has work queued;
only their arrays are held, and each result is handed on (in input order) as soon as it is ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from memscore_core.backends.base import PromptBackend
from memscore_core.collector import long_lived_objects_frozen
from memscore_core.engine import ScoringConfig, score_conversation
from memscore_core.errors import MemscoreError
from memscore_core.loading import LoadedConversation
from memscore_core.pool import RequestPool
from memscore_core.result import ConversationScore

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome:
    """What happened to one conversation: a score or the error that stopped it."""

    loaded: LoadedConversation
    score: ConversationScore | None = None
    error: MemscoreError | None = None


CONVERSATIONS_IN_FLIGHT = 2


def conversations_in_flight(config: ScoringConfig) -> int:
    """How many conversations are scored at once; the seed strategy is strictly sequential."""
    return 1 if config.strategy == "seed" else CONVERSATIONS_IN_FLIGHT


async def in_input_order(items: Sequence[T], lookahead: int,
                         score: Callable[[T], Awaitable[R]]) -> AsyncIterator[tuple[T, R | BaseException]]:
    """Score ``lookahead`` items at once, so a shared request pool stays fed across their boundaries;
    yield each item with its result (or the exception that stopped it) in input order."""
    in_flight: list[tuple[T, asyncio.Future[tuple[R | BaseException]]]] = []
    for item in items:
        in_flight.append((item, asyncio.gather(score(item), return_exceptions=True)))
        if len(in_flight) >= lookahead:
            first, outcome = in_flight.pop(0)
            yield first, (await outcome)[0]
    for item, outcome in in_flight:
        yield item, (await outcome)[0]


async def score_batch(conversations: Sequence[LoadedConversation], backend: PromptBackend, config: ScoringConfig,
                      *, concurrency: int = 8) -> AsyncIterator[Outcome]:
    """Yield one outcome per conversation, in input order (seed: one request at a time)."""
    if config.strategy == "seed":
        concurrency = 1
    with long_lived_objects_frozen():
        async with RequestPool(backend, concurrency) as pool:
            scored = in_input_order(conversations, conversations_in_flight(config),
                                    lambda loaded: _score_one(loaded, pool, config))
            async for _, outcome in scored:
                if isinstance(outcome, BaseException):
                    raise outcome
                yield outcome


async def _score_one(loaded: LoadedConversation, pool: RequestPool, config: ScoringConfig) -> Outcome:
    try:
        return Outcome(loaded, score=await score_conversation(loaded.conversation, pool, config))
    except MemscoreError as exc:
        return Outcome(loaded, error=exc)
