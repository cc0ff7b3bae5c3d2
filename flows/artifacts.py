"""Artifacts a score run leaves in the Prefect UI: a summary table and the run's top memories."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from memscore_core.errors import InputError
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.outcome import Outcome
from memscore_core.ui.settings import UiSettings, conversation_url


async def publish_summary(summary: dict[str, Any], scores: list[ConversationScore], errors: list[InputError],
                          failures: list[Outcome]) -> None:
    """The run's counts, its invalid and failed conversations, and its top memories."""
    rows = [{"what": key, "count": value} for key, value in summary.items() if key != "run_id"]
    rows += [{"what": f"invalid: {error}", "count": 1} for error in errors]
    rows += [{"what": f"failed: {item.loaded.conversation.id}: {item.error}", "count": 1} for item in failures]
    await acreate_table_artifact(rows, key="score-conversations-summary", description="Counts and errors of this run")
    importance: dict[str, float] = defaultdict(float)
    for score in scores:
        for key, weight in zip(score.memory_keys, score.memory_weights, strict=True):
            importance[key] += weight
    top = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:20]
    lines = ["| memory key | importance |", "|---|---:|"] + [f"| `{key}` | {value:.3f} |" for key, value in top]
    await acreate_markdown_artifact("## Top memories of this run\n\n" + "\n".join(lines), key="score-conversations-top")
    ui_url = UiSettings().url
    if ui_url and scores:
        await publish_ui_links(ui_url, [score.conversation_id for score in scores])


UI_LINKS = 500
"""Conversations an artifact links to at most; the rest are on the UI's overview."""


async def publish_ui_links(ui_url: str, conversation_ids: list[str]) -> None:
    """Links to the `memscore ui` page of each conversation this run scored (``MEMSCORE_UI_URL``)."""
    links = [f"- [{conversation_id}]({conversation_url(ui_url, conversation_id)})"
             for conversation_id in conversation_ids[:UI_LINKS]]
    more = len(conversation_ids) - UI_LINKS
    if more > 0:
        links.append(f"- … and {more} more on [the overview]({ui_url.rstrip('/')}/)")
    await acreate_markdown_artifact("## Scored conversations in memscore ui\n\n" + "\n".join(links) + "\n",
                                    key="score-conversations-ui")


async def publish_reports(paths: list[Path]) -> None:
    """Links to this run's HTML reports."""
    links = "\n".join(f"- [{path.stem}]({path.as_uri()})" for path in paths)
    await acreate_markdown_artifact(f"## Reports\n\n{links}\n", key="score-conversations-reports")
