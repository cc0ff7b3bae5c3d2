"""Read only what is new in the sources: new files, and the appended tail of JSONL files.

Given what an earlier run consumed of each file (its :class:`SourceMark`), a file whose size and
modification time are unchanged is not opened again; a JSONL file that grew is read from the consumed
offset, after checking that the first and last 4 KiB of the consumed bytes are unchanged (a file that
shrank or whose prefix changed was rewritten, and is read again whole); any other changed file (``.json``,
``.af``) is read whole, and not parsed when its bytes are the same. The consumed part of a JSONL file
ends at its last newline: an unterminated last line is read every time but never consumed, so a line
being written is read again once it is complete. Files the sources cover that no longer exist are
reported as vanished. A rewrite that keeps the size and both windows is not noticed: ``--full-scan``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Literal

from memscore_core.errors import InputError
from memscore_core.formats import InputOptions
from memscore_core.formats.loading import (
    SUFFIXES,
    LoadedConversation,
    LoadResult,
    collect_conversations,
    expand_paths,
    iter_conversations,
    iter_records,
)
from memscore_core.model.source_mark import SourceMark

WINDOW = 4096
"""Bytes at each end of a consumed prefix whose hashes must match before an appended tail is read."""

ReadKind = Literal["new", "rewritten", "changed", "appended", "touched", "unchanged"]


@dataclass(frozen=True)
class FileRead:
    """How this run read one file: ``new``, ``rewritten`` or ``changed`` (read whole), ``appended`` (the tail
    after the consumed bytes), ``touched`` (read, same bytes, not parsed) or ``unchanged`` (not opened).

    ``mark`` is what to record once the results of its consumed bytes are stored; its ``conversations``
    counts those the earlier runs consumed and this run did not read again (``kept``), to which the caller
    adds this run's conversations that :meth:`consumes`.
    """

    name: str
    kind: ReadKind
    bytes_read: int
    mark: SourceMark
    kept: int
    previous: SourceMark | None

    def consumes(self, line: int) -> bool:
        """Whether the record at ``line`` is in the consumed bytes (not an unterminated last JSONL line)."""
        return not self.name.endswith(".jsonl") or line <= self.mark.lines

    @property
    def to_record(self) -> bool:
        """Whether the manifest row changes: anything but an unchanged file that was not marked vanished."""
        return self.kind != "unchanged" or (self.previous is not None and self.previous.vanished_at is not None)


@dataclass(frozen=True)
class IncrementalLoad:
    """What one run read: the conversations (``loaded.unread`` those not read again), each file's read, the
    known files under the sources that vanished, and the bytes read."""

    loaded: LoadResult
    reads: list[FileRead]
    vanished: list[str]
    files: int

    @property
    def bytes_read(self) -> int:
        return sum(read.bytes_read for read in self.reads)

    @property
    def found_nothing(self) -> bool:
        """No file, or only files read for the first time that hold nothing at all."""
        loaded = self.loaded
        return not (loaded.conversations or loaded.errors or any(read.previous for read in self.reads))


def source_key(path: str | Path) -> str:
    """A file's key in the manifest: its absolute path."""
    return os.path.abspath(path)


def read_sources(paths: Iterable[str | Path], options: InputOptions, marks: Mapping[str, SourceMark], *,
                 full_scan: bool = False) -> IncrementalLoad:
    """Read what is new in the files of ``paths`` since ``marks`` (by :func:`source_key`); ``full_scan`` reads
    every file whole (and still reports the vanished)."""
    patterns = list(paths)
    files = expand_paths(patterns)
    items: list[LoadedConversation | InputError] = []
    reads: list[FileRead] = []
    for path in files:
        read = None if path.suffix not in SUFFIXES else _read(path, options, None if full_scan
                                                               else marks.get(source_key(path)), items)
        if read is None:
            items.extend(iter_conversations([path], options))  # the error a full read reports
        else:
            reads.append(read)
    vanished = [key for key, mark in marks.items()
                if mark.vanished_at is None and _covered(key, patterns) and not os.path.exists(key)]
    return IncrementalLoad(collect_conversations(items, sum(read.kept for read in reads)), reads, vanished, len(files))


def _read(path: Path, options: InputOptions, mark: SourceMark | None,
          items: list[LoadedConversation | InputError]) -> FileRead | None:
    """Append what is new in ``path`` to ``items``; None when it cannot be opened."""
    name = str(path)
    try:
        stat = path.stat()
        if mark is not None and (mark.size, mark.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            return FileRead(name, "unchanged", 0, replace(mark, vanished_at=None), mark.conversations, mark)
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            checked = 0
            if mark is not None and path.suffix == ".jsonl" and stat.st_size >= mark.consumed:
                head, tail = _windows(handle, mark)
                if (_digest(head), _digest(tail)) == (mark.head_hash, mark.tail_hash):
                    return _tail(handle, name, options, mark, stat.st_mtime_ns, (head, tail), items)
                checked = len(head) + len(tail)
                handle.seek(0)
            data = handle.read()
    except OSError:
        return None
    kind: ReadKind = "new" if mark is None else "changed" if path.suffix != ".jsonl" else "rewritten"
    whole = _whole_mark(path, data, stat.st_mtime_ns)
    if mark is not None and path.suffix != ".jsonl" and whole.content_hash == mark.content_hash:
        return FileRead(name, "touched", len(data), replace(whole, conversations=mark.conversations),
                        mark.conversations, mark)
    items.extend(iter_records(name, path.suffix, data, options))
    return FileRead(name, kind, checked + len(data), whole, 0, mark)


def _windows(handle: BinaryIO, mark: SourceMark) -> tuple[bytes, bytes]:
    """The first and the last window of the bytes ``mark`` says were consumed, as the file holds them now."""
    head = handle.read(min(WINDOW, mark.consumed))
    start = max(0, mark.consumed - WINDOW)
    handle.seek(start)
    return head, handle.read(mark.consumed - start)


def _tail(handle: BinaryIO, name: str, options: InputOptions, mark: SourceMark, mtime_ns: int,
          windows: tuple[bytes, bytes], items: list[LoadedConversation | InputError]) -> FileRead:
    """Read the bytes after ``mark.consumed`` as JSONL lines numbered on from the consumed ones."""
    handle.seek(mark.consumed)
    data = handle.read()
    items.extend(iter_records(name, ".jsonl", data, options, first_line=mark.lines + 1))
    cut = data.rfind(b"\n") + 1
    head, tail = windows
    new = replace(mark, size=mark.consumed + len(data), mtime_ns=mtime_ns, consumed=mark.consumed + cut,
                  lines=mark.lines + data.count(b"\n", 0, cut), head_hash=_digest((head + data[:cut])[:WINDOW]),
                  tail_hash=_digest((tail + data[:cut])[-WINDOW:]), content_hash=_digest(data[:cut]),
                  vanished_at=None)
    return FileRead(name, "appended", len(head) + len(tail) + len(data), new, mark.conversations, mark)


def _whole_mark(path: Path, data: bytes, mtime_ns: int) -> SourceMark:
    """The mark of a file read whole: a JSONL file is consumed to its last newline, any other file entirely."""
    cut = data.rfind(b"\n") + 1 if path.suffix == ".jsonl" else len(data)
    consumed = data[:cut]
    return SourceMark(path=source_key(path), size=len(data), mtime_ns=mtime_ns, consumed=cut,
                      lines=consumed.count(b"\n"), conversations=0, head_hash=_digest(consumed[:WINDOW]),
                      tail_hash=_digest(consumed[-WINDOW:] if cut else b""), content_hash=_digest(consumed))


def _covered(key: str, patterns: list[str | Path]) -> bool:
    """Whether the sources ``patterns`` name the file ``key``: it, its directory, or a glob matching it."""
    for pattern in patterns:
        text = str(pattern)
        if os.path.isdir(text):
            if os.path.dirname(key) == os.path.abspath(text) and Path(key).suffix in SUFFIXES:
                return True
        elif any(char in text for char in "*?["):
            if fnmatch.fnmatchcase(key, os.path.abspath(text)):
                return True
        elif source_key(text) == key:
            return True
    return False


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
