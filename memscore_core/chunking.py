"""Chunk planning exactly like the seed's ``chunk_entries``.

Lengths are UTF-8 bytes of the message text as sent. The budget is ``chunk_tokens × 4`` minus the
prefix (system prompt + context). Walking the entries, a chunk closes right after an assistant entry
once the running total has reached the budget; trailing entries form the last chunk.
"""

from __future__ import annotations

from collections.abc import Sequence

from memscore_core.conversation import Conversation, Entry

CHARS_PER_TOKEN = 4
DEFAULT_CHUNK_TOKENS = 50_000


def entry_bytes(entry: Entry) -> int:
    """UTF-8 length of the text the entry is sent as (Rust's ``str::len``)."""
    return len(entry.rendered_content().encode("utf-8"))


def chunk_budget(conversation: Conversation, chunk_tokens: int) -> int:
    """Bytes available to entries in one chunk: ``chunk_tokens × 4`` minus the prefix, floored at 0."""
    prefix = sum(len(message["content"].encode("utf-8")) for message in conversation.prefix_messages())
    return max(0, chunk_tokens * CHARS_PER_TOKEN - prefix)


def plan_chunks(entries: Sequence[Entry], budget: int) -> list[list[int]]:
    """Positions (into ``entries``) of each chunk, cut after an assistant entry once over budget.

    >>> from memscore_core.conversation import Entry
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
        if total >= budget and entry.role == "assistant":
            chunks.append(current)
            current = []
            total = 0
    if current or not chunks:
        chunks.append(current)
    return chunks
