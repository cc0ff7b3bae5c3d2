"""What a run consumed of one source file: the manifest row that lets the next run read only what is new."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SourceMark:
    """Bytes ``[0, consumed)`` of the file at ``path`` (absolute) were read and every result they hold stored.

    ``size`` and ``mtime_ns`` are the file's when it was read: both unchanged means nothing to read.
    ``lines`` counts the newlines in the consumed bytes (a JSONL tail's line numbers continue from it) and
    ``conversations`` the valid conversations in them. ``head_hash`` and ``tail_hash`` are SHA-256 digests of
    the first and the last (up to) 4 KiB of the consumed bytes, checked before an appended tail is read;
    ``content_hash`` is the SHA-256 of the bytes the latest read consumed (the whole file when read whole).
    ``vanished_at`` is when a run found the file gone (its results are kept).
    """

    path: str
    size: int
    mtime_ns: int
    consumed: int
    lines: int
    conversations: int
    head_hash: str
    tail_hash: str
    content_hash: str
    vanished_at: datetime | None = None
