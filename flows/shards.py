"""Fan a run out as shard flow runs on the work pool, and see each through to a final state.

Prefect does the distribution: ``run_deployment`` puts each shard on the pool, and whichever worker
polls it first runs it, on any host. A shard whose worker dies is marked ``Crashed`` by the server (the
zombie automation in ``flows/automations.yaml``, driven by flow-run heartbeats) and submitted again,
up to ``attempts`` times; its answered requests are read back from the shared request cache.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.runtime import flow_run


@dataclass
class Shard:
    """One shard and the flow run currently responsible for it."""

    index: int
    run: FlowRun
    attempt: int = 1


async def run_shards(deployment: str, parameters: dict[str, Any], shards: int, *, attempts: int,
                     poll_seconds: float) -> list[Shard]:
    """Submit every shard, resubmit crashed ones, and return once every shard has a final state."""
    pending = [await _submit(deployment, parameters, index, shards, 1) for index in range(shards)]
    async with get_client() as client:
        while True:
            for shard in pending:
                shard.run = await client.read_flow_run(shard.run.id)
                state = shard.run.state
                if state is not None and state.is_crashed() and shard.attempt < attempts:
                    resubmitted = await _submit(deployment, parameters, shard.index, shards, shard.attempt + 1)
                    shard.run, shard.attempt = resubmitted.run, resubmitted.attempt
            if all(shard.run.state is not None and shard.run.state.is_final() for shard in pending):
                return pending
            await asyncio.sleep(poll_seconds)


async def _submit(deployment: str, parameters: dict[str, Any], index: int, shards: int, attempt: int) -> Shard:
    """One flow run for shard ``index``; the idempotency key makes a retried parent find, not duplicate, it."""
    run = await arun_deployment(
        deployment, parameters={**parameters, "shard": index, "shards": shards}, timeout=0,
        flow_run_name=f"shard-{index + 1}-of-{shards}", idempotency_key=f"{flow_run.id}-shard-{index}-{attempt}")
    return Shard(index, run, attempt)
