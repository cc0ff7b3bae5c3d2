"""``score-conversations``: memscore's scoring run, each part of the corpus a retried Prefect task.

The run itself (record, skip what is scored, in-flight ordering, re-chunking, persisting, totals) is
memscore_core's lifecycle; this flow only says how its work executes and what the UI shows.
"""

from __future__ import annotations

from typing import Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.blocks.system import Secret
from prefect.runtime import flow_run

from flows.artifacts import publish_reports, publish_summary
from flows.runtime import flow_runtime
from flows.tasks import load_source, task_scorer, write_reports
from memscore_core.engine import Ablation, ScoringConfig, Strategy
from memscore_core.formats import InputFormat, InputOptions
from memscore_core.lifecycle import run_scoring, shard_of
from memscore_core.runner import Outcome
from memscore_core.settings import Settings
from memscore_core.store import Store
from memscore_core.strategies.noise_floor import DEFAULT_QUANTILE
from memscore_core.strategies.surrogate import DEFAULT_MASKS
from memscore_core.throttle import Throttle

PROGRESS_INTERVAL_S = 2.0
DEFAULT_PART_TOKENS = 50_000


@flow(name="score-conversations", flow_run_name="score-{strategy}", retries=1, retry_delay_seconds=5)
async def score_conversations(source: str = "data/conversations", db: str = "data/memscore.duckdb",
                              base_url: str | None = None, model: str | None = None, strategy: Strategy = "exact",
                              chunk_tokens: int = 50_000, window: int | None = None, concurrency: int = 8,
                              rescore: bool = False, api_key_secret: str | None = None,
                              reports_dir: str | None = "data/reports",
                              part_tokens: int = DEFAULT_PART_TOKENS, shard: int = 0, shards: int = 1,
                              input_format: InputFormat = "auto", memory_tools: list[str] | None = None,
                              memory_key_arg: str = "key", masks: int = DEFAULT_MASKS,
                              noise_floor: float | None = None,
                              floor_quantile: float = DEFAULT_QUANTILE,
                              ablation: Ablation = "remove") -> dict[str, Any]:
    """Score every conversation under ``source`` into the store ``db``.

    Invalid conversations go to ``ingest_errors`` and the rest go on; the run fails at the end if any
    conversation could not be scored, after every other result is stored. The flow's own retry then
    scores only what is missing, its answered requests read back from the request cache
    (``MEMSCORE_REQUEST_CACHE``). One ``score-part`` task scores at least ``part_tokens`` planned prompt
    tokens, so that Prefect's fixed cost per task stays small beside the work. With ``shards`` > 1 it
    scores only shard ``shard`` of the corpus (see the ``score-corpus`` flow). ``input_format``,
    ``memory_tools`` and ``memory_key_arg`` read OpenAI chat logs and Letta agent files as ``memscore score``
    does (docs/format-*.md). ``masks``, ``noise_floor`` and ``floor_quantile`` set the surrogate and screening
    strategies, ``ablation`` whether memories are removed or replaced by fillers (docs/strategies.md).
    """
    config = ScoringConfig(strategy=strategy, chunk_tokens=chunk_tokens, window=window, masks=masks,
                           noise_floor=noise_floor, floor_quantile=floor_quantile, ablation=ablation)
    settings = Settings.with_overrides(base_url=base_url, model=model, concurrency=concurrency)
    api_key = cast(Secret, await Secret.aload(api_key_secret)).get() if api_key_secret else None
    store = Store(db)
    options = InputOptions(input_format=input_format, memory_tools=tuple(memory_tools or ()),
                           memory_key_arg=memory_key_arg)
    loaded = shard_of(await load_source(source, options), shard, shards)
    async with flow_runtime(settings, config, api_key) as runtime:
        progress = await acreate_progress_artifact(0.0, key="score-conversations-progress",
                                                   description="Conversations scored in this run")

        shown = Throttle(PROGRESS_INTERVAL_S)

        async def report(outcome: Outcome, done: int, total: int) -> None:
            if outcome.error is not None:
                get_run_logger().error("conversation %r failed: %s", outcome.loaded.conversation.id, outcome.error)
            if done == total or shown.due():
                await aupdate_progress_artifact(progress, done / total * 100)

        summary = await run_scoring(loaded, store, config, task_scorer(runtime.id), model=runtime.model,
                                    backend_name=base_url or "embedded", rescore=rescore, flow_run_id=flow_run.id,
                                    part_tokens=part_tokens, on_outcome=report)
    await publish_summary(summary.counts(), summary.scores, loaded.errors, summary.failed)
    if reports_dir and summary.scores:
        await publish_reports(await write_reports(db, [s.conversation_id for s in summary.scores], reports_dir))
    if summary.failed:
        raise RuntimeError(f"{len(summary.failed)} conversations could not be scored: {summary.counts()}")
    return summary.counts()
