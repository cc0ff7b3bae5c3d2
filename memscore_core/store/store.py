"""The DuckDB store: one file, versioned migrations, one short-lived connection per call.

DuckDB lets one process at a time open a file for writing, so every call takes an inter-process file
lock (``<db>.lock``) for the few milliseconds it needs: concurrent runs on one file queue, never fail.
A result set is keyed by (content hash, model, config hash); writing it again replaces it in one
transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
from filelock import FileLock, Timeout

from memscore_core.conversation import Conversation
from memscore_core.errors import InputError, StoreError
from memscore_core.result import ConversationScore
from memscore_core.store import queries as q
from memscore_core.store.records import MemoryImportance, StoredResult, StoredRun


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every shipped migration, in order."""
    folder = resources.files("memscore_core.store") / "migrations"
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            version, _, name = item.name.removesuffix(".sql").partition("_")
            found.append((int(version), name, item.read_text(encoding="utf-8")))
    return sorted(found)


class Store:
    """memscore's results in the DuckDB file at ``path`` (created and migrated on first use)."""

    def __init__(self, path: str | Path, *, lock_timeout: float = 300.0) -> None:
        self.path = Path(path)
        self._lock = FileLock(f"{self.path}.lock", timeout=lock_timeout)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            self._migrate(con)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """An exclusive connection, held under the file lock; errors become :class:`StoreError`."""
        try:
            with self._lock, duckdb.connect(str(self.path)) as con:
                yield con
        except Timeout as exc:
            raise StoreError(f"{self.path}: timed out waiting for the database lock") from exc
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed on success, rolled back on any error."""
        with self.connect() as con:
            con.begin()
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            con.commit()

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(q.MIGRATIONS_TABLE)
        applied = {row[0] for row in con.execute(q.APPLIED_VERSIONS).fetchall()}
        for version, name, sql in migrations():
            if version in applied:
                continue
            con.begin()
            con.execute(sql)
            con.execute(q.RECORD_MIGRATION, [version, name, _now()])
            con.commit()

    def schema_version(self) -> int:
        """The highest applied migration."""
        with self.connect() as con:
            return max(row[0] for row in con.execute(q.APPLIED_VERSIONS).fetchall())

    def record_run_start(self, *, model: str, backend: str, strategy: str, config: dict[str, Any],
                         config_hash: str, flow_run_id: str | None = None) -> str:
        """Open a scoring run; returns its id."""
        run_id = uuid.uuid4().hex
        with self.connect() as con:
            con.execute(q.INSERT_RUN, [run_id, flow_run_id, model, backend, strategy, json.dumps(config),
                                       config_hash, _now()])
        return run_id

    def record_run_finish(self, run_id: str, *, status: str, requests: int, prompt_tokens: int) -> None:
        with self.connect() as con:
            con.execute(q.FINISH_RUN, [_now(), status, requests, prompt_tokens, run_id])

    def upsert_conversation(self, conversation: Conversation, content_hash: str, source_file: str | None) -> None:
        """Record a conversation and its entries (idempotent per content hash)."""
        entries = conversation.entries
        with self.transaction() as con:
            con.execute(q.INSERT_CONVERSATION, [conversation.id, content_hash, source_file, _now(),
                                                json.dumps(conversation.meta), conversation.system_prompt,
                                                conversation.context])
            con.execute(q.INSERT_ENTRIES, [
                conversation.id, content_hash, list(range(len(entries))), [e.role for e in entries],
                [e.memory_key for e in entries], [e.content for e in entries], [e.reasoning for e in entries],
                [e.tool_call_id for e in entries]])

    def record_ingest_errors(self, run_id: str | None, errors: Sequence[InputError]) -> None:
        """Keep each distinct invalid input (file, line, id, field, message) once, as first seen."""
        if not errors:
            return
        now = _now()
        with self.transaction() as con:
            con.executemany(q.INSERT_INGEST_ERROR, [
                [run_id, e.file, e.line, e.conversation_id, e.field, e.message, now] for e in errors])

    def scored_hashes(self, model: str, config_hash: str) -> set[str]:
        """Content hashes that already have a result for this model and configuration."""
        with self.connect() as con:
            return {row[0] for row in con.execute(q.SCORED_HASHES, [model, config_hash]).fetchall()}

    def has_result(self, content_hash: str, model: str, config_hash: str) -> bool:
        with self.connect() as con:
            row = con.execute(q.HAS_RESULT, [content_hash, model, config_hash]).fetchone()
        return bool(row and row[0])

    def write_result(self, run_id: str, score: ConversationScore, config_hash: str) -> None:
        """Store one conversation's scores, replacing any earlier result with the same key.

        A seed row cut short by the seed's walker stores only the cells it has; the rest read back as NULL.
        """
        key = [score.content_hash, score.model, config_hash]
        head = key + [run_id, score.conversation_id]
        cells = [(m, j) for m in range(len(score.memory_keys)) for j in range(len(score.matrix[m]))]
        with self.transaction() as con:
            for statement in q.DELETE_RESULT:
                con.execute(statement, key)
            con.execute(q.INSERT_RESULT, key + [score.conversation_id, run_id, score.strategy, _now(),
                                                score.requests, score.prompt_tokens, json.dumps(score.chunks)])
            if cells:
                con.execute(q.INSERT_SCORES, head + [
                    [score.memory_keys[m] for m, _ in cells],
                    [score.memory_entry_indices[m] for m, _ in cells],
                    [score.response_entry_indices[j] for _, j in cells],
                    [score.matrix[m][j] for m, j in cells],
                    [score.signed_matrix[m][j] for m, j in cells],
                    [score.response_tokens[j] for _, j in cells]])
            if score.response_entry_indices:
                con.execute(q.INSERT_RESPONSES, head + [
                    score.response_entry_indices, score.response_scores, score.drop_all, score.response_tokens])

    def top_memories(self, *, limit: int = 20, prefix: str = "",
                     conversation_id: str | None = None) -> list[MemoryImportance]:
        """The most important memory keys over the latest result of each (or one) conversation."""
        with self.connect() as con:
            if conversation_id is None:
                rows = con.execute(q.TOP_MEMORIES, [prefix, limit]).fetchall()
            else:
                rows = con.execute(q.TOP_MEMORIES_OF_CONVERSATION, [prefix, conversation_id, limit]).fetchall()
        return [MemoryImportance(memory_key=r[0], conversations=r[1], importance=r[2], mean=r[3], max=r[4],
                                 last_scored=r[5]) for r in rows]

    def latest_result(self, conversation_id: str) -> StoredResult | None:
        """The latest scores of ``conversation_id`` as a matrix, with its entries' text."""
        with self.connect() as con:
            head = con.execute(q.LATEST_RESULT, [conversation_id]).fetchone()
            return None if head is None else _rebuild(con, conversation_id, head)

    def result(self, content_hash: str, model: str, config_hash: str) -> StoredResult | None:
        """The stored result of this content under this model and configuration, if any."""
        with self.connect() as con:
            head = con.execute(q.RESULT_BY_KEY, [content_hash, model, config_hash]).fetchone()
            return None if head is None else _rebuild(con, head[9], head)

    def runs(self) -> list[StoredRun]:
        with self.connect() as con:
            rows = con.execute(q.RUNS).fetchall()
        return [StoredRun.from_row(row) for row in rows]

    def run(self, run_id: str) -> StoredRun | None:
        """One scoring run by its id."""
        with self.connect() as con:
            row = con.execute(q.RUN, [run_id]).fetchone()
        return None if row is None else StoredRun.from_row(row)

    def count(self, table: str) -> int:
        """Rows in one of memscore's tables or views."""
        if table not in self.tables():
            raise StoreError(f"{self.path}: no table or view named {table!r}")
        with self.connect() as con:
            row = con.execute(q.count_rows(table)).fetchone()
        return int(row[0]) if row else 0

    def tables(self) -> list[str]:
        with self.connect() as con:
            return [row[0] for row in con.execute(q.TABLES).fetchall()]


def _rebuild(con: duckdb.DuckDBPyConnection, conversation_id: str, head: tuple[Any, ...]) -> StoredResult:
    key = list(head[:3])
    cells = con.execute(q.RESULT_CELLS, key).fetchall()
    responses = con.execute(q.RESULT_RESPONSES, key).fetchall()
    entries = con.execute(q.CONVERSATION_ENTRIES, [conversation_id, head[0]]).fetchall()
    return StoredResult.from_rows(conversation_id, head, cells, responses, entries)


def _now() -> datetime:
    return datetime.now(UTC)
