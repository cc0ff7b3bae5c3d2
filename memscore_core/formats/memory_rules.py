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
    calls: dict[str, dict[str, Any]] = {}
    for position, entry in enumerate(entries):
        for made in entry.get("tool_calls") or ():
            if isinstance(made, dict) and isinstance(made.get("id"), str) and isinstance(made.get("function"), dict):
                calls[made["id"]] = made
        if entry.get("role") != "tool" or entry.get("memory_key") is not None:
            continue
        call = calls.get(entry["tool_call_id"]) if isinstance(entry.get("tool_call_id"), str) else None
        tool = call["function"].get("name") if call is not None else entry.get("name")
        if tool not in options.memory_tools:
            continue
        argument = _argument(call, options.memory_key_arg) if call is not None else None
        call_id = entry.get("tool_call_id")
        entry["memory_key"] = argument or (f"{tool}:{call_id}" if call_id else f"{tool}:#{position}")


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
