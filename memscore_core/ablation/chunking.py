"""Chunk planning exactly like the seed's ``chunk_entries``.

Lengths are UTF-8 bytes of the message text as sent, tool calls included. The budget is
``chunk_tokens × 4`` minus the prefix (system message with its memories, context, and the tools list).
Walking the entries, a chunk closes right after an assistant entry once the running total has reached the
budget, but never after one that calls tools (its results belong with it); trailing entries form the last
chunk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from memscore_core.model.conversation import Conversation, Entry

CHARS_PER_TOKEN = 4
DEFAULT_CHUNK_TOKENS = 50_000


def entry_bytes(entry: Entry) -> int:
    """UTF-8 length of the text the entry is sent as (Rust's ``str::len``), plus its tool calls' names and
    arguments."""
    calls = sum(len(call.function.name.encode("utf-8")) + len(call.function.arguments.encode("utf-8"))
                for call in entry.tool_calls or ())
    return len(entry.rendered_content().encode("utf-8")) + calls


def chunk_budget(conversation: Conversation, chunk_tokens: int) -> int:
    """Bytes available to entries in one chunk: ``chunk_tokens × 4`` minus the prefix, floored at 0."""
    prefix = sum(len(message["content"].encode("utf-8")) for message in conversation.prefix_messages())
    if conversation.tools:
        prefix += len(json.dumps(conversation.tools, ensure_ascii=False).encode("utf-8"))
    return max(0, chunk_tokens * CHARS_PER_TOKEN - prefix)


def plan_chunks(entries: Sequence[Entry], budget: int) -> list[list[int]]:
    """Positions (into ``entries``) of each chunk, cut after an assistant entry once over budget.

    >>> from memscore_core.model.conversation import Entry
    >>> turns = [Entry(role="user", content="ab"), Entry(role="assistant", content="cd")] * 2
    >>> plan_chunks(turns, 3)
    [[0, 1], [2, 3]]
    """
    chunks: list[list[int]] = []
    current: list[int] = []
    total = 0
    for position, entry in enumerate(entries):
        total += entry_bytes(entry)
        current.append(position)
        if total >= budget and entry.role == "assistant" and not entry.tool_calls:
            chunks.append(current)
            current = []
            total = 0
    if current or not chunks:
        chunks.append(current)
    return chunks
