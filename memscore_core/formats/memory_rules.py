"""``--memory-tool`` rules: mark the results of calls to memory tools as memories.

Works on entries already in memscore's shape (dicts), so every format shares it. An entry that already has
``memory_key`` keeps it.
"""

from __future__ import annotations

import json
from typing import Any

from memscore_core.formats.options import InputOptions


def mark_tool_memories(entries: list[dict[str, Any]], options: InputOptions) -> None:
    """Give each tool result answering a call to one of ``options.memory_tools`` its memory key, in place.

    The call is found by ``tool_call_id`` in the nearest assistant entry before the result; failing that, a
    tool message ``name``-d after a memory tool counts. The key is the call's argument
    ``options.memory_key_arg`` (text, or its JSON), else ``NAME:<call id>`` (``NAME:#<entry>`` without an id).
    """
    if not options.memory_tools:
        return
    for position, entry in enumerate(entries):
        if entry.get("role") != "tool" or entry.get("memory_key") is not None:
            continue
        call = _call(entries, position, entry.get("tool_call_id"))
        tool = call["function"].get("name") if call is not None else entry.get("name")
        if tool not in options.memory_tools:
            continue
        argument = _argument(call, options.memory_key_arg) if call is not None else None
        call_id = entry.get("tool_call_id")
        entry["memory_key"] = argument or (f"{tool}:{call_id}" if call_id else f"{tool}:#{position}")


def _call(entries: list[dict[str, Any]], position: int, call_id: Any) -> dict[str, Any] | None:
    if not isinstance(call_id, str):
        return None
    for earlier in range(position - 1, -1, -1):
        for call in entries[earlier].get("tool_calls") or ():
            if isinstance(call, dict) and call.get("id") == call_id and isinstance(call.get("function"), dict):
                return call
    return None


def _argument(call: dict[str, Any], name: str) -> str | None:
    """The call's argument ``name`` as a key: its text, or its JSON when not text; None when absent or empty."""
    try:
        arguments = json.loads(call["function"].get("arguments") or "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(arguments, dict) or arguments.get(name) in (None, ""):
        return None
    value = arguments[name]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
