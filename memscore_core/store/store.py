"""The store: a DuckDB file (the default) or a DuckLake that many processes and hosts write at once; what it holds
(runs, conversations, results) and the queries users run. How it is reached is :mod:`memscore_core.store.access`.

Both run the same schema (versioned migrations, :mod:`memscore_core.store.migrate`) and the same statements. A
**DuckDB file** lets one process at a time open it for writing, so every call opens a short-lived connection
under an inter-process file lock (``<db>.lock``): concurrent runs queue, never fail. A **DuckLake** serialises
commits in its catalog, so it needs no lock: each process keeps one attached connection and each thread its own
cursor on it (:mod:`memscore_core.store.lake`).

A result set is keyed by (content hash, model, config hash); writing it again replaces it in one transaction.
Writes that add or replace rows by such a logical key go through :meth:`Store.write`, which bumps
``keyed_writes`` in the same transaction and runs a write that lost a DuckLake conflict again from a fresh
snapshot (:mod:`memscore_core.store.transactions`). No key is ever stored twice (docs/schema.md, "Many writers").
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from memscore_core.errors import InputError, StoreError
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.store import queries as q
from memscore_core.store.access import StoreAccess
from memscore_core.store.lake import configure_inlining
from memscore_core.store.migrate import applied_versions, baseline, migrate, migrations
from memscore_core.store.records import MemoryImportance, ResultKey, StoredResult, StoredRun
from memscore_core.store.result_reads import read_conversation, read_results, read_scores, rebuild
from memscore_core.store.result_rows import ConversationRows, ResultRows
from memscore_core.store.transactions import bump

__all__ = ["Connection", "Store", "baseline", "migrations"]

Connection = duckdb.DuckDBPyConnection


class Store(StoreAccess):
    """memscore's results at ``target`` (see :mod:`memscore_core.store.targets`), created and migrated on first use.

    ``data_path`` (a DuckLake's Parquet files) defaults to ``MEMSCORE_DATA_PATH``.
    """

    def __init__(self, target: str | Path, *, data_path: str | Path | None = None, lock_timeout: float = 300.0,
                 extension_dir: Path | None = None) -> None:
        super().__init__(target, data_path=data_path, lock_timeout=lock_timeout, extension_dir=extension_dir)
        if self._lake is None or not self._lake.migrated:
            migrate(self)
            if self._lake is not None:
                self.write(configure_inlining, keyed=False)
                self._lake.migrated = True

    def schema_version(self) -> int:
        """The highest applied migration."""
        return self.read(lambda con: max(applied_versions(con)))

    # -- runs ------------------------------------------------------------------------------------------------

    def record_run_start(self, *, model: str, backend: str, strategy: str, config: dict[str, Any],
                         config_hash: str, flow_run_id: str | None = None, parent_run_id: str | None = None,
                         host: str | None = None) -> str:
        """Open a scoring run; returns its id. ``host`` defaults to this machine's name."""
        run_id = uuid.uuid4().hex
        row = [run_id, flow_run_id, model, backend, strategy, json.dumps(config), config_hash, _now(), parent_run_id,
               host or socket.gethostname()]
        self.write(lambda con: con.execute(q.INSERT_RUN, row), keyed=False)
        return run_id

    def record_run_finish(self, run_id: str, *, status: str, requests: int, prompt_tokens: int,
                          noise_floor: float | None = None, noise_floor_method: dict[str, Any] | None = None) -> None:
        """Close a run with its status and totals, and the noise floor its screening used (nats) with how it was
        obtained (None for a run that screened nothing)."""
        method = None if noise_floor_method is None else json.dumps(noise_floor_method)
        row = [_now(), status, requests, prompt_tokens, noise_floor, method, run_id]
        self.write(lambda con: con.execute(q.FINISH_RUN, row), keyed=False)

    # -- conversations ---------------------------------------------------------------------------------------

    def upsert_conversation(self, conversation: Conversation, content_hash: str, source_file: str | None,
                            source_format: str | None = None) -> None:
        """Record a conversation and its entries once per content hash (a second write changes nothing)."""
        self.upsert_conversations([(conversation, content_hash)], source_file=source_file,
                                  source_format=source_format)

    def upsert_conversations(self, conversations: Sequence[tuple[Conversation, str]], *, source_file: str | None,
                             source_format: str | None = None) -> None:
        """:meth:`upsert_conversation` for many (conversation, content hash) pairs, in one transaction."""
        rows = ConversationRows()
        now = _now()
        for conversation, content_hash in conversations:
            rows.add(conversation, content_hash, source_file=source_file, source_format=source_format,
                     ingested_at=now)

        def insert(con: Connection) -> None:
            if rows.insert_new(con):
                bump(con)

        self.write(insert, keyed=False)

    def conversation(self, conversation_id: str, content_hash: str) -> Conversation | None:
        """The stored conversation, rebuilt as it was scored (entries' ``meta`` is not stored)."""
        return self.read(lambda con: read_conversation(con, conversation_id, content_hash))

    def record_ingest_errors(self, run_id: str | None, errors: Sequence[InputError]) -> None:
        """Keep each distinct invalid input (file, line, id, field, message) once, as first seen."""
        if not errors:
            return
        now = _now()
        rows = [[run_id, e.file, e.line, e.conversation_id, e.field, e.message, now] for e in errors]

        def insert(con: Connection) -> None:
            for row in rows:
                con.execute(q.INSERT_INGEST_ERROR, row)

        self.write(insert)

    # -- results ---------------------------------------------------------------------------------------------

    def scored_hashes(self, model: str, config_hash: str) -> set[str]:
        """Content hashes that already have a result for this model and configuration."""
        rows = self.read(lambda con: con.execute(q.SCORED_HASHES, [model, config_hash]).fetchall())
        return {row[0] for row in rows}

    def has_result(self, content_hash: str, model: str, config_hash: str) -> bool:
        row = self.read(lambda con: con.execute(q.HAS_RESULT, [content_hash, model, config_hash]).fetchone())
        return bool(row and row[0])

    def write_result(self, run_id: str, score: ConversationScore, config_hash: str) -> None:
        """Store one conversation's scores, replacing any earlier result with the same key.

        Every cell of every row is stored (NULL where not scored), and a summary of each memory's row (migration
        0009); rows shorter than the result's columns read back padded with NULL. A result whose columns disagree
        in length is refused.
        """
        self.write_results(run_id, [score], config_hash)

    def write_results(self, run_id: str, scores: Sequence[ConversationScore], config_hash: str, *,
                      scored_at: Sequence[datetime] | None = None) -> None:
        """:meth:`write_result` for many results of one run in one transaction; ``scored_at`` defaults to now."""
        rows = ResultRows()
        now = _now()
        for score, at in zip(scores, scored_at or [now] * len(scores), strict=True):
            rows.add(score, config_hash=config_hash, run_id=run_id, scored_at=at)
        self.write(rows.replace)

    def top_memories(self, *, limit: int = 20, prefix: str = "",
                     conversation_id: str | None = None) -> list[MemoryImportance]:
        """The most important memory keys over the latest result of each (or one) conversation: importance sums
        exact cells only; a memory with screened cells alone comes last, its importance None."""
        if conversation_id is None:
            query, parameters = q.TOP_MEMORIES, [prefix, limit]
        else:
            query, parameters = q.TOP_MEMORIES_OF_CONVERSATION, [prefix, conversation_id, limit]
        rows = self.read(lambda con: con.execute(query, parameters).fetchall())
        return [MemoryImportance(memory_key=r[0], conversations=r[1], importance=r[2], mean=r[3], max=r[4],
                                 last_scored=r[5], cells=r[6], screened=r[7]) for r in rows]

    def latest_result(self, conversation_id: str) -> StoredResult | None:
        """The latest scores of ``conversation_id`` as a matrix, with its entries' text."""
        def latest(con: Connection) -> StoredResult | None:
            head = con.execute(q.LATEST_RESULT, [conversation_id]).fetchone()
            return None if head is None else rebuild(con, head)

        return self.read(latest)

    def result(self, content_hash: str, model: str, config_hash: str) -> StoredResult | None:
        """The stored result of this content under this model and configuration, if any."""
        def by_key(con: Connection) -> StoredResult | None:
            head = con.execute(q.RESULT_BY_KEY, [content_hash, model, config_hash]).fetchone()
            return None if head is None else rebuild(con, head)

        return self.read(by_key)

    def results(self, keys: Sequence[ResultKey]) -> dict[ResultKey, StoredResult]:
        """The stored results of many (content hash, model, config hash) keys, read with a few queries per
        :data:`~memscore_core.store.result_reads.RESULTS_PER_QUERY` keys on one connection; keys without a result
        are left out."""
        return self.read(lambda con: read_results(con, keys))

    def scores(self, keys: Sequence[ResultKey]) -> dict[ResultKey, ConversationScore]:
        """:meth:`results` as the scoring engine returned them (:meth:`StoredResult.to_score`), read without their
        conversations' entries."""
        return self.read(lambda con: read_scores(con, keys))

    def runs(self) -> list[StoredRun]:
        rows = self.read(lambda con: con.execute(q.RUNS).fetchall())
        return [StoredRun.from_row(row) for row in rows]

    def run(self, run_id: str) -> StoredRun | None:
        """One scoring run by its id."""
        row = self.read(lambda con: con.execute(q.RUN, [run_id]).fetchone())
        return None if row is None else StoredRun.from_row(row)

    def count(self, table: str) -> int:
        """Rows in one of memscore's tables or views."""
        if table not in self.tables():
            raise StoreError(f"{self.name}: no table or view named {table!r}")
        row = self.read(lambda con: con.execute(q.count_rows(table)).fetchone())
        return int(row[0]) if row else 0

    def tables(self) -> list[str]:
        return [row[0] for row in self.read(lambda con: con.execute(q.TABLES).fetchall())]

    def columns(self) -> list[tuple[str, str, str, str]]:
        """(table, column, type, nullable) of every table and view, in column order."""
        return [tuple(row) for row in self.read(lambda con: con.execute(q.COLUMNS).fetchall())]  # type: ignore[misc]


def _now() -> datetime:
    return datetime.now(UTC)
