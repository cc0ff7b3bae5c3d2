"""Store upkeep: what ``memscore store stats`` reports and what ``memscore store maintain`` tidies.

A **DuckLake** makes a snapshot per commit and Parquet files per table and commit: 400 conversations
scored a few at a time left 753 files. The scoring writer therefore commits results in batches
(:mod:`memscore_core.scoring.writer`), and maintenance (the steps of DuckLake's own ``CHECKPOINT``, with a
retention of our choosing), table by table, flushes rows inlined in the catalog into files, rewrites files
with deleted rows (a rescored result; any deleted row, so no file keeps a delete file), merges adjacent
files, then expires snapshots older than the retention and deletes the files nothing references any more
(expiring last, so the files one pass replaced go in the same pass). Each step is DuckLake's own and
commits like any writer, so it runs while others write: a step that loses a race with a writer is run
again (:meth:`Store.write`), and the writer's own retry covers the other side. Only ``keyed_writes`` keeps
its rows inlined (:data:`memscore_core.store.lake.INLINING_ROW_LIMIT` says why the others do not).

While writers write, nothing is flushed and ``keyed_writes`` is left alone. It is the single row every keyed
commit rewrites (docs/schema.md, "Many writers"), so flushing it collides with every such commit, in DuckLake
("another transaction has flushed the inlined data") and in PostgreSQL's rows ("could not serialize
access"): measured, three writers took 10x longer with maintenance running. And a flush drops the emptied
inlined-data table after publishing its snapshot, so a reader in between fails with DuckLake's internal
error (``Attempted to access index 0 within vector of size 0``, duckdb/ducklake#1413); while writers write,
only ``keyed_writes`` (and rows a new store's migrations wrote) are inlined anyway. Whether writers are at
work is read from that row's own ``last_write_at``: a keyed commit within :data:`QUIET` means they are. Then
the files a pass replaced are deleted by a later pass, once they were replaced at least :data:`QUIET` before
(a writer's transaction that began before the replacement still reads them: deleting them at once, with a
retention of 0, failed a writer with "Cannot open file"), and no snapshot younger than :data:`QUIET` is expired,
whatever the retention: a writer's commit finds its conflicts in the snapshots made since its transaction
began, and once those are expired a rescore's delete from a file that a pass had merged commits without
conflict and the old rows stay (duckdb/ducklake#1472; seen as 1,323 results for 1,200 conversations).
A **DuckDB file** is checkpointed (its write-ahead log folded in) under the store's lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from memscore_core.errors import StoreError
from memscore_core.store import queries as q
from memscore_core.store.outages import store_away
from memscore_core.store.store import Store

STEP_ATTEMPTS = 5
QUIET = timedelta(minutes=1)
"""How long since the last keyed commit before ``keyed_writes`` is tidied too (writers commit every second or so)."""
MARKER = "keyed_writes"
LAST_KEYED_WRITE = "SELECT max(last_write_at) FROM keyed_writes"
KEYED_COMMITS = "SELECT sum(writes) FROM keyed_writes"
TABLE_FILES = """
SELECT table_name, file_count, file_size_bytes + delete_file_size_bytes FROM ducklake_table_info('lake')
"""
SNAPSHOTS = "SELECT count(*) FROM ducklake_snapshots('lake')"
FRAGMENTED = "SELECT table_name FROM ducklake_table_info('lake') WHERE file_count > 1 OR delete_file_count > 0"
BASE_TABLES = q.BASE_TABLES
FLUSH = "CALL ducklake_flush_inlined_data('lake', table_name => ?)"
MERGE = "CALL ducklake_merge_adjacent_files('lake', ?)"
REWRITE = "CALL ducklake_rewrite_data_files('lake', ?, delete_threshold => 0)"
EXPIRE = "CALL ducklake_expire_snapshots('lake', older_than => ?)"
CLEANUP = "CALL ducklake_cleanup_old_files('lake', cleanup_all => true)"
CLEANUP_BEFORE = "CALL ducklake_cleanup_old_files('lake', older_than => ?)"
CHECKPOINT = "CHECKPOINT"
FILE_BLOCKS = "SELECT count(DISTINCT block_id) FROM pragma_storage_info(?) WHERE persistent"
BLOCK_SIZE = "SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()"


class TableStats(BaseModel):
    """One table: its rows, data files (a DuckDB file: 0) and bytes on disk (a DuckDB file: its blocks)."""

    table: str
    rows: int
    files: int
    bytes: int


class StoreStats(BaseModel):
    """Every table's figures; ``snapshots`` is None for a DuckDB file, ``bytes`` the file or all data files."""

    store: str
    kind: Literal["duckdb", "ducklake"]
    snapshots: int | None
    files: int
    bytes: int
    tables: list[TableStats]


class MaintainReport(BaseModel):
    """What ``maintain`` did, with the store's figures before and after; ``left_alone``: the tables it did not tidy
    because writers were at work (``keyed_writes``; nothing is flushed then, see the module's docstring)."""

    steps: list[str]
    left_alone: list[str] = []
    seconds: float
    before: StoreStats
    after: StoreStats


def store_stats(store: Store) -> StoreStats:
    """Rows, files and bytes per table (and snapshots, on a DuckLake). Read again on a new instance if this
    process's instance predates another's maintenance (it may name an inlined-data table that is gone)."""
    try:
        return _stats(store)
    except StoreError as exc:
        if not store_away(exc):
            raise
        return _stats(store)


def _stats(store: Store) -> StoreStats:
    lake = store.target.is_lake
    with store.connect() as con:
        tables = [row[0] for row in con.execute(BASE_TABLES).fetchall()]
        rows = {table: _count(con, table) for table in tables}
        if lake:
            files = {row[0]: (int(row[1]), int(row[2])) for row in con.execute(TABLE_FILES).fetchall()}
            snapshots: int | None = int(con.execute(SNAPSHOTS).fetchall()[0][0])
        else:
            block = int(con.execute(BLOCK_SIZE).fetchall()[0][0])
            files = {table: (0, block * int(con.execute(FILE_BLOCKS, [table]).fetchall()[0][0])) for table in tables}
            snapshots = None
    stats = [TableStats(table=t, rows=rows[t], files=files.get(t, (0, 0))[0], bytes=files.get(t, (0, 0))[1])
             for t in tables]
    size = sum(s.bytes for s in stats) if lake or store.path is None else store.path.stat().st_size
    return StoreStats(store=store.name, kind="ducklake" if lake else "duckdb", snapshots=snapshots,
                      files=sum(s.files for s in stats), bytes=size, tables=stats)


def maintain(store: Store, *, retention: timedelta = timedelta(hours=24), quiet: timedelta = QUIET) -> MaintainReport:
    """Tidy ``store`` (see the module's docstring): on a DuckLake, snapshots older than ``retention`` are expired
    and the files only they used deleted; safe while other processes write (unless no keyed commit came within
    ``quiet``, nothing is flushed and ``keyed_writes`` is left alone)."""
    started = time.monotonic()
    before = store_stats(store)
    left_alone: list[str] = []
    if store.target.is_lake:
        writing = _writing(store, quiet)
        cutoff = datetime.now(UTC) - (max(retention, quiet) if writing else retention)
        left_alone = [MARKER] if writing else []
        tables = [t.table for t in before.tables if t.table not in left_alone]
        done = [] if writing else ["flush inlined data"]
        if not writing:
            for table in tables:
                _step(store, FLUSH, [table])
        for table in _fragmented(store, tables):
            for sql in (REWRITE, MERGE):
                _step(store, sql, [table])
        _step(store, EXPIRE, [cutoff])
        if writing:
            _step(store, CLEANUP_BEFORE, [datetime.now(UTC) - quiet])
        else:
            _step(store, CLEANUP, [])
        done += ["rewrite files with deletions", "merge adjacent files", "expire snapshots", "clean up old files"]
    else:
        with store.connect() as con:
            con.execute(CHECKPOINT)
        done = ["checkpoint"]
    return MaintainReport(steps=done, left_alone=left_alone, seconds=time.monotonic() - started, before=before,
                          after=store_stats(store))


def _writing(store: Store, quiet: timedelta) -> bool:
    """Whether a keyed commit came within ``quiet`` (writers are at work)."""
    with store.connect() as con:
        last = con.execute(LAST_KEYED_WRITE).fetchall()[0][0]
    return last is not None and datetime.now(UTC) - last < quiet


def keyed_commits(store: Store) -> int:
    """How many keyed commits the store has taken (each rewrote ``keyed_writes``; docs/schema.md "Many writers")."""
    return int(store.read(lambda con: con.execute(KEYED_COMMITS).fetchall()[0][0]) or 0)


def _fragmented(store: Store, tables: list[str]) -> list[str]:
    """Those of ``tables`` with more than one data file or with deleted rows: worth compacting."""
    with store.connect() as con:
        return [row[0] for row in con.execute(FRAGMENTED).fetchall() if row[0] in tables]


def _step(store: Store, sql: str, parameters: list[Any]) -> None:
    _retried(partial(store.write, partial(_call, sql=sql, parameters=parameters), keyed=False))


def _retried(step: Callable[[], object]) -> None:
    """A maintenance step run again (up to :data:`STEP_ATTEMPTS` times) when it fails while writers commit: beyond
    the conflicts :meth:`Store.write` retries, DuckLake's flush and cleanup fail on other writers' catalog
    updates with errors it does not name as conflicts (PostgreSQL's "could not serialize access", a failed
    fetch)."""
    for attempt in Retrying(stop=stop_after_attempt(STEP_ATTEMPTS), wait=wait_exponential(multiplier=0.2, max=5),
                            retry=retry_if_exception_type(StoreError), reraise=True):
        with attempt:
            step()


def _call(con: Any, sql: str, parameters: list[Any]) -> None:
    con.execute(sql, parameters).fetchall()


def _count(con: Any, table: str) -> int:
    return int(con.execute(q.count_rows(table)).fetchall()[0][0])
