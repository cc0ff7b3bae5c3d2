"""``score-corpus``: one scoring run split into shard flow runs that workers on any number of hosts share.

Each shard is a ``score-conversations`` run (deployment ``score-conversations/shard``) over the
conversations whose id hashes to it. This run waits for every shard to be stored, summarises them from
the store, and fails only after every shard has finished if any of them did not complete.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from flows.parameters import DEFAULT_RUN, ScoringRun
from flows.shards import run_shards
from memscore_core.store import Store

SHARD_DEPLOYMENT = "score-conversations/shard"


@flow(name="score-corpus", flow_run_name="score-corpus-{shards}-shards")
async def score_corpus(run: ScoringRun = DEFAULT_RUN, shards: int = 4, deployment: str = SHARD_DEPLOYMENT,
                       attempts: int = 3, poll_seconds: float = 5.0) -> dict[str, Any]:
    """Score ``run.source`` into ``run.db`` as ``shards`` flow runs of ``deployment`` on its work pool.

    Every worker must reach the same ``source``, ``db`` (a ``ducklake:postgres:`` store for several
    hosts), request cache (``MEMSCORE_REQUEST_CACHE``) and model servers; see docs/scaling.md.
    """
    parameters = {"run": run.model_dump(mode="json"), "reports_dir": None}
    finished = await run_shards(deployment, parameters, shards, attempts=attempts, poll_seconds=poll_seconds)
    runs = {str(run.flow_run_id): run for run in Store(run.db).runs() if run.flow_run_id is not None}
    rows: list[dict[str, Any]] = []
    for shard in finished:
        stored = runs.get(str(shard.run.id))
        rows.append({"shard": shard.index, "attempts": shard.attempt, "state": shard.run.state_name,
                     "requests": stored.requests if stored else None,
                     "prompt_tokens": stored.prompt_tokens if stored else None,
                     "status": stored.status if stored else None})
    await acreate_table_artifact(rows, key="score-corpus-shards", description="Each shard's final run")
    summary = {"shards": shards, "requests": sum(row["requests"] or 0 for row in rows),
               "prompt_tokens": sum(row["prompt_tokens"] or 0 for row in rows), "shard_runs": rows}
    incomplete = [row for row in rows if row["state"] != "Completed"]
    if incomplete:
        get_run_logger().error("shards that did not complete: %s", incomplete)
        raise RuntimeError(f"{len(incomplete)} of {shards} shards did not complete: {incomplete}")
    return summary
