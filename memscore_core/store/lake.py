"""The connections a store reads and writes through: a DuckDB file's one connection while it is held, and a
DuckLake attached once per process and target (attaching costs ~0.5 s; a query ~10 ms), a cursor per thread."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from contextlib import closing, suppress
from pathlib import Path

import duckdb

from memscore_core.errors import StoreError
from memscore_core.store import queries as q
from memscore_core.store.connections import open_database
from memscore_core.store.extensions import connection_config, extension_directory
from memscore_core.store.targets import StoreTarget
from memscore_core.store.transactions import RETRY_WAIT, RETRY_WAIT_MAX, WRITE_ATTEMPTS

Connection = duckdb.DuckDBPyConnection
DUCKLAKE_SETTINGS = {"ducklake_max_retry_count": 30, "ducklake_retry_wait_ms": 20, "ducklake_retry_backoff": 1.3}
"""DuckLake's own retries of commits that do not conflict but lost the race for the next snapshot id."""
INSTANCE_SETTINGS = {"disable_database_invalidation": True}
"""An internal error of DuckLake 1.5.5 (``Attempted to access index 0 within vector of size 0``, seen when a
commit races ``store maintain`` or a catalog restart) would otherwise invalidate the whole instance, and
closing a connection of an invalidated instance whose transaction is open throws from a C++ destructor: the
process aborts (exit 134). Kept valid, the statement fails like any other; the store rolls back, closes the
instance and attaches a new one (:func:`memscore_core.store.outages.store_away`), never using it again."""
INLINED_TABLE = "keyed_writes"
INLINING_ROW_LIMIT = 10
"""Rows a commit may add to ``keyed_writes`` (the one row every keyed commit rewrites, docs/schema.md "Many
writers") in the catalog instead of a Parquet file. Every other table is written to Parquet files (limit 0),
which ``memscore store maintain`` merges: DuckLake 1.5.5 stores a small delete from a Parquet file in the
catalog too when the table inlines, and does not count such a delete as a conflict with a concurrent
``merge_adjacent_files`` or ``rewrite_data_files`` (it checks them against delete files only), so a result
rescored while maintenance compacted its table came back twice (seen: 2 of 3 runs of
tests/store/test_upkeep.py with maintenance running). A delete file does conflict, and the store runs the
losing side again."""
CATALOG_EXTENSION = {"postgres": "postgres_scanner", "sqlite": "sqlite_scanner", "duckdb": None}


class Held:
    """A DuckDB file's one connection while a store is held; each thread its own cursor on it."""

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


class Lake:
    """One attached DuckLake per process and target, shared by every store on it; a cursor per thread."""

    _open: dict[tuple[str, str | None, str, int], Lake] = {}
    _shared_guard = threading.Lock()

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
        root = open_database(config={**self._config, **INSTANCE_SETTINGS})
        try:
            for name in self._names:
                root.execute(f"LOAD {name}")
            for setting, value in DUCKLAKE_SETTINGS.items():
                root.execute(f"SET {setting} = {value}")
            _attach(root, self._target)
        except BaseException:
            close_quietly(root)
            raise
        return root

    def discard(self) -> None:
        """Close this instance's connections (a broken instance's errors surface here, never in a destructor);
        the next :meth:`cursor` opens and attaches a new one."""
        with self._guard:
            cursors, self._cursors, self._local = self._cursors, [], threading.local()
            root, self._root = self._root, None
        for cursor in cursors:
            close_quietly(cursor)
        if root is not None:
            close_quietly(root)

    @classmethod
    def shared(cls, target: StoreTarget, extension_dir: Path) -> Lake:
        key = (target.text, target.data_path, str(extension_dir), os.getpid())
        with cls._shared_guard:
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


def configure_inlining(con: Connection) -> None:
    """Set each table's inlining (:data:`INLINING_ROW_LIMIT` for :data:`INLINED_TABLE`, 0 for the rest) where it
    differs, table by table: DuckLake 1.5.5 crashes (SIGSEGV) setting it for the whole catalog or schema once
    the schema holds a view."""
    current = {row[0].rpartition(".")[2]: row[1] for row in con.execute(q.INLINING_SET).fetchall()}
    for table in [row[0] for row in con.execute(q.BASE_TABLES).fetchall()]:
        wanted = INLINING_ROW_LIMIT if table == INLINED_TABLE else 0
        if current.get(table) != str(wanted):
            con.execute(q.SET_INLINING, [wanted, table])


def close_quietly(con: Connection) -> None:
    """Roll back ``con``'s open transaction, if any, and close it, whatever state its instance is in (a rollback of
    a broken instance raises); rolled back first, closing never has a transaction left to end."""
    with suppress(duckdb.Error):
        con.rollback()
    with suppress(duckdb.Error):
        con.close()


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
