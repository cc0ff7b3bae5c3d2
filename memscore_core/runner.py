"""Score a batch of conversations: one bad conversation never stops the others.

Several conversations are in flight at once so that the shared request pool always has work queued;
only their arrays are held, and each result is handed on (in input order) as soon as it is ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from memscore_core.backends.base import PromptBackend
from memscore_core.engine import ScoringConfig, score_conversation
from memscore_core.errors import MemscoreError
from memscore_core.loading import LoadedConversation
from memscore_core.pool import RequestPool
from memscore_core.result import ConversationScore


@dataclass(frozen=True)
class Outcome:
    """What happened to one conversation: a score or the error that stopped it."""

    loaded: LoadedConversation
    score: ConversationScore | None = None
    error: MemscoreError | None = None


async def score_batch(conversations: Sequence[LoadedConversation], backend: PromptBackend, config: ScoringConfig,
                      *, concurrency: int = 8, lookahead: int = 2) -> AsyncIterator[Outcome]:
    """Yield one outcome per conversation, in input order.

    ``lookahead`` conversations are scored at once (the seed strategy: one, strictly sequential).
    """
    if config.strategy == "seed":
        concurrency = lookahead = 1
    async with RequestPool(backend, concurrency) as pool:
        pending: list[asyncio.Task[Outcome]] = []
        for loaded in conversations:
            pending.append(asyncio.create_task(_score_one(loaded, pool, config)))
            if len(pending) >= lookahead:
                yield await pending.pop(0)
        for task in pending:
            yield await task


async def _score_one(loaded: LoadedConversation, pool: RequestPool, config: ScoringConfig) -> Outcome:
    try:
        return Outcome(loaded, score=await score_conversation(loaded.conversation, pool, config))
    except MemscoreError as exc:
        return Outcome(loaded, error=exc)
