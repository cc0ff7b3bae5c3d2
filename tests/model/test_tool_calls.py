"""Tool calls in a conversation: how an entry is sent, which call a result answers, and how chunks count them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from memscore_core.ablation.chunking import chunk_budget, entry_bytes, plan_chunks
from memscore_core.model.conversation import Conversation, Entry, SystemMemory, ToolCall, ToolFunction


def call(call_id: str, name: str = "recall", arguments: str = '{"key": "home"}') -> ToolCall:
    return ToolCall(id=call_id, function=ToolFunction(name=name, arguments=arguments))


def test_an_assistant_entry_is_sent_with_its_tool_calls_and_null_content_as_empty_text() -> None:
    entry = Entry(role="assistant", content=None, tool_calls=[call("c1")])
    assert entry.api_message() == {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "recall", "arguments": '{"key": "home"}'}}]}


def test_a_tool_result_is_sent_with_its_call_id_and_name() -> None:
    entry = Entry(role="tool", content="Oslo", tool_call_id="c1", name="recall")
    assert entry.api_message() == {"role": "tool", "content": "Oslo", "tool_call_id": "c1", "name": "recall"}


def test_an_entry_without_the_new_fields_is_sent_as_before() -> None:
    assert Entry(role="user", content="hi").api_message() == {"role": "user", "content": "hi"}


@pytest.mark.parametrize("arguments", ["{", "[1, 2]", "NaN", '"text"'])
def test_tool_call_arguments_must_be_json_text_of_an_object(arguments: str) -> None:
    with pytest.raises(ValidationError, match="arguments must be JSON text of an object"):
        call("c1", arguments=arguments)


def test_a_tool_result_answers_the_nearest_earlier_call_with_its_id() -> None:
    c = Conversation(id="c", entries=[
        Entry(role="assistant", content=None, tool_calls=[call("c1")]),
        Entry(role="tool", content="old", tool_call_id="c1"),
        Entry(role="assistant", content="again", tool_calls=[call("c1"), call("c2")]),
        Entry(role="tool", content="new", tool_call_id="c1"),
        Entry(role="tool", content="none", tool_call_id="c9")])
    assert [c.caller(i) for i in (1, 3, 4)] == [0, 2, None]


def test_without_calls_keeps_the_other_calls_of_the_turn() -> None:
    entry = Entry(role="assistant", content="Let me look.", tool_calls=[call("c1"), call("c2")])
    assert [c.id for c in entry.without_calls({"c1"}).tool_calls or ()] == ["c2"]
    assert entry.without_calls({"c1", "c2"}).api_message() == {"role": "assistant", "content": "Let me look."}


def test_entry_bytes_count_the_names_and_arguments_of_tool_calls() -> None:
    entry = Entry(role="assistant", content="ab", tool_calls=[call("c1", "recall", '{"k": 1}')])
    assert entry_bytes(entry) == 2 + len("recall") + len('{"k": 1}')


def test_a_chunk_never_ends_between_a_tool_call_and_its_results() -> None:
    entries = [Entry(role="user", content="x" * 10),
               Entry(role="assistant", content=None, tool_calls=[call("c1")]),
               Entry(role="tool", content="Oslo", tool_call_id="c1"),
               Entry(role="assistant", content="In Oslo."),
               Entry(role="user", content="y" * 10), Entry(role="assistant", content="z")]
    assert plan_chunks(entries, 5) == [[0, 1, 2, 3], [4, 5]]


def test_the_chunk_budget_leaves_room_for_system_memories_and_tools() -> None:
    plain = Conversation(id="c", system_prompt="S", entries=[Entry(role="user", content="hi")])
    tools = [{"type": "function", "function": {"name": "recall"}}]
    rich = plain.model_copy(update={"system_memories": [SystemMemory(key="k", content="abcd")], "tools": tools})
    assert chunk_budget(plain, 100) - chunk_budget(rich, 100) == len("\n\nabcd") + len(
        '[{"type": "function", "function": {"name": "recall"}}]')
