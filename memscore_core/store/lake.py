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
INLINING_ROW_LIMIT = 2000
"""Rows a commit may add to one DuckLake table in its catalog instead of a Parquet file: more than one scoring
result's cells at realistic sizes (20 memories × 30 responses = 600), fewer than a big batch's. Measured: 30
results of 100 cells in 10 commits made 60 files with DuckLake's default (10 rows), none with this; the
rows stay in the catalog until ``memscore store maintain`` flushes them into one file per table."""
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
        root = open_database(config=self._config)
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


def inline_small_commits(con: Connection) -> None:
    """Set :data:`INLINING_ROW_LIMIT` on every table of a DuckLake that lacks it, table by table: DuckLake 1.5.5
    crashes (SIGSEGV) setting it for the whole catalog or schema once the schema holds a view."""
    done = {row[0].rpartition(".")[2] for row in con.execute(q.INLINING_SET, [str(INLINING_ROW_LIMIT)]).fetchall()}
    for table in [row[0] for row in con.execute(q.BASE_TABLES).fetchall()]:
        if table not in done:
            con.execute(q.SET_INLINING, [INLINING_ROW_LIMIT, table])


def close_quietly(con: Connection) -> None:
    """Close ``con``, whatever state its instance is in (a rollback of an invalidated instance raises)."""
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
