"""OpenAI chat records read into conversations: what is kept, how memories are marked, how errors are named."""

from __future__ import annotations

import json
from pathlib import Path

from memscore_core.formats.loading import load_conversations
from tests.formats.conftest import EXAMPLES, load, write_jsonl

CALL = {"id": "c1", "type": "function", "function": {"name": "recall", "arguments": '{"key": "home/city"}'}}


def record(*messages: dict, **extra: object) -> dict:
    return {"messages": list(messages), **extra}


def test_a_leading_system_message_is_the_system_prompt_and_the_rest_are_entries(tmp_path: Path) -> None:
    loaded = load(write_jsonl(tmp_path / "a.jsonl", record(
        {"role": "system", "content": "S"}, {"role": "user", "content": "hi"}, {"role": "system", "content": "T"},
        {"role": "assistant", "content": "yo"}, id="x")))
    conversation = loaded.conversations[0].conversation
    assert conversation.system_prompt == "S"
    assert [(e.role, e.content) for e in conversation.entries] == [("user", "hi"), ("system", "T"), ("assistant", "yo")]


def test_text_parts_are_joined_by_newlines_as_vllm_joins_them(tmp_path: Path) -> None:
    loaded = load(write_jsonl(tmp_path / "a.jsonl", record(
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "c"})))
    assert loaded.conversations[0].conversation.entries[0].content == "a\nb"


def test_tool_calls_with_null_content_tool_results_and_names_are_kept(tmp_path: Path) -> None:
    loaded = load(write_jsonl(tmp_path / "a.jsonl", record(
        {"role": "user", "content": "where?", "name": "ann"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "name": "recall", "content": "Oslo"},
        {"role": "assistant", "content": "Oslo."})))
    entries = loaded.conversations[0].conversation.entries
    assert entries[0].name == "ann" and entries[1].content is None
    assert entries[1].tool_calls is not None and entries[1].tool_calls[0].function.arguments == '{"key": "home/city"}'
    assert (entries[2].tool_call_id, entries[2].name, entries[2].memory_key) == ("c1", "recall", None)


def test_arguments_given_as_an_object_become_json_text(tmp_path: Path) -> None:
    call = {"id": "c1", "function": {"name": "recall", "arguments": {"key": "k"}}}
    loaded = load(write_jsonl(tmp_path / "a.jsonl", record({"role": "assistant", "content": None,
                                                            "tool_calls": [call]})))
    calls = loaded.conversations[0].conversation.entries[0].tool_calls or []
    assert json.loads(calls[0].function.arguments) == {"key": "k"} and calls[0].type == "function"


def test_results_of_a_memory_tool_are_memories_keyed_by_the_key_argument(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", record(
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "Oslo"}, {"role": "assistant", "content": "Oslo."}))
    assert load(path).conversations[0].conversation.memories == []
    marked = load(path, memory_tools=("recall",)).conversations[0].conversation
    assert [(m.key, m.entry) for m in marked.memories] == [("home/city", 1)]


def test_without_the_key_argument_a_memory_is_keyed_by_tool_and_call_id(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", record(
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "Oslo"}, {"role": "assistant", "content": "Oslo."}))
    marked = load(path, memory_tools=("recall",), memory_key_arg="topic").conversations[0].conversation
    assert [m.key for m in marked.memories] == ["recall:c1"]


def test_memory_key_on_a_message_marks_it_whatever_the_rules(tmp_path: Path) -> None:
    loaded = load(write_jsonl(tmp_path / "a.jsonl", record(
        {"role": "user", "content": "note: Oslo", "memory_key": "home"}, {"role": "assistant", "content": "ok"})))
    assert [m.key for m in loaded.conversations[0].conversation.memories] == ["home"]


def test_a_record_without_an_id_is_named_after_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl"
    path.write_text("\n" + json.dumps(record({"role": "user", "content": "hi"})) + "\n")
    assert load(path).conversations[0].conversation.id == "chats:2"


def test_other_fields_are_kept_in_meta_and_not_scored(tmp_path: Path) -> None:
    loaded = load(write_jsonl(tmp_path / "a.jsonl", record(
        {"role": "user", "content": "hi", "weight": 0}, parallel_tool_calls=False, meta={"source": "log"})))
    conversation = loaded.conversations[0].conversation
    assert conversation.meta == {"source": "log", "parallel_tool_calls": False}
    assert conversation.entries[0].meta == {"weight": 0}


def test_a_malformed_message_names_file_line_conversation_and_the_field_as_written(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl",
                       record({"role": "user", "content": "fine"}, id="good"),
                       record({"role": "user", "content": "x"}, {"role": "robot", "content": "y"}, id="bad"),
                       record({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}, id="img"),
                       record({"role": "tool", "content": None}, id="null"))
    loaded = load(path)
    assert [item.conversation.id for item in loaded.conversations] == ["good"]
    assert [str(error) for error in loaded.errors] == [
        f"{path}:2: conversation 'bad': field 'messages[1].role': unsupported role 'robot' "
        "(expected system, user, assistant or tool)",
        f"{path}:3: conversation 'img': field 'messages[0].content[0].type': only text parts can be scored, "
        "not 'image_url'",
        f"{path}:4: conversation 'null': field 'messages[0]': Value error, content may be null only on an "
        "assistant entry with tool_calls"]


def test_an_error_in_a_json_file_names_the_line_of_the_field(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(record({"role": "user", "content": "hi"}, {"role": "assistant", "content": None,
                                                                          "tool_calls": [{"id": "c", "function": {
                                                                              "name": "f", "arguments": "[1]"}}]}),
                               indent=2))
    error = load(path).errors[0]
    assert error.field == "messages[1].tool_calls[0].function.arguments"
    assert path.read_text().splitlines()[error.line - 1].strip().startswith('"arguments"')


def test_the_worked_example_loads_with_the_recall_tool() -> None:
    loaded = load_conversations([EXAMPLES / "openai-chat.jsonl"])
    assert not loaded.errors and len(loaded.conversations) == 2
