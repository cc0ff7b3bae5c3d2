"""The store: a DuckDB file (the default) or a DuckLake that many processes and hosts write at once.

Both run the same schema (versioned migrations; a new store applies the squashed baseline) and the same
statements. A **DuckDB file** lets one process at a time open it for writing, so every call opens a
short-lived connection under an inter-process file lock (``<db>.lock``): concurrent runs queue, never fail.
A **DuckLake** serialises commits in its catalog, so it needs no lock: each process keeps one attached
connection (attaching costs ~0.5 s; a query ~10 ms) and each thread its own cursor on it.

A result set is keyed by (content hash, model, config hash); writing it again replaces it in one
transaction. Writes that add or replace rows by such a logical key go through :meth:`Store.write`, which
bumps ``keyed_writes`` in the same transaction: DuckLake never sees two inserts as a conflict, but it does
see two commits that both rewrote that row, aborts the later one, and :meth:`Store.write` runs it again
from a fresh snapshot, where it finds the other's rows and replaces (or keeps) them. No key is ever stored
twice (docs/schema.md, "Many writers").
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from datetime import UTC, datetime
from functools import partial
from importlib import resources
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
from memscore_core.store.extensions import connection_config, extension_directory
from memscore_core.store.outages import StoreUnavailableError, backoff, store_away
from memscore_core.store.records import (
    MemoryImportance,
    ResultKey,
    StoredResult,
    StoredRun,
    rebuild_conversation,
    results_from_rows,
)
from memscore_core.store.targets import StoreTarget, parse_target

T = TypeVar("T")

Connection = duckdb.DuckDBPyConnection
WRITE_ATTEMPTS = 20
"""How often a write that lost a DuckLake conflict is run again before it fails."""
RETRY_WAIT = 0.05
"""Seconds before the first retry; doubling, with jitter, up to :data:`RETRY_WAIT_MAX`."""
RETRY_WAIT_MAX = 2.0
DUCKLAKE_SETTINGS = {"ducklake_max_retry_count": 30, "ducklake_retry_wait_ms": 20, "ducklake_retry_backoff": 1.3}
"""DuckLake's own retries of commits that do not conflict but lost the race for the next snapshot id."""
INLINING_ROW_LIMIT = 2000
"""Rows a commit may add to one DuckLake table in its catalog instead of a Parquet file: more than one scoring
result's cells at realistic sizes (20 memories × 30 responses = 600), fewer than a big batch's. Measured: 30
results of 100 cells in 10 commits made 60 files with DuckLake's default (10 rows), none with this; the
rows stay in the catalog until ``memscore store maintain`` flushes them into one file per table."""
RESULTS_PER_QUERY = 2000
"""Keys per batched read of results (bounds one query's rows, not the connections)."""
CATALOG_EXTENSION = {"postgres": "postgres_scanner", "sqlite": "sqlite_scanner", "duckdb": None}


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every shipped migration, in order."""
    found = []
    for item in _migration_files():
        stem = item.name.removesuffix(".sql")
        version, _, name = stem.partition("_")
        if version.isdigit():
            found.append((int(version), name, item.read_text(encoding="utf-8")))
    return sorted(found)


def baseline() -> tuple[int, str]:
    """(version, SQL) of the squashed baseline a new store starts from: the schema of migrations 1..version."""
    [(version, sql)] = [(int(item.name.removesuffix(".sql").removeprefix("baseline_")), item.read_text("utf-8"))
                        for item in _migration_files() if item.name.startswith("baseline_")]
    return version, sql


def _migration_files() -> list[Any]:
    folder = resources.files("memscore_core.store") / "migrations"
    return [item for item in folder.iterdir() if item.name.endswith(".sql")]


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
        self._lake: _Lake | None = None
        self._held: _Held | None = None
        self._holds: list[contextlib.ExitStack] = []
        if self.path is not None:
            self._lock = FileLock(f"{self.path}.lock", timeout=lock_timeout)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        else:
            self._lake = _Lake.shared(self.target, extension_dir or settings.extension_dir)
            if self.target.catalog == "sqlite":
                self._write_lock = FileLock(f"{self.target.location}.lock", timeout=lock_timeout)
        if self._lake is None or not self._lake.migrated:
            self._migrate()
            if self._lake is not None:
                self.write(_inline_small_commits, keyed=False)
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
                    self._held = _Held(open_database(str(self.path)))
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
                _bump(batch)
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
                    return _in_transaction(con, work, keyed)
            except StoreError as exc:
                if self._lake is not None and store_away(exc):
                    away += 1
                    away_since = away_since or time.monotonic()
                    self._wait_for_store(exc, away, away_since)
                    continue
                attempt += 1
                if not _lost_a_race(exc) or attempt == WRITE_ATTEMPTS:
                    if _lost_a_race(exc):
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
                _rollback(con)
                raise StoreError(f"{self.name}: {exc}") from exc
            except BaseException:
                _rollback(con)
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

    def _migrate(self) -> None:
        version, sql = baseline()
        shipped = migrations()

        def start(con: Connection) -> None:
            if _applied(con):
                return
            con.execute(sql)
            for number, name, _ in shipped:
                if number <= version:
                    con.execute(q.RECORD_MIGRATION, [number, name, _now()])

        applied = self.write(_create_migrations_table, keyed=False)
        if not applied:
            self.write(start, keyed=False)
            applied = set(range(1, version + 1))
        for number, name, step in shipped:
            if number not in applied:
                self.write(partial(_apply, version=number, name=name, sql=step), keyed=False)

    def schema_version(self) -> int:
        """The highest applied migration."""
        with self.connect() as con:
            return max(_applied(con))

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
        entries = conversation.entries
        head = [conversation.id, content_hash, source_file, _now(), json.dumps(conversation.meta),
                conversation.system_prompt, conversation.context,
                None if conversation.tools is None else json.dumps(conversation.tools),
                json.dumps([memory.model_dump() for memory in conversation.system_memories])
                if conversation.system_memories else None, source_format]
        rows = [conversation.id, content_hash, *map(q.listed, (
                range(len(entries)), [e.role for e in entries], [e.memory_key for e in entries],
                [e.content for e in entries], [e.reasoning for e in entries], [e.tool_call_id for e in entries],
                [None if e.tool_calls is None else json.dumps([c.model_dump() for c in e.tool_calls]) for e in entries],
                [e.name for e in entries]))]

        def insert(con: Connection) -> None:
            found = con.execute(q.CONVERSATION_EXISTS, [conversation.id, content_hash]).fetchone()
            if found and found[0]:
                return
            _bump(con)
            con.execute(q.INSERT_CONVERSATION, head)
            con.execute(q.INSERT_ENTRIES, rows)

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

        Every cell of every row is stored (NULL where not scored); rows shorter than the result's columns
        read back padded with NULL. A result whose columns disagree in length is refused.
        """
        _check_shape(score)
        key = [score.content_hash, score.model, config_hash]
        head = key + [run_id, score.conversation_id]
        cells = _cells(score)
        columns = list(range(len(score.response_entry_indices)))
        method = score.noise_floor_method
        floor_method = None if method is None else json.dumps(method.model_dump(mode="json"))

        def replace(con: Connection) -> None:
            found = con.execute(q.HAS_RESULT, key).fetchone()
            if found and found[0]:
                for statement in q.DELETE_RESULT:
                    con.execute(statement, key)
            con.execute(q.INSERT_RESULT, key + [score.conversation_id, run_id, score.strategy, _now(),
                                                score.requests, score.prompt_tokens, json.dumps(score.chunks),
                                                json.dumps(score.chunk_strategies) if score.chunk_strategies
                                                else None, score.noise_floor, floor_method])
            if cells[0]:
                con.execute(q.INSERT_SCORES, head + [q.listed(column) for column in cells])
            if columns:
                con.execute(q.INSERT_RESPONSES, head + [q.listed(column) for column in (
                    columns, score.response_entry_indices, score.response_scores, score.drop_all,
                    score.response_tokens, score.fit_r2 if score.fit_r2 is not None else [None] * len(columns))])

        self.write(replace)

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
            return None if head is None else _rebuild(con, head)

    def result(self, content_hash: str, model: str, config_hash: str) -> StoredResult | None:
        """The stored result of this content under this model and configuration, if any."""
        with self.connect() as con:
            head = con.execute(q.RESULT_BY_KEY, [content_hash, model, config_hash]).fetchone()
            return None if head is None else _rebuild(con, head)

    def results(self, keys: Sequence[ResultKey]) -> dict[ResultKey, StoredResult]:
        """The stored results of many (content hash, model, config hash) keys, read with a few queries per
        :data:`RESULTS_PER_QUERY` keys on one connection; keys without a result are left out."""
        found: dict[ResultKey, StoredResult] = {}
        unique = list(dict.fromkeys(keys))
        with self.connect() as con:
            for start in range(0, len(unique), RESULTS_PER_QUERY):
                found.update(_read_results(con, unique[start:start + RESULTS_PER_QUERY]))
        return found

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


class _Held:
    """A DuckDB file's one connection while a :class:`Store` is held; each thread its own cursor on it."""

    def __init__(self, root: Connection) -> None:
        self._root = root
        self._local = threading.local()
        self._cursors: list[Connection] = []
        self._guard = threading.Lock()

    def cursor(self) -> Connection:
        cursor: Connection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._root.cursor()
            self._local.cursor = cursor
            with self._guard:
                self._cursors.append(cursor)
        return cursor

    def close(self) -> None:
        for cursor in self._cursors:
            cursor.close()
        self._root.close()


class _Lake:
    """One attached DuckLake per process and target, shared by every :class:`Store` on it; a cursor per thread."""

    _open: dict[tuple[str, str | None, str, int], _Lake] = {}
    _guard = threading.Lock()

    def __init__(self, target: StoreTarget, extension_dir: Path) -> None:
        self.migrated = False
        self._target = target
        self._guard = threading.Lock()
        self._local = threading.local()
        self._cursors: list[Connection] = []
        catalog_extension = CATALOG_EXTENSION[target.catalog or "duckdb"]
        self._names = ("ducklake",) + ((catalog_extension,) if catalog_extension else ())
        self._config = connection_config(extension_directory(extension_dir, self._names))
        if target.data_path and "://" not in target.data_path:
            Path(target.data_path).mkdir(parents=True, exist_ok=True)
        if target.catalog == "sqlite":
            _write_ahead_log(Path(target.location))
        try:
            self._root: Connection | None = self._attached()
        except duckdb.Error as exc:
            if "data_path is not set" in str(exc):
                raise StoreError(f"{target.display}: a new DuckLake store needs a data path for its Parquet files: "
                                 "--data-path DIR or MEMSCORE_DATA_PATH") from exc
            raise StoreError(f"{target.display}: {exc}") from exc

    def _attached(self) -> Connection:
        root = open_database(config=self._config)
        try:
            for name in self._names:
                root.execute(f"LOAD {name}")
            for setting, value in DUCKLAKE_SETTINGS.items():
                root.execute(f"SET {setting} = {value}")
            _attach(root, self._target)
        except BaseException:
            _close(root)
            raise
        return root

    def discard(self) -> None:
        """Close this instance's connections (a broken instance's errors surface here, never in a destructor);
        the next :meth:`cursor` opens and attaches a new one."""
        with self._guard:
            cursors, self._cursors, self._local = self._cursors, [], threading.local()
            root, self._root = self._root, None
        for cursor in cursors:
            _close(cursor)
        if root is not None:
            _close(root)

    @classmethod
    def shared(cls, target: StoreTarget, extension_dir: Path) -> _Lake:
        key = (target.text, target.data_path, str(extension_dir), os.getpid())
        with cls._guard:
            if key not in cls._open:
                cls._open[key] = cls(target, extension_dir)
            return cls._open[key]

    def cursor(self) -> Connection:
        """This thread's cursor, with the lake as its default catalog (on a new instance after :meth:`discard`)."""
        cursor: Connection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._guard:
                if self._root is None:
                    self._root = self._attached()
                cursor = self._root.cursor()
                cursor.execute("USE lake")
                self._local.cursor = cursor
                self._cursors.append(cursor)
        return cursor


def _attach(con: Connection, target: StoreTarget) -> None:
    """Attach the lake; when several processes create a new catalog at once, the ones that lose the race to
    initialise it attach again (to the catalog the winner created)."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            con.execute(target.attach_sql())
            return
        except duckdb.Error as exc:
            if "failed to initialize" not in str(exc).lower() or attempt == WRITE_ATTEMPTS:
                raise
            time.sleep(min(RETRY_WAIT_MAX, RETRY_WAIT * 2 ** attempt) * random.uniform(0.5, 1.0))


def _write_ahead_log(path: Path) -> None:
    """Put a SQLite catalog in WAL mode (kept in the file), so readers in other processes never block a commit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as catalog:
        catalog.execute("PRAGMA journal_mode=WAL")


def _in_transaction(con: Connection, work: Callable[[Connection], T], keyed: bool) -> T:
    con.begin()
    try:
        if keyed:
            _bump(con)
        result = work(con)
        con.commit()
    except BaseException:
        _rollback(con)
        raise
    return result


def _close(con: Connection) -> None:
    """Close ``con``, whatever state its instance is in (a rollback of an invalidated instance raises)."""
    with suppress(duckdb.Error):
        con.close()


def _rollback(con: Connection) -> None:
    with suppress(duckdb.Error):  # a failed commit has already ended the transaction
        con.rollback()


def _bump(con: Connection) -> None:
    con.execute(q.BUMP_KEYED_WRITES, [_now()])


def _lost_a_race(exc: StoreError) -> bool:
    """Whether the write failed only because another writer committed first (worth running again)."""
    cause = exc.__cause__
    text = str(cause).lower()
    return isinstance(cause, duckdb.TransactionException) or any(
        marker in text for marker in ("conflict", "failed to commit ducklake", "database is locked",
                                     "could not serialize access"))


def _inline_small_commits(con: Connection) -> None:
    """Set :data:`INLINING_ROW_LIMIT` on every table of a DuckLake that lacks it, table by table: DuckLake 1.5.5
    crashes (SIGSEGV) setting it for the whole catalog or schema once the schema holds a view."""
    done = {row[0].rpartition(".")[2] for row in con.execute(q.INLINING_SET, [str(INLINING_ROW_LIMIT)]).fetchall()}
    for table in [row[0] for row in con.execute(q.BASE_TABLES).fetchall()]:
        if table not in done:
            con.execute(q.SET_INLINING, [INLINING_ROW_LIMIT, table])


def _create_migrations_table(con: Connection) -> set[int]:
    """Create ``schema_migrations`` if missing; the versions applied so far."""
    con.execute(q.MIGRATIONS_TABLE)
    return _applied(con)


def _applied(con: Connection) -> set[int]:
    return {row[0] for row in con.execute(q.APPLIED_VERSIONS).fetchall()}


def _apply(con: Connection, version: int, name: str, sql: str) -> None:
    if version in _applied(con):
        return
    con.execute(sql)
    con.execute(q.RECORD_MIGRATION, [version, name, _now()])


def _check_shape(score: ConversationScore) -> None:
    columns = len(score.response_entry_indices)
    lengths = {"response_tokens": len(score.response_tokens), "response_scores": len(score.response_scores),
               "drop_all": len(score.drop_all)}
    if score.fit_r2 is not None:
        lengths["fit_r2"] = len(score.fit_r2)
    wrong = {name: n for name, n in lengths.items() if n != columns}
    rows = len(score.memory_keys)
    if (wrong or len(score.memory_entry_indices) != rows or len(score.matrix) != rows
            or any(len(row) > columns for row in score.matrix)):
        raise StoreError(f"conversation {score.conversation_id!r}: the result's shape is inconsistent "
                         f"({rows} memories, {columns} response columns, {wrong or 'matrix rows too long'})")


def _cells(score: ConversationScore) -> list[list[Any]]:
    """The scores table's per-cell arrays (key, memory_idx, entry, column, response entry, values, method)."""
    chunk_of = {entry: c for c, chunk in enumerate(score.chunks) for entry in chunk}
    columns: list[list[Any]] = [[] for _ in range(10)]
    for m, row in enumerate(score.matrix):
        signed = score.signed_matrix[m] if m < len(score.signed_matrix) else []
        screened = score.screened[m] if score.screened is not None and m < len(score.screened) else []
        for j, value in enumerate(row):
            entry = score.response_entry_indices[j]
            strategy = score.strategy
            if entry is not None and entry in chunk_of and chunk_of[entry] < len(score.chunk_strategies):
                strategy = score.chunk_strategies[chunk_of[entry]]
            seen = screened[j] if j < len(screened) else None
            method = "screened" if value is None and seen is not None else strategy
            for column, item in zip(columns, (score.memory_keys[m], m, score.memory_entry_indices[m], j, entry, value,
                                              signed[j] if j < len(signed) else None, score.response_tokens[j],
                                              method, seen), strict=True):
                column.append(item)
    return columns


def _rebuild(con: Connection, head: tuple[Any, ...]) -> StoredResult:
    key = list(head[:3])
    conversation_id = head[10]
    cells = con.execute(q.RESULT_CELLS, key).fetchall()
    responses = con.execute(q.RESULT_RESPONSES, key).fetchall()
    conversation = con.execute(q.CONVERSATION, [conversation_id, head[0]]).fetchone()
    entries = con.execute(q.ENTRIES_OF, [conversation_id, head[0]]).fetchall()
    return StoredResult.from_rows(conversation_id, head, cells, responses, conversation, entries)


def _read_results(con: Connection, keys: Sequence[ResultKey]) -> dict[ResultKey, StoredResult]:
    wanted = [q.listed([key[i] for key in keys]) for i in range(3)]
    heads = con.execute(q.RESULTS_BY_KEYS, wanted).fetchall()
    pairs = [q.listed([head[10] for head in heads]), q.listed([head[0] for head in heads])]
    return results_from_rows(heads, con.execute(q.CELLS_BY_KEYS, wanted).fetchall(),
                             con.execute(q.RESPONSES_BY_KEYS, wanted).fetchall(),
                             con.execute(q.CONVERSATIONS_BY_PAIRS, pairs).fetchall(),
                             con.execute(q.ENTRIES_BY_PAIRS, pairs).fetchall())


def _now() -> datetime:
    return datetime.now(UTC)
