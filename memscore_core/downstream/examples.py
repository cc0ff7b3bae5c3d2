"""Training examples from a scored response: pure functions over the stored conversation.

The prompt is the conversation as it was scored, up to the response: the system message with its
system-prompt memories, tool calls and tool results as the agent saw them, and the conversation's tools.
Without ``keep_memories`` every memory is removed exactly as scoring removes it (memory entries left out,
system-memory blocks cut, a tool result's call cut from the turn that made it).
"""

from __future__ import annotations

from typing import Any

from memscore_core.ablation.requests import removal_request
from memscore_core.store.downstream import ExportSource


def prompt_messages(source: ExportSource, *, keep_memories: bool) -> list[dict[str, Any]]:
    """The conversation up to the response; memories removed unless ``keep_memories``."""
    conversation = source.conversation
    before = list(range(source.candidate.response_entry_idx))
    removed = [] if keep_memories else list(range(len(conversation.memories)))
    return removal_request(conversation, "drop_all", 0, before, removed).prompt(conversation).messages


def tools(source: ExportSource) -> list[dict[str, Any]] | None:
    """The tools the conversation declared (what the chat template rendered), if any."""
    return source.conversation.tools


def target_message(source: ExportSource) -> dict[str, Any]:
    """The original response, as the assistant message to learn (its tool calls included)."""
    return source.conversation.entries[source.candidate.response_entry_idx].api_message()


def metadata(source: ExportSource) -> dict[str, Any]:
    """Where an example comes from and why it was chosen (``top_memories`` are exact cells)."""
    c = source.candidate
    return {"candidate_id": c.candidate_id, "conversation_id": c.conversation_id,
            "response_entry_idx": c.response_entry_idx, "dependence": c.dependence, "model": c.model,
            "content_hash": c.content_hash, "config_hash": c.config_hash,
            "top_memories": [{"memory_key": key, "divergence": value} for key, value in source.top_memories],
            **cell_counts(source)}


def cell_counts(source: ExportSource) -> dict[str, int]:
    """How many of the response's cells are exact and how many are screened estimates (which never count)."""
    return {"exact_cells": source.exact_cells, "screened_cells": source.screened_cells}


def sft_record(source: ExportSource, *, keep_memories: bool) -> dict[str, Any]:
    return _with_tools(source, {"messages": prompt_messages(source, keep_memories=keep_memories)
                                + [target_message(source)], **cell_counts(source)})


def dpo_record(source: ExportSource, rejected: str, *, keep_memories: bool) -> dict[str, Any]:
    return _with_tools(source, {"prompt": prompt_messages(source, keep_memories=keep_memories),
                                "chosen": [target_message(source)],
                                "rejected": [{"role": "assistant", "content": rejected}], **cell_counts(source)})


def _with_tools(source: ExportSource, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with the conversation's ``tools`` when it declared any (records without tools stay as they were)."""
    declared = tools(source)
    return record if declared is None else record | {"tools": declared}
