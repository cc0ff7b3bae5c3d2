"""``score-conversations``: load, skip what is scored, then per conversation
plan chunks → baseline per chunk → ablate per memory → drop-all per chunk → aggregate → persist."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.blocks.system import Secret
from prefect.runtime import flow_run

from flows.artifacts import publish_reports, publish_summary
from flows.runtime import request_pool
from flows.tasks import (
    aggregate,
    load_source,
    persist,
    plan_chunks,
    request_task_key,
    score_request,
    score_seed_task,
    write_reports,
)
from memscore_core.engine import ScoringConfig, Strategy, smaller_chunks
from memscore_core.errors import ContextLengthError
from memscore_core.loading import LoadedConversation
from memscore_core.result import ConversationScore, config_hash, content_hash
from memscore_core.runner import conversations_in_flight, in_input_order
from memscore_core.settings import Settings
from memscore_core.store import Store


@flow(name="score-conversations", flow_run_name="score-{strategy}", retries=1, retry_delay_seconds=5)
async def score_conversations(source: str = "data/conversations", db: str = "data/memscore.duckdb",
                              base_url: str | None = None, model: str | None = None, strategy: Strategy = "exact",
                              chunk_tokens: int = 50_000, window: int | None = None, concurrency: int = 8,
                              rescore: bool = False, api_key_secret: str | None = None,
                              reports_dir: str | None = "data/reports") -> dict[str, Any]:
    """Score every conversation under ``source`` into the DuckDB file ``db``.

    Invalid conversations go to ``ingest_errors`` and the rest go on; the run fails at the end if any
    conversation could not be scored, after every other result is stored. The flow's own retry then
    scores only what is missing, its model calls answered from the task cache.
    """
    config = ScoringConfig(strategy=strategy, chunk_tokens=chunk_tokens, window=window)
    settings = Settings.with_overrides(base_url=base_url, model=model)
    api_key = cast(Secret, await Secret.aload(api_key_secret)).get() if api_key_secret else None
    store = Store(db)
    loaded = load_source(source)
    async with request_pool(settings, concurrency, api_key) as (runtime_id, pool):
        model_name = await pool.backend.model()
        run_id = store.record_run_start(model=model_name, backend=base_url or "embedded", strategy=strategy,
                                        config=config.result_config(), config_hash=config.hash(),
                                        flow_run_id=flow_run.id)
        store.record_ingest_errors(run_id, loaded.errors)
        done = set() if rescore else store.scored_hashes(model_name, config.hash())
        todo = [item for item in loaded.conversations if content_hash(item.conversation) not in done]
        progress = await acreate_progress_artifact(0.0, key="score-conversations-progress",
                                            description="Conversations scored in this run")
        scores: list[ConversationScore] = []
        failures: list[tuple[LoadedConversation, str]] = []
        outcomes = in_input_order(todo, conversations_in_flight(config),
                                  lambda item: _score_one(item, config, model_name, runtime_id))
        done_count = 0
        async for item, outcome in outcomes:
            try:
                if isinstance(outcome, BaseException):
                    raise outcome
                persist(db, run_id, item, outcome, config.hash())
                scores.append(outcome)
            except Exception as exc:  # recorded below; the other conversations go on
                get_run_logger().error("conversation %r failed: %s", item.conversation.id, exc)
                failures.append((item, str(exc)))
            done_count += 1
            await aupdate_progress_artifact(progress, done_count / len(todo) * 100)
        requests, prompt_tokens = sum(s.requests for s in scores), sum(s.prompt_tokens for s in scores)
        summary = {"run_id": run_id, "model": model_name, "loaded": len(loaded.conversations),
                   "invalid": len(loaded.errors), "skipped": len(loaded.conversations) - len(todo),
                   "scored": len(scores), "failed": len(failures), "requests": requests,
                   "prompt_tokens": prompt_tokens}
        store.record_run_finish(run_id, status="failed" if failures else "completed",
                                requests=requests, prompt_tokens=prompt_tokens)
    await publish_summary(summary, scores, loaded.errors, failures)
    if reports_dir and scores:
        await publish_reports(write_reports(db, [score.conversation_id for score in scores], reports_dir))
    if failures:
        raise RuntimeError(f"{len(failures)} conversations could not be scored: {summary}")
    return summary


async def _score_one(item: LoadedConversation, config: ScoringConfig, model: str, runtime_id: str) -> ConversationScore:
    conversation = item.conversation
    if config.strategy == "seed":
        key = f"{model}-{content_hash(conversation)}-{config_hash(config.result_config())}"
        return await score_seed_task(key, conversation, config.chunk_tokens, model, runtime_id)
    chunk_tokens = config.chunk_tokens
    while True:
        plan = plan_chunks(conversation, chunk_tokens, config.window)
        try:
            answers = await asyncio.gather(*(
                score_request(request_task_key(model, conversation, request),
                              f"{conversation.id}-{request.kind}-{request.chunk}", conversation, request, runtime_id)
                for request in plan.requests))
        except ContextLengthError as exc:
            chunk_tokens = smaller_chunks(conversation, chunk_tokens, exc)
            continue
        return aggregate(conversation, plan, list(answers), model)
