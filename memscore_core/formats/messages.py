"""OpenAI-shaped message fields, shared by the OpenAI and Letta readers: content parts and tool calls."""

from __future__ import annotations

import json
from typing import Any

from memscore_core.errors import InputError
from memscore_core.formats.source import FieldPath, RecordSource

ROLES = ("system", "user", "assistant", "tool")


def check_role(value: Any, source: RecordSource, path: FieldPath) -> str:
    if value not in ROLES:
        raise InputError(f"unsupported role {value!r} (expected system, user, assistant or tool)",
                         **source.at(path))
    return str(value)


def part_texts(parts: list[Any], source: RecordSource, path: FieldPath, *,
               kinds: dict[str, str | None]) -> dict[str, list[str]]:
    """The texts of a list of content parts, grouped by what they become: ``kinds`` maps a part type to the
    key of the text field it carries (``None``: the part is dropped); any other part type is an error."""
    texts: dict[str, list[str]] = {kind: [] for kind in kinds}
    for number, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in kinds:
            raise InputError(f"only {' and '.join(k for k, v in kinds.items() if v)} parts can be scored, "
                             f"not {kind!r}", **source.at(path + (number, "type")))
        key = kinds[kind]
        if key is None:
            continue
        if not isinstance(part.get(key), str):
            raise InputError(f"a {kind} part needs its {key} as text", **source.at(path + (number, key)))
        texts[kind].append(part[key])
    return texts


def text_content(value: Any, source: RecordSource, path: FieldPath) -> str | None:
    """Message content as one string: text as is, null as None, text parts joined by newlines (as vLLM)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(part_texts(value, source, path, kinds={"text": "text"})["text"])
    raise InputError("content must be text, null or a list of text parts", **source.at(path))


def tool_calls(value: Any, source: RecordSource, path: FieldPath) -> list[Any] | None:
    """Tool calls in OpenAI's shape; arguments given as an object become JSON text, other keys are dropped."""
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise InputError("expected a list of tool calls", **source.at(path))
    calls = []
    for number, call in enumerate(value):
        if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
            raise InputError("expected a tool call object with a function", **source.at(path + (number,)))
        function = {key: call["function"][key] for key in ("name", "arguments") if key in call["function"]}
        if isinstance(function.get("arguments"), dict):
            function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
        calls.append({"id": call.get("id"), "type": call.get("type", "function"), "function": function})
    return calls
