"""What a flow run opens once and its tasks look up by id: the backend behind the request cache, its pool.

Clients and connections are not task inputs (Prefect would try to hash and visit them); a task gets a
runtime id and finds them here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from memscore_core.backends.factory import open_backend, request_capacity
from memscore_core.engine import ScoringConfig, pool_sender, request_concurrency
from memscore_core.pool import RequestPool
from memscore_core.runner import ScorePart, direct_scorer
from memscore_core.settings import Settings


@dataclass(frozen=True)
class FlowRuntime:
    """One flow run's model name and in-process scorer."""

    id: str
    model: str
    score: ScorePart


_RUNTIMES: dict[str, FlowRuntime] = {}


@asynccontextmanager
async def flow_runtime(settings: Settings, config: ScoringConfig,
                       api_key: str | None = None) -> AsyncIterator[FlowRuntime]:
    """Open the backend (behind the request cache ``settings`` name) and its bounded pool for one flow run."""
    backend = open_backend(settings, api_key=api_key)
    try:
        model = await backend.model()
        async with RequestPool(backend, request_concurrency(config, request_capacity(settings))) as pool:
            runtime = FlowRuntime(uuid.uuid4().hex, model, direct_scorer(pool_sender(pool), config, model, pool.hungry))
            _RUNTIMES[runtime.id] = runtime
            try:
                yield runtime
            finally:
                _RUNTIMES.pop(runtime.id, None)
    finally:
        await backend.aclose()


def runtime_for(runtime_id: str) -> FlowRuntime:
    """The runtime a flow run opened."""
    return _RUNTIMES[runtime_id]

