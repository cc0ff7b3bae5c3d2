"""Open what scoring needs — a backend, its bounded request pool and a scorer over them — the one way every
entry point (the CLI, the flows, the benches, the scripts) opens them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from memscore_core.backends.factory import backend_name, open_backend, request_capacity
from memscore_core.backends.pool import RequestPool
from memscore_core.backends.protocol import PromptBackend
from memscore_core.config import ScoringConfig
from memscore_core.formats.loading import LoadedConversation
from memscore_core.scoring.batch import Hungry, ScorePart, direct_scorer, score_batch
from memscore_core.scoring.outcome import Outcome
from memscore_core.scoring.sending import pool_sender, request_concurrency
from memscore_core.settings import Settings


@dataclass(frozen=True)
class Scorer:
    """An open backend's ``model``, what a run records as its ``backend``, and ``score`` for the parts of a
    corpus, sent through one bounded request pool (``hungry`` says when it could take more)."""

    model: str
    backend: str
    config: ScoringConfig
    score: ScorePart
    hungry: Hungry

    async def outcomes(self, conversations: Sequence[LoadedConversation]) -> list[Outcome]:
        """Every conversation's outcome, in input order, without a store (benches and evaluation)."""
        return [outcome async for outcome in score_batch(conversations, self.score, self.config)]


@asynccontextmanager
async def open_scorer(config: ScoringConfig, settings: Settings | None = None, *, backend: PromptBackend | None = None,
                      api_key: str | None = None, concurrency: int | None = None) -> AsyncIterator[Scorer]:
    """A :class:`Scorer` for ``config``: over ``backend`` when given (the caller closes it), else over the backend
    ``settings`` name (behind its request cache; default: the ``MEMSCORE_*`` environment), closed on exit.
    ``concurrency``: requests in flight (default: what the backend takes, ``settings.concurrency`` per replica;
    one at a time for a sequential strategy)."""
    settings = settings or Settings()
    opened = open_backend(settings, api_key=api_key) if backend is None else backend
    try:
        model = await opened.model()
        in_flight = request_concurrency(config, concurrency or request_capacity(settings))
        async with RequestPool(opened, in_flight) as pool:
            name = backend_name(settings) if backend is None else "given"
            yield Scorer(model, name, config, direct_scorer(pool_sender(pool), config, model, pool.hungry), pool.hungry)
    finally:
        if backend is None:
            await opened.aclose()
