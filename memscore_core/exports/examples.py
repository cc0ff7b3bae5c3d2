"""Training examples from a scored response: pure functions over the stored conversation."""

from __future__ import annotations

from typing import Any

from memscore_core.conversation import Entry
from memscore_core.store.downstream import ExportSource


def prompt_messages(source: ExportSource, *, keep_memories: bool) -> list[dict[str, str]]:
    """The conversation up to the response; memory entries stripped unless ``keep_memories``."""
    messages = [{"role": "system", "content": source.system_prompt}]
    if source.context:
        messages.append({"role": "user", "content": source.context})
    before = source.entries[:source.candidate.response_entry_idx]
    messages += [entry.api_message() for entry in before if keep_memories or not entry.is_memory]
    return messages


def target_message(source: ExportSource) -> dict[str, str]:
    """The original response, as the assistant message to learn."""
    response: Entry = source.entries[source.candidate.response_entry_idx]
    return response.api_message()


def metadata(source: ExportSource) -> dict[str, Any]:
    """Where an example comes from and why it was chosen."""
    c = source.candidate
    return {"candidate_id": c.candidate_id, "conversation_id": c.conversation_id,
            "response_entry_idx": c.response_entry_idx, "dependence": c.dependence, "model": c.model,
            "content_hash": c.content_hash, "config_hash": c.config_hash,
            "top_memories": [{"memory_key": key, "divergence": value} for key, value in source.top_memories]}


def sft_record(source: ExportSource, *, keep_memories: bool) -> dict[str, Any]:
    return {"messages": prompt_messages(source, keep_memories=keep_memories) + [target_message(source)]}


def dpo_record(source: ExportSource, rejected: str, *, keep_memories: bool) -> dict[str, Any]:
    return {"prompt": prompt_messages(source, keep_memories=keep_memories), "chosen": [target_message(source)],
            "rejected": [{"role": "assistant", "content": rejected}]}
