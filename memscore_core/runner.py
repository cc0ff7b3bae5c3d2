"""Score a batch of conversations: one bad conversation never stops the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from memscore_core.backends.vllm import VllmBackend
from memscore_core.engine import ScoringConfig, score_conversation
from memscore_core.errors import MemscoreError
from memscore_core.loading import LoadedConversation
from memscore_core.result import ConversationScore


@dataclass(frozen=True)
class Outcome:
    """What happened to one conversation: a score or the error that stopped it."""

    loaded: LoadedConversation
    score: ConversationScore | None = None
    error: MemscoreError | None = None


async def score_batch(conversations: Sequence[LoadedConversation], backend: VllmBackend, config: ScoringConfig,
                      *, concurrency: int = 8) -> AsyncIterator[Outcome]:
    """Yield one outcome per conversation, in input order; requests share one bound."""
    limiter = asyncio.Semaphore(concurrency)
    for loaded in conversations:
        try:
            score = await score_conversation(loaded.conversation, backend, config, limiter)
        except MemscoreError as exc:
            yield Outcome(loaded, error=exc)
        else:
            yield Outcome(loaded, score=score)
