"""The source manifest: what runs consumed of each source file, per reading scope (table ``source_files``).

A scope is whatever makes a file's results differ (the caller hashes model, configuration, input options
and shard into it): a run under another scope reads every file again. Rows are replaced by keyed writes,
so many writers on one DuckLake never store a (scope, path) twice; a writer that records an older offset
than another only makes the next run read a tail again, whose conversations are then skipped as scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from memscore_core.model.source_mark import SourceMark
from memscore_core.store import manifest_queries as q
from memscore_core.store.queries import listed
from memscore_core.store.store import Connection, Store


class SourceManifest:
    """The manifest rows of ``store`` under one reading ``scope``."""

    def __init__(self, store: Store, scope: str) -> None:
        self.store = store
        self.scope = scope

    def marks(self) -> dict[str, SourceMark]:
        """Every file this scope has read (vanished ones too), by absolute path."""
        rows = self.store.read(lambda con: con.execute(q.MARKS, [self.scope]).fetchall())
        return {row[0]: SourceMark(*row) for row in rows}

    def record(self, marks: Sequence[SourceMark], *, model: str, config_hash: str, run_id: str | None) -> None:
        """Replace the rows of these files with ``marks`` in one keyed transaction (call it only once the
        results of every consumed byte are stored)."""
        if not marks:
            return
        paths = listed([mark.path for mark in marks])
        columns = [listed([getattr(mark, name) for mark in marks]) for name in
                   ("path", "size", "mtime_ns", "consumed", "lines", "conversations", "head_hash", "tail_hash",
                    "content_hash")]
        head = [self.scope, model, config_hash, run_id, datetime.now(UTC)]

        def replace(con: Connection) -> None:
            con.execute(q.DELETE_MARKS, [self.scope, paths])
            con.execute(q.INSERT_MARKS, head + columns)

        self.store.write(replace)

    def note_vanished(self, paths: Sequence[str]) -> None:
        """Mark these files as gone (now); their rows and their results stay."""
        if paths:
            row = [datetime.now(UTC), self.scope, listed(list(paths))]
            self.store.write(lambda con: con.execute(q.MARK_VANISHED, row), keyed=False)
