"""Letta agent files read into conversations: in-context messages, core-memory blocks, both layouts, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.formats.conftest import EXAMPLES, load

AGENT_FILE = EXAMPLES / "letta-agent.af"
OLDER_SYSTEM = ("You are Letta.\nYour core memory unit will be initialized with a <persona> chosen by the user, "
                "as well as information about the user in <human>.\n### Memory\nCore memory shown below:\n"
                '<persona characters="9/5000">\nI am Sam.\n</persona>\n<human characters="11/5000">\n'
                "Name: Chad.\n</human>")


def older_agent(**changes: Any) -> dict[str, Any]:
    """The single-agent layout of letta 0.6 agent files."""
    def message(role: str, text: str, **extra: Any) -> dict[str, Any]:
        return {"role": role, "content": [{"type": "text", "text": text}], "tool_call_id": None, "tool_calls": [],
                "name": None, **extra}
    agent = {"agent_type": "memgpt_agent", "name": "sam", "version": "0.6.47", "system": "You are Letta.",
             "core_memory": [{"label": "persona", "value": "I am Sam.", "limit": 5000},
                             {"label": "human", "value": "Name: Chad.", "limit": 5000}],
             "in_context_message_indices": [0, 2, 3],
             "messages": [message("system", OLDER_SYSTEM), message("user", "scrolled out"),
                          message("user", "Who am I?"), message("assistant", "You are Chad.")],
             "tools": [{"name": "send_message", "json_schema": {"name": "send_message", "description": "Send.",
                                                                "parameters": {"type": "object"}, "type": None}}]}
    agent.update(changes)
    return agent


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def test_each_core_memory_block_is_a_system_memory_rendered_exactly_as_the_model_saw_it() -> None:
    conversation = load(AGENT_FILE).conversations[0].conversation
    original = json.loads(AGENT_FILE.read_text())["agents"][0]["messages"][0]["content"][0]["text"]
    assert [memory.key for memory in conversation.system_memories] == ["human", "persona"]
    assert conversation.system_message() == original
    assert conversation.system_memories[0].content.startswith("<human>\n<description>")
    assert conversation.system_memories[0].content.endswith("</human>\n\n")


def test_removing_a_block_removes_its_element_and_the_line_breaks_after_it() -> None:
    conversation = load(AGENT_FILE).conversations[0].conversation
    without_persona = conversation.system_message(without=[1])
    assert "<persona>" not in without_persona and "</human>\n\n</memory_blocks>" in without_persona


def test_only_in_context_messages_become_entries_and_reasoning_parts_become_reasoning() -> None:
    loaded = load(AGENT_FILE, memory_tools=("conversation_search",))
    conversation = loaded.conversations[0].conversation
    assert [entry.role for entry in conversation.entries] == ["user", "assistant", "user", "assistant", "tool",
                                                             "assistant"]
    assert all(entry.content != "An old message that scrolled out of context." for entry in conversation.entries)
    assert conversation.entries[3].reasoning == "I should search my history."
    assert conversation.entries[3].content is None
    assert [(m.key, m.entry) for m in conversation.memories][2:] == [("conversation_search:call_9", 4)]


def test_the_agent_is_named_after_the_file_and_its_id_and_its_tools_are_openai_tools() -> None:
    item = load(AGENT_FILE).conversations[0]
    assert item.conversation.id == "letta-agent:agent-0"
    assert item.line == 3
    query = {"type": "string", "description": "What to search for."}
    assert item.conversation.tools == [{"type": "function", "function": {
        "name": "conversation_search", "description": "Search prior conversation history.",
        "parameters": {"type": "object", "properties": {"query": query}, "required": ["query"]}}}]


def test_the_older_single_agent_layout_reads_by_position(tmp_path: Path) -> None:
    conversation = load(write(tmp_path / "sam.af", older_agent())).conversations[0].conversation
    assert conversation.id == "sam:agent-0"
    assert [(e.role, e.content) for e in conversation.entries] == [("user", "Who am I?"),
                                                                   ("assistant", "You are Chad.")]
    assert [(m.key, m.content) for m in conversation.system_memories] == [
        ("persona", '<persona characters="9/5000">\nI am Sam.\n</persona>\n'),
        ("human", '<human characters="11/5000">\nName: Chad.\n</human>')]
    assert conversation.system_message() == OLDER_SYSTEM
    assert conversation.tools == [{"type": "function", "function": {
        "name": "send_message", "description": "Send.", "parameters": {"type": "object"}}}]


def test_a_block_missing_from_the_system_message_is_listed_in_meta_not_scored(tmp_path: Path) -> None:
    agent = older_agent(core_memory=[*older_agent()["core_memory"], {"label": "todo", "value": "x"}])
    conversation = load(write(tmp_path / "a.af", agent)).conversations[0].conversation
    assert [m.key for m in conversation.system_memories] == ["persona", "human"]
    assert conversation.meta["letta"]["blocks_not_in_system_message"] == ["todo"]


def test_without_a_compiled_system_message_the_blocks_follow_the_agents_system(tmp_path: Path) -> None:
    agent = older_agent(in_context_message_indices=[2, 3])
    conversation = load(write(tmp_path / "a.af", agent)).conversations[0].conversation
    assert conversation.system_message() == (
        "You are Letta.\n\n<persona>\nI am Sam.\n</persona>\n\n<human>\nName: Chad.\n</human>")


def test_a_broken_agent_is_one_error_naming_the_line_of_its_field_and_the_others_load(tmp_path: Path) -> None:
    data = json.loads(AGENT_FILE.read_text())
    broken = json.loads(json.dumps(data["agents"][0]))
    broken["id"], broken["in_context_message_ids"] = "agent-1", ["message-0", "message-99"]
    data["agents"].append(broken)
    path = write(tmp_path / "two.af", data)
    loaded = load(path)
    assert [item.conversation.id for item in loaded.conversations] == ["two:agent-0"]
    [error] = loaded.errors
    assert (error.conversation_id, error.field) == ("two:agent-1", "agents[1].in_context_message_ids[1]")
    assert error.message == "in-context message 'message-99' is not among the agent's messages"
    assert path.read_text().splitlines()[error.line - 1].strip() == '"message-99"'


def test_a_message_part_that_cannot_be_scored_is_named_by_its_path(tmp_path: Path) -> None:
    agent = older_agent()
    agent["messages"][2]["content"] = [{"type": "image", "source": {}}]
    [error] = load(write(tmp_path / "a.af", agent)).errors
    assert (error.field, error.message) == ("messages[2].content[0].type",
                                            "only text and reasoning parts can be scored, not 'image'")


def test_a_validation_error_names_the_letta_field_it_came_from(tmp_path: Path) -> None:
    agent = older_agent()
    agent["messages"][3]["tool_calls"] = [{"id": "c", "function": {"name": "f", "arguments": "oops"}}]
    [error] = load(write(tmp_path / "a.af", agent)).errors
    assert error.field == "messages[3].tool_calls[0].function.arguments"
    assert "arguments must be JSON text of an object" in error.message
