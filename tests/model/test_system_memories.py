"""Memories kept inside the system prompt: where their blocks go, and that removing one removes exactly it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from memscore_core.model.conversation import Conversation, Entry, SystemMemory

ENTRIES = [Entry(role="user", content="Where do I live?"), Entry(role="assistant", content="In Oslo.")]


def conversation(system_prompt: str, *blocks: tuple[str, str]) -> Conversation:
    return Conversation(id="c", system_prompt=system_prompt, entries=ENTRIES,
                        system_memories=[SystemMemory(key=key, content=content) for key, content in blocks])


def test_blocks_without_a_slot_follow_the_system_prompt_each_after_a_blank_line() -> None:
    c = conversation("You help.", ("home", "The user lives in Oslo."), ("pet", "The user has a cat."))
    assert c.system_message() == "You help.\n\nThe user lives in Oslo.\n\nThe user has a cat."


def test_a_block_goes_where_the_system_prompt_has_its_slot() -> None:
    c = conversation("Notes:\n{{memory:home}}\nBe brief.", ("home", "- lives in Oslo\n"))
    assert c.system_message() == "Notes:\n- lives in Oslo\n\nBe brief."


def test_removing_a_block_leaves_the_prompt_as_if_it_had_never_been_there() -> None:
    c = conversation("You help.", ("home", "The user lives in Oslo."), ("pet", "The user has a cat."))
    assert c.system_message(without=[0]) == "You help.\n\nThe user has a cat."
    slotted = conversation("A{{memory:home}}B", ("home", "<home>x</home>"))
    assert slotted.system_message(without=[0]) == "AB"


def test_the_prefix_carries_the_blocks_in_the_system_message() -> None:
    c = conversation("You help.", ("home", "The user lives in Oslo."))
    assert c.prefix_messages() == [{"role": "system", "content": "You help.\n\nThe user lives in Oslo."}]
    assert c.prefix_messages(without_system=[0]) == [{"role": "system", "content": "You help."}]


def test_memory_rows_list_system_memories_first_then_memory_entries() -> None:
    c = Conversation(id="c", system_memories=[SystemMemory(key="persona", content="I am Sam.")],
                     entries=[Entry(role="tool", content="Oslo", memory_key="home"), *ENTRIES])
    assert [(m.key, m.entry, m.system) for m in c.memories] == [("persona", None, 0), ("home", 0, None)]


def test_a_system_memory_key_used_twice_is_rejected() -> None:
    with pytest.raises(ValidationError, match="system memory key 'home' is used twice"):
        conversation("", ("home", "a"), ("home", "b"))


def test_a_slot_written_twice_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"the slot \{\{memory:home\}\} appears more than once"):
        conversation("{{memory:home}} {{memory:home}}", ("home", "a"))


def test_a_conversation_without_system_memories_keeps_its_system_prompt_verbatim() -> None:
    c = Conversation(id="c", system_prompt="Literal {{memory:home}} text.", entries=ENTRIES)
    assert c.system_message() == "Literal {{memory:home}} text."
