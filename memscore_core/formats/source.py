"""Where a record came from, and how a field of it is named and found again in its file for error messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

FieldPath = tuple[str | int, ...]


def field_name(path: FieldPath) -> str:
    """``("messages", 3, "content")`` → ``messages[3].content``."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


@dataclass(frozen=True)
class RecordSource:
    """A record's file and line; with ``text`` (the file's JSON text) and ``offset`` (where the record starts in
    it), an error names the line of the very field it is about."""

    file: str
    line: int
    text: str | None = None
    offset: int = 0
    conversation_id: str | None = None

    @property
    def stem(self) -> str:
        return Path(self.file).stem

    def named(self, conversation_id: str) -> RecordSource:
        return replace(self, conversation_id=conversation_id)

    def line_of(self, path: FieldPath) -> int:
        """The line where the value at ``path`` (or the deepest part of it that exists) starts."""
        if self.text is None:
            return self.line
        return self.text.count("\n", 0, value_offset(self.text, self.offset, path)) + 1

    def at(self, path: FieldPath) -> dict[str, Any]:
        """The keyword arguments of an ``InputError`` about the field at ``path``."""
        return {"file": self.file, "line": self.line_of(path), "conversation_id": self.conversation_id,
                "field": field_name(path) or None}


_DECODER = json.JSONDecoder()


def value_offset(text: str, start: int, path: FieldPath) -> int:
    """Offset in ``text`` of the value at ``path`` inside the JSON value starting at ``start`` (the deepest
    step found, if the path leaves the document). Only errors call it, so siblings are simply decoded past."""
    position = _skip_space(text, start)
    try:
        for step in path:
            found = _child(text, position, step)
            if found is None:
                return position
            position = found
    except ValueError:
        return position
    return position


def _child(text: str, position: int, step: str | int) -> int | None:
    opener = text[position] if position < len(text) else ""
    if opener == "{" and isinstance(step, str):
        position = _skip_space(text, position + 1)
        while position < len(text) and text[position] == '"':
            key, position = _DECODER.raw_decode(text, position)
            position = _skip_space(text, _skip_space(text, position) + 1)
            if key == step:
                return position
            position = _next(text, position)
        return None
    if opener == "[" and isinstance(step, int):
        position = _skip_space(text, position + 1)
        for _ in range(step):
            if position >= len(text) or text[position] == "]":
                return None
            position = _next(text, position)
        return position if position < len(text) and text[position] != "]" else None
    return None


def _next(text: str, position: int) -> int:
    """Past the value at ``position`` and its following comma, at the next value or key."""
    _, position = _DECODER.raw_decode(text, position)
    position = _skip_space(text, position)
    if position < len(text) and text[position] == ",":
        position = _skip_space(text, position + 1)
    return position


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
