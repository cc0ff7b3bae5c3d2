"""The score flow's tasks. Model calls are cached on request content and retried when transient."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.tasks import exponential_backoff

from flows.runtime import pool_for
from memscore_core.ablation import (
    AblationPlan,
    PromptRequest,
    ResponseLogprobs,
    aggregate_exact,
    plan_exact,
    read_responses,
)
from memscore_core.backends.cache import request_key
from memscore_core.backends.vllm import RequestOptions
from memscore_core.conversation import Conversation
from memscore_core.errors import TransientBackendError
from memscore_core.loading import LoadedConversation, LoadResult, load_conversations
from memscore_core.prompt import ChatPrompt
from memscore_core.report import render_html, run_config
from memscore_core.result import ConversationScore
from memscore_core.seed import score_seed
from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store

RESULTS_DIR = Path(os.environ.get("MEMSCORE_RESULTS_DIR", REPO_ROOT / ".memscore" / "prefect-results"))


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry 5xx, 429, connection errors and timeouts; never a 4xx."""
    try:
        state.result()
    except TransientBackendError:
        return True
    except Exception:
        return False
    return False


def request_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """The cache record of a model call: its content key, prefixed with the task name."""
    return f"{context.task.name}-{parameters['key']}"


MODEL_CALL: dict[str, Any] = {
    "retries": 4, "retry_delay_seconds": exponential_backoff(backoff_factor=2), "retry_jitter_factor": 0.5,
    "retry_condition_fn": is_transient, "cache_key_fn": request_cache_key, "persist_result": True,
    "result_storage": RESULTS_DIR}


@task(name="load-conversations", cache_policy=NO_CACHE)
def load_source(source: str) -> LoadResult:
    """Validate every conversation of ``source``; errors are returned, not raised."""
    return load_conversations([source])


@task(name="plan-chunks", cache_policy=NO_CACHE)
def plan_chunks(conversation: Conversation, chunk_tokens: int, window: int | None) -> AblationPlan:
    """Chunks and the requests that score them."""
    return plan_exact(conversation, chunk_tokens, window)


@task(name="score-request", task_run_name="{label}", **MODEL_CALL)
async def score_request(key: str, label: str, conversation: Conversation, request: PromptRequest,
                        runtime_id: str) -> ResponseLogprobs:
    """One baseline, ablation or drop-all request, cached on model, messages and options."""
    scored = await pool_for(runtime_id).score(request.prompt(conversation), RequestOptions())
    return read_responses(conversation, request, scored)


@task(name="score-seed", task_run_name="seed-{conversation.id}", **MODEL_CALL)
async def score_seed_task(key: str, conversation: Conversation, chunk_tokens: int, model: str,
                          runtime_id: str) -> ConversationScore:
    """The seed strategy for one conversation (strictly sequential by definition)."""
    pool = pool_for(runtime_id)

    async def send(prompt: ChatPrompt) -> Any:
        return await pool.score(prompt, RequestOptions.seed())

    return await score_seed(conversation, send, chunk_tokens=chunk_tokens, model=model)


@task(name="aggregate", cache_policy=NO_CACHE)
def aggregate(conversation: Conversation, plan: AblationPlan, answers: list[ResponseLogprobs],
              model: str) -> ConversationScore:
    """The memories × responses matrix from every answer of the plan."""
    return aggregate_exact(conversation, plan, dict(zip(plan.requests, answers, strict=True)), model=model)


@task(name="persist", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def persist(db: str, run_id: str, loaded: LoadedConversation, score: ConversationScore, config_hash: str) -> None:
    """Write one conversation's result (replacing any with the same key) in one transaction."""
    store = Store(db)
    store.upsert_conversation(loaded.conversation, score.content_hash, loaded.file)
    store.write_result(run_id, score, config_hash)


def request_task_key(model: str, conversation: Conversation, request: PromptRequest) -> str:
    """The content key of one request: model, exact messages, options and the entries it reads."""
    content = request_key(model, request.prompt(conversation), RequestOptions())
    return hashlib.sha256(f"{content}:{request.entries}".encode()).hexdigest()


@task(name="write-reports", cache_policy=NO_CACHE)
def write_reports(db: str, conversation_ids: list[str], directory: str) -> list[Path]:
    """One HTML report per scored conversation."""
    store = Store(db)
    paths = []
    for conversation_id in conversation_ids:
        result = store.latest_result(conversation_id)
        if result is not None:
            path = Path(directory) / f"{safe_file_name(conversation_id)}.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_html(result, config=run_config(store, result)), encoding="utf-8")
            paths.append(path.resolve())
    return paths


def safe_file_name(name: str) -> str:
    """A file name for an arbitrary conversation id (no path separators, bounded length)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80].lstrip(".")
    return f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
