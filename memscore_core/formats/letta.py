"""Letta agent files (``.af``): each agent's in-context messages, with its core-memory blocks as system memories.

Two layouts are read. The current one (``{"agents": [...], "blocks": [...], "tools": [...]}``) lists each
agent's context as ``in_context_message_ids`` and its blocks and tools by id; the older single-agent one
(``{"core_memory": [...], "messages": [...], "in_context_message_indices": [...], "tools": [...]}``) by
position. Without such a list every message is in context.

The first in-context message, when it is a system message, is the system prompt as the model saw it; each
block found in it (:mod:`memscore_core.formats.letta_blocks`) becomes a system memory keyed by its label,
rendered exactly as it was. Blocks not in that message were not seen by the model and are listed in
``meta.letta.blocks_not_in_system_message``. Without a compiled system message the agent's ``system`` is the
prompt and every block follows it as ``<LABEL>\\nVALUE\\n</LABEL>``. Text parts are content, reasoning parts
the entry's reasoning; omitted or redacted reasoning is dropped. Archival memory (passages), files, sources,
groups and tool rules are ignored. Conversations are named ``<file stem>:<agent id>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from memscore_core.errors import InputError
from memscore_core.formats.letta_blocks import cut_blocks
from memscore_core.formats.memory_rules import mark_tool_memories
from memscore_core.formats.messages import check_role, part_texts, tool_calls
from memscore_core.formats.options import InputOptions
from memscore_core.formats.record import Converted
from memscore_core.formats.source import FieldPath, RecordSource

_PARTS = {"text": "text", "reasoning": "reasoning", "omitted_reasoning": None, "redacted_reasoning": None}


def is_letta(raw: dict[str, Any]) -> bool:
    """Whether a record looks like an agent file of either layout."""
    return isinstance(raw.get("agents"), list) or "core_memory" in raw or "in_context_message_indices" in raw


def convert_letta(raw: dict[str, Any], source: RecordSource, options: InputOptions) -> Iterator[Converted | InputError]:
    """One conversation per agent; an agent that cannot be read is one error, and the others still load."""
    if "agents" not in raw:
        try:
            yield _agent(raw, (), source, options, _Library.older(raw, source))
        except InputError as error:
            yield error
        return
    agents = raw["agents"]
    if not isinstance(agents, list):
        yield InputError("expected a list of agents", **source.at(("agents",)))
        return
    library = _Library.current(raw)
    for number, agent in enumerate(agents):
        try:
            yield _agent(agent, ("agents", number), source, options, library)
        except InputError as error:
            yield error


class _Library:
    """The blocks and tools an agent refers to: by id (current layout) or its own lists (older layout)."""

    def __init__(self, blocks: dict[str, tuple[FieldPath, Any]], tools: dict[str, tuple[FieldPath, Any]],
                 by_id: bool) -> None:
        self.blocks, self.tools, self.by_id = blocks, tools, by_id

    @classmethod
    def current(cls, raw: dict[str, Any]) -> _Library:
        return cls(_by_id(raw.get("blocks"), "blocks"), _by_id(raw.get("tools"), "tools"), by_id=True)

    @classmethod
    def older(cls, raw: dict[str, Any], source: RecordSource) -> _Library:
        blocks = raw.get("core_memory") or []
        tools = raw.get("tools") or []
        for name, value in (("core_memory", blocks), ("tools", tools)):
            if not isinstance(value, list):
                raise InputError(f"expected a list of {name.replace('_', ' ')}", **source.at((name,)))
        return cls({str(i): (("core_memory", i), block) for i, block in enumerate(blocks)},
                   {str(i): (("tools", i), tool) for i, tool in enumerate(tools)}, by_id=False)

    def pick(self, agent: dict[str, Any], kind: str, base: FieldPath,
             source: RecordSource) -> list[tuple[FieldPath, Any]]:
        table = self.blocks if kind == "block" else self.tools
        if not self.by_id:
            return list(table.values())
        ids = agent.get(f"{kind}_ids") or []
        picked = []
        for number, key in enumerate(ids):
            if key not in table:
                raise InputError(f"{kind} {key!r} is not among the file's {kind}s",
                                 **source.at(base + (f"{kind}_ids", number)))
            picked.append(table[key])
        return picked


def _by_id(items: Any, name: str) -> dict[str, tuple[FieldPath, Any]]:
    return {item["id"]: ((name, i), item) for i, item in enumerate(items or [])
            if isinstance(item, dict) and isinstance(item.get("id"), str)}


def _agent(agent: Any, base: FieldPath, source: RecordSource, options: InputOptions,
           library: _Library) -> Converted:
    if not isinstance(agent, dict):
        raise InputError("expected an agent object", **source.at(base))
    number = base[-1] if base else 0
    source = source.named(f"{source.stem}:{agent.get('id') or f'agent-{number}'}")
    context = _in_context(agent, base, source)
    record: dict[str, Any] = {"id": source.conversation_id}
    origins: dict[FieldPath, FieldPath] = {}
    blocks = library.pick(agent, "block", base, source)
    first = context[0][1] if context else None
    if isinstance(first, dict) and first.get("role") == "system":
        path = context[0][0] + ("content",)
        system = _text(first, source, path)[0] or ""
        prompt, found, missing = cut_blocks(system, [_label(block, where, source) for where, block in blocks])
        origins[("system_prompt",)] = path
        context = context[1:]
    else:
        prompt = str(agent.get("system") or "")
        labels = [_label(block, where, source) for where, block in blocks]
        found = [(label, f"<{label}>\n{block.get('value') or ''}\n</{label}>")
                 for label, (_, block) in zip(labels, blocks, strict=True)]
        missing = []
        origins[("system_prompt",)] = base + ("system",)
    where_block = {_label(block, where, source): where for where, block in blocks}
    record["system_prompt"] = prompt
    record["system_memories"] = [{"key": label, "content": text} for label, text in found]
    for row, (label, _) in enumerate(found):
        origins[("system_memories", row)] = where_block[label]
    entries: list[dict[str, Any]] = []
    for path, message in context:
        origins[("entries", len(entries))] = path
        entries.append(_entry(message, source, path))
    mark_tool_memories(entries, options)
    record["entries"] = entries
    tools = [_tool(tool, where, source) for where, tool in library.pick(agent, "tool", base, source)]
    if tools:
        record["tools"] = tools
    letta = {"agent_name": agent.get("name"), "agent_type": agent.get("agent_type")}
    if missing:
        letta["blocks_not_in_system_message"] = missing
    record["meta"] = {"letta": letta}
    return Converted(record, source, origins, line=source.line_of(base))


def _in_context(agent: dict[str, Any], base: FieldPath, source: RecordSource) -> list[tuple[FieldPath, Any]]:
    """The agent's in-context messages, in order, with where each is in the file."""
    messages = agent.get("messages") or []
    if not isinstance(messages, list):
        raise InputError("expected a list of messages", **source.at(base + ("messages",)))
    if isinstance(agent.get("in_context_message_ids"), list):
        by_id = {message.get("id"): i for i, message in enumerate(messages) if isinstance(message, dict)}
        positions = []
        for number, key in enumerate(agent["in_context_message_ids"]):
            if key not in by_id:
                raise InputError(f"in-context message {key!r} is not among the agent's messages",
                                 **source.at(base + ("in_context_message_ids", number)))
            positions.append(by_id[key])
    elif isinstance(agent.get("in_context_message_indices"), list):
        positions = agent["in_context_message_indices"]
        for number, position in enumerate(positions):
            if not isinstance(position, int) or not 0 <= position < len(messages):
                raise InputError(f"in-context message index {position!r} is not a message of this agent",
                                 **source.at(base + ("in_context_message_indices", number)))
    else:
        positions = list(range(len(messages)))
    return [(base + ("messages", position), messages[position]) for position in positions]


def _label(block: Any, where: FieldPath, source: RecordSource) -> str:
    if not isinstance(block, dict) or not isinstance(block.get("label"), str) or not block["label"]:
        raise InputError("a memory block needs a label", **source.at(where + ("label",)))
    return str(block["label"])


def _text(message: dict[str, Any], source: RecordSource, path: FieldPath) -> tuple[str | None, str | None]:
    """(content, reasoning) of a Letta message: text parts, and reasoning parts, each joined by newlines."""
    content = message.get("content", message.get("text"))
    if content is None or isinstance(content, str):
        return content, None
    if not isinstance(content, list):
        raise InputError("content must be text, null or a list of parts", **source.at(path))
    texts = part_texts(content, source, path, kinds=_PARTS)
    return "\n".join(texts["text"]), "\n".join(texts["reasoning"]) or None


def _entry(message: Any, source: RecordSource, path: FieldPath) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise InputError("expected a message object", **source.at(path))
    role = check_role(message.get("role"), source, path + ("role",))
    content, reasoning = _text(message, source, path + ("content",))
    entry: dict[str, Any] = {"role": role, "content": content}
    calls = tool_calls(message.get("tool_calls"), source, path + ("tool_calls",))
    if calls is not None:
        entry["tool_calls"] = calls
        if not content:
            entry["content"] = None
    elif content is None:
        entry["content"] = ""
    if reasoning:
        entry["reasoning"] = reasoning
    for key in ("tool_call_id", "name"):
        if isinstance(message.get(key), str):
            entry[key] = message[key]
    if isinstance(message.get("id"), str):
        entry["meta"] = {"letta_message_id": message["id"]}
    return entry


def _tool(tool: Any, where: FieldPath, source: RecordSource) -> dict[str, Any]:
    """A Letta tool as an OpenAI tool: its JSON schema's name, description and parameters."""
    schema = tool.get("json_schema") if isinstance(tool, dict) else None
    if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
        raise InputError("a tool needs a json_schema with a name", **source.at(where + ("json_schema",)))
    function = {key: schema[key] for key in ("name", "description", "parameters") if schema.get(key) is not None}
    return {"type": "function", "function": function}
