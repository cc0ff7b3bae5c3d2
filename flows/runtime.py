"""What a flow run opens once and its tasks look up by id: the backend behind the request cache, its pool.

Clients and connections are not task inputs (Prefect would try to hash and visit them); a task gets a
runtime id and finds them here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from memscore_core.config import ScoringConfig
from memscore_core.scoring.batch import ScorePart
from memscore_core.scoring.opening import open_scorer
from memscore_core.settings import Settings


@dataclass(frozen=True)
class FlowRuntime:
    """One flow run's model name, recorded backend and in-process scorer."""

    id: str
    model: str
    backend: str
    score: ScorePart


_RUNTIMES: dict[str, FlowRuntime] = {}


@asynccontextmanager
async def flow_runtime(settings: Settings, config: ScoringConfig,
                       api_key: str | None = None) -> AsyncIterator[FlowRuntime]:
    """Open the backend (behind the request cache ``settings`` name) and its bounded pool for one flow run."""
    async with open_scorer(config, settings, api_key=api_key) as scorer:
        runtime = FlowRuntime(uuid.uuid4().hex, scorer.model, scorer.backend, scorer.score)
        _RUNTIMES[runtime.id] = runtime
        try:
            yield runtime
        finally:
            _RUNTIMES.pop(runtime.id, None)


def runtime_for(runtime_id: str) -> FlowRuntime:
    """The runtime a flow run opened."""
    return _RUNTIMES[runtime_id]

