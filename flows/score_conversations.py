"""``score-conversations``: memscore's scoring run, each part of the corpus a retried Prefect task.

The run itself (record, skip what is scored, in-flight ordering, re-chunking, persisting, totals) is
memscore_core's lifecycle; this flow only says how its work executes and what the UI shows.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.blocks.system import Secret
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from flows.artifacts import publish_reports, publish_summary
from flows.parameters import DEFAULT_RUN, ScoringRun
from flows.runtime import flow_runtime
from flows.tasks import load_source, task_scorer, write_reports
from memscore_core.formats.incremental import IncrementalLoad
from memscore_core.scoring.incremental import SourceReading
from memscore_core.scoring.outcome import Outcome
from memscore_core.scoring.run import run_scoring, shard_of
from memscore_core.scoring.throttle import Throttle
from memscore_core.store import Store

PROGRESS_INTERVAL_S = 2.0


@flow(name="score-conversations", flow_run_name="score-{run.strategy}", retries=1, retry_delay_seconds=5)
async def score_conversations(run: ScoringRun = DEFAULT_RUN, reports_dir: str | None = "data/reports", shard: int = 0,
                              shards: int = 1) -> dict[str, Any]:
    """Score what is new under ``run.source`` (new files, appended JSONL tails; every file with ``run.full_scan``)
    into the store ``run.db``.

    Invalid conversations go to ``ingest_errors`` and the rest go on; the run fails at the end if any
    conversation could not be scored, after every other result is stored. The flow's own retry then
    scores only what is missing, its answered requests read back from the request cache
    (``MEMSCORE_REQUEST_CACHE``). One ``score-part`` task scores at least ``run.part_tokens`` planned prompt
    tokens, so that Prefect's fixed cost per task stays small beside the work. With ``shards`` > 1 it
    scores only shard ``shard`` of the corpus (see the ``score-corpus`` flow).
    """
    config = run.config
    api_key = cast(Secret, await Secret.aload(run.api_key_secret)).get() if run.api_key_secret else None
    store = Store(run.db)
    async with flow_runtime(run.settings(), config, api_key) as runtime:
        reading = SourceReading.open(store, model=runtime.model, config=config, options=run.input_options(),
                                     full_scan=run.full_scan or run.rescore, shard=shard, shards=shards)
        read: IncrementalLoad = await load_source(run.source, run.input_options(), quote(reading))  # type: ignore[call-overload]
        loaded = shard_of(read.loaded, shard, shards)
        progress = await acreate_progress_artifact(0.0, key="score-conversations-progress",
                                                   description="Conversations scored in this run")

        shown = Throttle(PROGRESS_INTERVAL_S)

        async def report(outcome: Outcome, done: int, total: int) -> None:
            if outcome.error is not None:
                get_run_logger().error("conversation %r failed: %s", outcome.loaded.conversation.id, outcome.error)
            if done == total or shown.due():
                await aupdate_progress_artifact(progress, done / total * 100)

        summary = await run_scoring(loaded, store, config, task_scorer(runtime.id), model=runtime.model,
                                    backend_name=runtime.backend, rescore=run.rescore, flow_run_id=flow_run.id,
                                    part_tokens=run.part_tokens, on_outcome=report)
        await asyncio.to_thread(reading.settle, read, loaded, summary)
    await publish_summary(summary.counts(), summary.scores, loaded.errors, summary.failed)
    if reports_dir and summary.scores:
        await publish_reports(await write_reports(run.db, [s.conversation_id for s in summary.scores], reports_dir))
    if summary.failed:
        raise RuntimeError(f"{len(summary.failed)} conversations could not be scored: {summary.counts()}")
    return summary.counts()
