"""Chunk planning matches the seed's chunk_entries."""

from __future__ import annotations

from memscore_core.ablation.chunking import chunk_budget, plan_chunks
from memscore_core.model.conversation import Conversation, Entry


def _entries(*specs: tuple[str, str]) -> list[Entry]:
    return [Entry(role=role, content=content) for role, content in specs]  # type: ignore[arg-type]


def test_a_chunk_closes_only_after_an_assistant_entry_once_over_budget() -> None:
    entries = _entries(("user", "aaaa"), ("user", "bbbb"), ("assistant", "c"), ("user", "d"), ("assistant", "e"))
    assert plan_chunks(entries, 5) == [[0, 1, 2], [3, 4]]


def test_lengths_are_utf8_bytes_not_characters() -> None:
    entries = _entries(("user", "é"), ("assistant", "é"), ("user", "x"), ("assistant", "y"))
    assert plan_chunks(entries, 4) == [[0, 1], [2, 3]]
    assert plan_chunks(entries, 5) == [[0, 1, 2, 3]]


def test_trailing_entries_form_the_last_chunk() -> None:
    entries = _entries(("user", "aaaa"), ("assistant", "b"), ("user", "tail"))
    assert plan_chunks(entries, 1) == [[0, 1], [2]]


def test_the_budget_is_four_bytes_a_token_minus_the_prefix() -> None:
    conversation = Conversation(id="c", system_prompt="ssss", context="cc", entries=_entries(("user", "x")))
    assert chunk_budget(conversation, 10) == 40 - 6
    assert chunk_budget(conversation, 1) == 0
