"""The score flow's tasks: what Prefect adds to memscore's lifecycle.

A part of the corpus (consecutive conversations worth at least ``part_tokens`` planned prompt tokens) is
scored by one task, retried while the server fails transiently. Its model calls go through memscore's
request cache (content-keyed, on storage every worker can reach), so a retried, resumed or repeated part
never resends an answered request. Large arguments travel ``quote``-d, so Prefect neither hashes nor
walks them.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.tasks import exponential_backoff
from prefect.utilities.annotations import quote

from flows.runtime import runtime_for
from memscore_core.downstream.report import render_html, run_config
from memscore_core.errors import TransientBackendError
from memscore_core.formats import InputOptions
from memscore_core.formats.incremental import IncrementalLoad
from memscore_core.formats.loading import LoadedConversation
from memscore_core.scoring.batch import ScorePart
from memscore_core.scoring.incremental import SourceReading
from memscore_core.scoring.outcome import Outcome
from memscore_core.store import Store

PART_RETRIES = 4


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry 5xx, 429, connection errors and timeouts; never a 4xx."""
    try:
        state.result()
    except TransientBackendError:
        return True
    except Exception:
        return False
    return False


@task(name="load-conversations", cache_policy=NO_CACHE)
async def load_source(source: str | list[str], options: InputOptions, reading: SourceReading) -> IncrementalLoad:
    """Read and validate what is new in ``source`` (every file, on a full scan); errors are returned, not raised."""
    return await asyncio.to_thread(reading.read, [source] if isinstance(source, str) else source, options)


@task(name="score-part", task_run_name="{label}", cache_policy=NO_CACHE, retries=PART_RETRIES,
      retry_delay_seconds=exponential_backoff(backoff_factor=2), retry_jitter_factor=0.5,
      retry_condition_fn=is_transient)
async def score_part(label: str, part: Sequence[LoadedConversation], runtime_id: str) -> list[Outcome]:
    """Score one part; while attempts remain, a conversation the server failed transiently fails the
    attempt (its answered requests stay cached); on the last attempt it is reported as that
    conversation's failure and the others are kept."""
    outcomes = await runtime_for(runtime_id).score(part)
    transient = next((o.error for o in outcomes if isinstance(o.error, TransientBackendError)), None)
    context = TaskRunContext.get()
    if transient is not None and context is not None and context.task_run.run_count <= PART_RETRIES:
        raise transient
    return outcomes


def task_scorer(runtime_id: str) -> ScorePart:
    """Score each part as a ``score-part`` task."""
    async def score(part: Sequence[LoadedConversation]) -> list[Outcome]:
        return await score_part(part_label(part), quote(part), runtime_id)  # type: ignore[call-overload, no-any-return]
    return score


def part_label(part: Sequence[LoadedConversation]) -> str:
    """A part's task-run name: its first and last conversation ids and its size."""
    first, last = part[0].conversation.id, part[-1].conversation.id
    return first if len(part) == 1 else f"{first}..{last} ({len(part)})"


@task(name="write-reports", cache_policy=NO_CACHE)
async def write_reports(db: str, conversation_ids: list[str], directory: str) -> list[Path]:
    """One HTML report per scored conversation."""
    return await asyncio.to_thread(_write_reports, Store(db), conversation_ids, Path(directory))


def _write_reports(store: Store, conversation_ids: list[str], directory: Path) -> list[Path]:
    paths = []
    for conversation_id in conversation_ids:
        result = store.latest_result(conversation_id)
        if result is not None:
            path = directory / f"{safe_file_name(conversation_id)}.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_html(result, config=run_config(store, result)), encoding="utf-8")
            paths.append(path.resolve())
    return paths


def safe_file_name(name: str) -> str:
    """A file name for an arbitrary conversation id (no path separators, bounded length)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80].lstrip(".")
    return f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
