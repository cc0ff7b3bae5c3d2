"""Per-flow-run connections that tasks look up by id (clients are not task inputs: they cannot be hashed)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from memscore_core.backends.factory import open_backend
from memscore_core.pool import RequestPool
from memscore_core.settings import Settings

_POOLS: dict[str, RequestPool] = {}


@asynccontextmanager
async def request_pool(settings: Settings, concurrency: int,
                       api_key: str | None = None) -> AsyncIterator[tuple[str, RequestPool]]:
    """Open the backend and its bounded pool for one flow run; yields (runtime id, pool).

    Prefect's task cache replaces the CLI's request cache, so the backend is opened without it.
    """
    backend = open_backend(settings.model_copy(update={"request_cache": None}), api_key=api_key)
    runtime_id = uuid.uuid4().hex
    try:
        async with RequestPool(backend, concurrency) as pool:
            _POOLS[runtime_id] = pool
            yield runtime_id, pool
    finally:
        _POOLS.pop(runtime_id, None)
        await backend.aclose()


def pool_for(runtime_id: str) -> RequestPool:
    """The pool a flow run opened."""
    return _POOLS[runtime_id]
