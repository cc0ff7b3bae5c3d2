"""How requests leave: a :data:`Send` over a bounded request pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from memscore_core.backends.pool import RequestPool
from memscore_core.backends.protocol import PromptBackend
from memscore_core.config import ScoringConfig
from memscore_core.model.prompt import ModelCall, ScoredPrompt, Send


def pool_sender(pool: RequestPool) -> Send:
    """Send each call through ``pool`` (bounded concurrency, longest prompts first)."""
    async def send(call: ModelCall) -> ScoredPrompt:
        return await pool.score(call.prompt, call.options)
    return send


def request_concurrency(config: ScoringConfig, concurrency: int) -> int:
    """Requests in flight at once: the seed strategy sends strictly one after another, as the original did."""
    return 1 if config.spec.sequential else concurrency


@asynccontextmanager


async def pooled_sender(backend: PromptBackend, config: ScoringConfig, concurrency: int) -> AsyncIterator[Send]:
    """A :data:`Send` over a request pool sized for ``config``; the pool stops on exit."""
    async with RequestPool(backend, request_concurrency(config, concurrency)) as pool:
        yield pool_sender(pool)
