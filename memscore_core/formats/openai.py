"""OpenAI chat format: ``{"id"?, "messages": [...], "tools"?}``, as chat fine-tuning sets and agent logs keep it.

A leading system message becomes the system prompt; every other message is an entry in order. Content may be
text, null or a list of text parts (joined by newlines, as vLLM joins them). Tool calls, ``tool_call_id``,
``name``, ``memory_key`` and ``reasoning_content`` (or ``reasoning``) are kept; any other message field goes
to the entry's ``meta``, any other top-level field to the conversation's ``meta`` (neither is scored).
Memories: ``memory_key`` on a message, or the ``--memory-tool`` rules. Without an ``id`` the conversation is
named ``<file stem>:<line>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from memscore_core.errors import InputError
from memscore_core.formats.memory_rules import mark_tool_memories
from memscore_core.formats.messages import check_role, text_content, tool_calls
from memscore_core.formats.options import InputOptions
from memscore_core.formats.record import Converted
from memscore_core.formats.source import FieldPath, RecordSource

_MESSAGE_FIELDS = {"role", "content", "tool_calls", "tool_call_id", "name", "memory_key", "reasoning_content",
                   "reasoning", "meta"}
_RECORD_FIELDS = {"id", "messages", "tools", "meta"}


def conversation_id(raw: dict[str, Any], source: RecordSource) -> str:
    """The record's ``id`` (a number is written as text), else ``<file stem>:<line>``."""
    value = raw.get("id")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return str(value)
    if value is not None:
        raise InputError("id must be text", **source.at(("id",)))
    return f"{source.stem}:{source.line}"


def convert_openai(raw: dict[str, Any], source: RecordSource, options: InputOptions) -> Iterator[Converted]:
    """The one conversation of an OpenAI chat record."""
    source = source.named(conversation_id(raw, source))
    messages = raw.get("messages")
    if not isinstance(messages, list):
        raise InputError("expected a list of messages", **source.at(("messages",)))
    record: dict[str, Any] = {"id": source.conversation_id}
    origins: dict[FieldPath, FieldPath] = {}
    start = 0
    if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
        record["system_prompt"] = text_content(messages[0].get("content"), source, ("messages", 0, "content")) or ""
        origins[("system_prompt",)] = ("messages", 0, "content")
        start = 1
    entries: list[dict[str, Any]] = []
    for position in range(start, len(messages)):
        origins[("entries", len(entries))] = ("messages", position)
        entries.append(_entry(messages[position], source, ("messages", position)))
    mark_tool_memories(entries, options)
    record["entries"] = entries
    if raw.get("tools") is not None:
        record["tools"] = raw["tools"]
    meta = dict(raw["meta"]) if isinstance(raw.get("meta"), dict) else {}
    meta.update({key: value for key, value in raw.items() if key not in _RECORD_FIELDS})
    if meta:
        record["meta"] = meta
    yield Converted(record, source, origins)


def _entry(message: Any, source: RecordSource, path: FieldPath) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise InputError("expected a message object", **source.at(path))
    entry: dict[str, Any] = {"role": check_role(message.get("role"), source, path + ("role",)),
                             "content": text_content(message.get("content"), source, path + ("content",))}
    calls = tool_calls(message.get("tool_calls"), source, path + ("tool_calls",))
    if calls is not None:
        entry["tool_calls"] = calls
    for key in ("tool_call_id", "name", "memory_key"):
        if message.get(key) is not None:
            entry[key] = message[key]
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning:
        entry["reasoning"] = reasoning
    meta = dict(message["meta"]) if isinstance(message.get("meta"), dict) else {}
    meta.update({key: value for key, value in message.items() if key not in _MESSAGE_FIELDS})
    if meta:
        entry["meta"] = meta
    return entry
