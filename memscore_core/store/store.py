"""The store: a DuckDB file (the default) or a DuckLake that many processes and hosts write at once.

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

import contextlib
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from filelock import FileLock, Timeout

from memscore_core.errors import InputError, StoreError
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.settings import Settings
from memscore_core.store import queries as q
from memscore_core.store.connections import open_database
from memscore_core.store.lake import Held, Lake, inline_small_commits
from memscore_core.store.migrate import applied_versions, baseline, migrate, migrations
from memscore_core.store.outages import StoreUnavailableError, backoff, store_away
from memscore_core.store.records import MemoryImportance, ResultKey, StoredResult, StoredRun, rebuild_conversation
from memscore_core.store.result_reads import read_results, rebuild
from memscore_core.store.result_rows import ConversationRows, ResultRows
from memscore_core.store.targets import StoreTarget, parse_target
from memscore_core.store.transactions import (
    RETRY_WAIT,
    RETRY_WAIT_MAX,
    WRITE_ATTEMPTS,
    bump,
    in_transaction,
    lost_a_race,
    rollback,
)

__all__ = ["Connection", "Store", "baseline", "migrations"]

T = TypeVar("T")

Connection = duckdb.DuckDBPyConnection


class Store:
    """memscore's results at ``target`` (see :mod:`memscore_core.store.targets`), created and migrated on first use.

    ``data_path`` (a DuckLake's Parquet files) defaults to ``MEMSCORE_DATA_PATH``.
    """

    def __init__(self, target: str | Path, *, data_path: str | Path | None = None, lock_timeout: float = 300.0,
                 extension_dir: Path | None = None) -> None:
        settings = Settings()
        self.outage_seconds = settings.store_outage_seconds
        path_text = str(data_path) if data_path is not None else settings.data_path
        self.target: StoreTarget = parse_target(str(target), path_text)
        self.name = self.target.display
        self.path: Path | None = None if self.target.is_lake else Path(self.target.location)
        self._lock: FileLock | None = None
        self._write_lock: FileLock | None = None
        self._batch = threading.local()
        self._lake: Lake | None = None
        self._held: Held | None = None
        self._holds: list[contextlib.ExitStack] = []
        if self.path is not None:
            self._lock = FileLock(f"{self.path}.lock", timeout=lock_timeout)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        else:
            self._lake = Lake.shared(self.target, extension_dir or settings.extension_dir)
            if self.target.catalog == "sqlite":
                self._write_lock = FileLock(f"{self.target.location}.lock", timeout=lock_timeout)
        if self._lake is None or not self._lake.migrated:
            migrate(self)
            if self._lake is not None:
                self.write(inline_small_commits, keyed=False)
                self._lake.migrated = True

    # -- connections and transactions ------------------------------------------------------------------------

    def __enter__(self) -> Store:
        """``with store:`` holds one connection for the whole block (see :meth:`held`)."""
        stack = contextlib.ExitStack()
        stack.enter_context(self.held())
        self._holds.append(stack)
        return self

    def __exit__(self, *_: object) -> None:
        self._holds.pop().close()

    @contextmanager
    def held(self) -> Iterator[Store]:
        """Every read and write of this store inside the block, from any thread, on one connection.

        A DuckDB file is opened and locked once for the block instead of once per call, so other processes
        wait for the block to end: hold it for a command's reads, not across a scoring run. A DuckLake
        already keeps one attached connection per process. Blocks nest.
        """
        if self._lake is not None or self._held is not None:
            yield self
            return
        assert self._lock is not None
        try:
            with self._lock:
                try:
                    self._held = Held(open_database(str(self.path)))
                except duckdb.Error as exc:
                    raise StoreError(f"{self.name}: {exc}") from exc
                try:
                    yield self
                finally:
                    held, self._held = self._held, None
                    held.close()
        except Timeout as exc:
            raise StoreError(f"{self.name}: timed out waiting for the database lock") from exc

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads (and :meth:`write`); errors become :class:`StoreError`."""
        try:
            if self._lake is not None:
                yield self._lake.cursor()
            elif self._held is not None:
                yield self._held.cursor()
            else:
                assert self._lock is not None
                with self._lock, open_database(str(self.path)) as con:
                    yield con
        except Timeout as exc:
            raise StoreError(f"{self.name}: timed out waiting for the database lock") from exc
        except duckdb.Error as exc:
            if self._lake is not None and store_away(exc):
                self._lake.discard()  # the next call attaches afresh
            raise StoreError(f"{self.name}: {exc}") from exc

    def write(self, work: Callable[[Connection], T], *, keyed: bool = True) -> T:
        """Run ``work`` in one transaction and commit it; ``keyed`` work (adds or replaces rows by a logical
        key) also bumps ``keyed_writes``. A commit that loses a DuckLake conflict is rolled back and ``work``
        runs again from a fresh snapshot, up to :data:`WRITE_ATTEMPTS` times with backoff. Inside
        :meth:`batch`, ``work`` joins the batch's transaction instead."""
        batch = getattr(self._batch, "connection", None)
        if batch is not None:
            if keyed and not self._batch.bumped:
                bump(batch)
                self._batch.bumped = True
            try:
                return work(batch)
            except duckdb.Error as exc:
                raise StoreError(f"{self.name}: {exc}") from exc
        attempt, away = 0, 0
        away_since = 0.0
        while True:
            try:
                with self._writing(), self.connect() as con:
                    return in_transaction(con, work, keyed)
            except StoreError as exc:
                if self._lake is not None and store_away(exc):
                    away += 1
                    away_since = away_since or time.monotonic()
                    self._wait_for_store(exc, away, away_since)
                    continue
                attempt += 1
                if not lost_a_race(exc) or attempt == WRITE_ATTEMPTS:
                    if lost_a_race(exc):
                        raise StoreError(f"{self.name}: a write kept conflicting with other writers; gave up after "
                                         f"{WRITE_ATTEMPTS} attempts ({exc.__cause__})") from exc
                    raise
                time.sleep(min(RETRY_WAIT_MAX, RETRY_WAIT * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))

    def _wait_for_store(self, exc: StoreError, away: int, since: float) -> None:
        """The catalog is away or the instance broken: drop the instance and wait before the next try, or give up
        with :class:`StoreUnavailableError` once the store has been away for :attr:`outage_seconds`."""
        assert self._lake is not None
        self._lake.discard()
        waited = time.monotonic() - since
        if waited >= self.outage_seconds:
            raise StoreUnavailableError(f"{self.name}: the store has been unreachable for {waited:.0f} s "
                                        f"(MEMSCORE_STORE_OUTAGE_SECONDS={self.outage_seconds:g}): {exc.__cause__}"
                                        ) from exc
        time.sleep(min(backoff(away), self.outage_seconds - waited))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every write of this thread inside the block in one transaction on one connection: committed at the
        end, all or nothing (a :class:`StoreError` when it fails or loses a DuckLake race; write again one by
        one then). A DuckDB file is opened, locked and checkpointed once per batch instead of once per write."""
        if getattr(self._batch, "connection", None) is not None:
            yield
            return
        with self._writing(), self.connect() as con:
            con.begin()
            self._batch.connection, self._batch.bumped = con, False
            try:
                yield
                con.commit()
            except duckdb.Error as exc:
                rollback(con)
                raise StoreError(f"{self.name}: {exc}") from exc
            except BaseException:
                rollback(con)
                raise
            finally:
                self._batch.connection = None

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Writers to a SQLite catalog take turns (SQLite answers a second writer "database is locked" at once
        rather than waiting); PostgreSQL and DuckDB-file stores need nothing here."""
        if self._write_lock is None:
            yield
            return
        try:
            with self._write_lock:
                yield
        except Timeout as exc:
            raise StoreError(f"{self.name}: timed out waiting for the catalog's write lock") from exc

    def schema_version(self) -> int:
        """The highest applied migration."""
        with self.connect() as con:
            return max(applied_versions(con))

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
        with self.connect() as con:
            head = con.execute(q.CONVERSATION, [conversation_id, content_hash]).fetchone()
            entries = con.execute(q.ENTRIES_OF, [conversation_id, content_hash]).fetchall()
        return None if head is None else rebuild_conversation(conversation_id, head, entries)

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
        with self.connect() as con:
            return {row[0] for row in con.execute(q.SCORED_HASHES, [model, config_hash]).fetchall()}

    def has_result(self, content_hash: str, model: str, config_hash: str) -> bool:
        with self.connect() as con:
            row = con.execute(q.HAS_RESULT, [content_hash, model, config_hash]).fetchone()
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
        with self.connect() as con:
            if conversation_id is None:
                rows = con.execute(q.TOP_MEMORIES, [prefix, limit]).fetchall()
            else:
                rows = con.execute(q.TOP_MEMORIES_OF_CONVERSATION, [prefix, conversation_id, limit]).fetchall()
        return [MemoryImportance(memory_key=r[0], conversations=r[1], importance=r[2], mean=r[3], max=r[4],
                                 last_scored=r[5], cells=r[6], screened=r[7]) for r in rows]

    def latest_result(self, conversation_id: str) -> StoredResult | None:
        """The latest scores of ``conversation_id`` as a matrix, with its entries' text."""
        with self.connect() as con:
            head = con.execute(q.LATEST_RESULT, [conversation_id]).fetchone()
            return None if head is None else rebuild(con, head)

    def result(self, content_hash: str, model: str, config_hash: str) -> StoredResult | None:
        """The stored result of this content under this model and configuration, if any."""
        with self.connect() as con:
            head = con.execute(q.RESULT_BY_KEY, [content_hash, model, config_hash]).fetchone()
            return None if head is None else rebuild(con, head)

    def results(self, keys: Sequence[ResultKey]) -> dict[ResultKey, StoredResult]:
        """The stored results of many (content hash, model, config hash) keys, read with a few queries per
        :data:`~memscore_core.store.result_reads.RESULTS_PER_QUERY` keys on one connection; keys without a result
        are left out."""
        with self.connect() as con:
            return read_results(con, keys)

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
            raise StoreError(f"{self.name}: no table or view named {table!r}")
        with self.connect() as con:
            row = con.execute(q.count_rows(table)).fetchone()
        return int(row[0]) if row else 0

    def tables(self) -> list[str]:
        with self.connect() as con:
            return [row[0] for row in con.execute(q.TABLES).fetchall()]

    def columns(self) -> list[tuple[str, str, str, str]]:
        """(table, column, type, nullable) of every table and view, in column order."""
        with self.connect() as con:
            return [tuple(row) for row in con.execute(q.COLUMNS).fetchall()]  # type: ignore[misc]


def _now() -> datetime:
    return datetime.now(UTC)
