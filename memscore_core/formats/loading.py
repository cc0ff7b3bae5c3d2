"""Read conversation files (``.jsonl``, ``.json``, ``.af``) into validated models, one error per bad record.

Each record is read in its format (memscore's own, OpenAI chat, a Letta agent file: told by content, or
forced by :class:`InputOptions`). Every problem becomes an :class:`InputError` naming the file, the line,
the conversation id when it is known, and the field as the user wrote it; the valid conversations of the
same file still load.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from memscore_core.errors import InputError
from memscore_core.formats import Converted, InputOptions, RecordSource, convert_record, field_name
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import content_hash

SUFFIXES = (".jsonl", ".json", ".af")


@dataclass(frozen=True)
class LoadedConversation:
    """A valid conversation and where it came from."""

    conversation: Conversation
    file: str
    line: int

    @cached_property
    def content_hash(self) -> str:
        """The conversation's content hash, computed once (a run needs it to skip what is scored, and again to read
        skipped results back: 10^4 hashes take ~3 s)."""
        return content_hash(self.conversation)


@dataclass(frozen=True, repr=False)
class LoadResult:
    """Valid conversations and invalid input; ``unread``: conversations of the sources that an earlier run read
    and stored and this one did not read again (incremental reading, :mod:`memscore_core.formats.incremental`)."""

    conversations: list[LoadedConversation]
    errors: list[InputError]
    unread: int = 0

    def __repr__(self) -> str:
        """Counts, not contents: Python 3.11's ``asyncio.run`` formats its main task's result when it returns
        (14 s for 10^4 conversations)."""
        return f"LoadResult({len(self.conversations)} conversations, {len(self.errors)} errors, unread={self.unread})"


def expand_paths(patterns: Iterable[str | Path]) -> list[Path]:
    """Files named by paths, directories (their ``*.jsonl``/``*.json``/``*.af``) and glob patterns, sorted."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file()))
        elif any(char in str(pattern) for char in "*?["):
            found.extend(sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file()))
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def load_conversations(paths: Iterable[str | Path], options: InputOptions | None = None) -> LoadResult:
    """Load every conversation of ``paths``; duplicate ids within the batch are errors."""
    return collect_conversations(iter_conversations(paths, options))


def collect_conversations(items: Iterable[LoadedConversation | InputError], unread: int = 0) -> LoadResult:
    """``items`` as a :class:`LoadResult`; a conversation id met again is an error."""
    conversations: list[LoadedConversation] = []
    errors: list[InputError] = []
    seen: dict[str, tuple[str, int]] = {}
    for item in items:
        if isinstance(item, InputError):
            errors.append(item)
            continue
        conversation_id = item.conversation.id
        if conversation_id in seen:
            first_file, first_line = seen[conversation_id]
            errors.append(InputError(f"duplicate conversation id (first seen at {first_file}:{first_line})",
                                     file=item.file, line=item.line, conversation_id=conversation_id, field="id"))
            continue
        seen[conversation_id] = (item.file, item.line)
        conversations.append(item)
    return LoadResult(conversations, errors, unread)


def iter_conversations(paths: Iterable[str | Path],
                       options: InputOptions | None = None) -> Iterator[LoadedConversation | InputError]:
    """Yield each conversation, or the error that stopped it, file by file."""
    for path in expand_paths(paths):
        yield from _iter_file(path, options or InputOptions())


def _iter_file(path: Path, options: InputOptions) -> Iterator[LoadedConversation | InputError]:
    name = str(path)
    if path.suffix not in SUFFIXES:
        yield InputError(f"unsupported file type {path.suffix!r} (expected .jsonl, .json or .af)", file=name)
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield InputError(f"cannot read file: {exc.strerror or exc}", file=name)
        return
    yield from iter_records(name, path.suffix, data, options)


def iter_records(name: str, suffix: str, data: bytes, options: InputOptions,
                 first_line: int = 1) -> Iterator[LoadedConversation | InputError]:
    """Each conversation (or error) in ``data``, the bytes of file ``name`` from line ``first_line`` on (a JSONL
    file's appended tail; any other file is read whole)."""
    if first_line == 1:
        data = data.removeprefix(b"\xef\xbb\xbf")
    if suffix == ".jsonl":
        records, text = _jsonl_records(data, first_line), None
    else:
        text = data.decode("utf-8", errors="surrogateescape")
        records = _json_records(text, data)
    for line, offset, raw in records:
        if isinstance(raw, _Broken):
            yield InputError(raw.message, file=name, line=line)
        elif not isinstance(raw, dict):
            yield InputError(f"expected a JSON object, got {type(raw).__name__}", file=name, line=line)
        else:
            source = RecordSource(name, line, text, offset)
            for converted in convert_record(raw, source, options, suffix):
                yield converted if isinstance(converted, InputError) else _validate(converted)


@dataclass(frozen=True)
class _Broken:
    message: str


def _jsonl_records(data: bytes, first_line: int = 1) -> Iterator[tuple[int, int, Any]]:
    for number, line in enumerate(data.split(b"\n"), start=first_line):
        if not line.strip():
            continue
        yield number, 0, _decode(line)


def _json_records(text: str, data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(line, offset in ``text``, record) of a ``.json`` file: one object, or a list whose broken elements
    fail alone.

    ``text`` is ``data`` decoded with invalid UTF-8 kept as lone surrogates, so that only the element holding
    it fails; after an element that does not decode, reading resumes at that element's balanced end.
    """
    stripped = text.lstrip()
    if not stripped.startswith("["):
        start = len(text) - len(stripped)
        yield text.count("\n", 0, start) + 1, start, _decode(data)
        return
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    position = text.index("[") + 1
    while True:
        position = _skip(text, position, ",")
        if position >= len(text):
            yield text.count("\n") + 1, position, _Broken("invalid JSON: unterminated list")
            return
        if text[position] == "]":
            return
        line = text.count("\n", 0, position) + 1
        try:
            value, end = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, ValueError) as exc:
            skipped_to = _element_end(text, position)
            yield line, position, _Broken(f"invalid JSON: {exc}")
            if skipped_to is None:
                return
            position = skipped_to
            continue
        bad_byte = _first_undecodable(text, position, end)
        yield line, position, value if bad_byte is None else _Broken(f"invalid UTF-8 at byte {bad_byte} of the record")
        position = end


def _element_end(text: str, start: int) -> int | None:
    """Where the list element starting at ``start`` ends, by brackets and strings alone; None if never."""
    depth, position, in_string = 0, start, False
    while position < len(text):
        char = text[position]
        if in_string:
            if char == "\\":
                position += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            if depth == 0:
                return position
            depth -= 1
            if depth == 0:
                return position + 1
        elif char == "," and depth == 0:
            return position
        position += 1
    return None


def _first_undecodable(text: str, start: int, end: int) -> int | None:
    """Byte offset (within the element) of the first byte that was not UTF-8, if any."""
    for offset, char in enumerate(text[start:end]):
        if "\udc80" <= char <= "\udcff":
            return len(text[start:start + offset].encode("utf-8", errors="surrogateescape"))
    return None


def _skip(text: str, position: int, separators: str) -> int:
    while position < len(text) and (text[position].isspace() or text[position] in separators):
        position += 1
    return position


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _decode(raw: bytes) -> Any:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _Broken(f"invalid UTF-8 at byte {exc.start} of the record")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _Broken(f"invalid JSON: {exc}")


def _validate(converted: Converted) -> LoadedConversation | InputError:
    """The converted record as a conversation, or its first problem named as the user wrote the field."""
    source = converted.source
    try:
        conversation = Conversation.model_validate(converted.record)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = converted.source_path(tuple(first["loc"]))
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return InputError(f"{first['msg']}{more}", file=source.file, line=source.line_of(path),
                          conversation_id=source.conversation_id, field=field_name(path) or None)
    return LoadedConversation(conversation, source.file, converted.line or source.line)
