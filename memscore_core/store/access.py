"""How a store is reached: a DuckDB file opened under an inter-process file lock per call (or once while held), or a
DuckLake attached once per process; every write in a transaction, run again when it lost a DuckLake conflict, and
waited out while the catalog is away (:mod:`memscore_core.store.outages`)."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Self, TypeVar

import duckdb
from filelock import FileLock, Timeout

from memscore_core.errors import StoreError
from memscore_core.settings import Settings
from memscore_core.store.connections import open_database
from memscore_core.store.lake import Held, Lake
from memscore_core.store.outages import StoreUnavailableError, backoff, store_away
from memscore_core.store.targets import StoreTarget, parse_target
from memscore_core.store.transactions import (
    RETRY_WAIT,
    RETRY_WAIT_MAX,
    WRITE_ATTEMPTS,
    bump,
    in_transaction,
    lost_a_race,
)

T = TypeVar("T")
Connection = duckdb.DuckDBPyConnection


class StoreAccess:
    """Connections and transactions of the store at ``target`` (see :mod:`memscore_core.store.targets`);
    ``data_path`` (a DuckLake's Parquet files) defaults to ``MEMSCORE_DATA_PATH``."""

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
        self._joined = threading.local()
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

    def __enter__(self) -> Self:
        """``with store:`` holds one connection for the whole block (see :meth:`held`)."""
        stack = contextlib.ExitStack()
        stack.enter_context(self.held())
        self._holds.append(stack)
        return self

    def __exit__(self, *_: object) -> None:
        self._holds.pop().close()

    @contextmanager
    def held(self) -> Iterator[Self]:
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

    def read(self, work: Callable[[Connection], T]) -> T:
        """``work``'s reads on one connection; on a DuckLake whose catalog is away, run again on a new instance
        once it answers (for at most :attr:`outage_seconds`, then :class:`StoreUnavailableError`)."""
        def once() -> T:
            with self.connect() as con:
                return work(con)

        return self._outlasting(once)

    def write(self, work: Callable[[Connection], T], *, keyed: bool = True, attempts: int = WRITE_ATTEMPTS) -> T:
        """Run ``work`` in one transaction and commit it; ``keyed`` work (adds or replaces rows by a logical
        key) also bumps ``keyed_writes``. Writes made inside ``work`` (from its thread) join its transaction. A
        commit that loses a DuckLake conflict is rolled back and ``work`` runs again from a fresh snapshot, up to
        ``attempts`` times in all with backoff; while the catalog is away, ``work`` waits for it (:meth:`read`)."""
        joined = getattr(self._joined, "connection", None)
        if joined is not None:
            if keyed and not self._joined.bumped:
                bump(joined)
                self._joined.bumped = True
            try:
                return work(joined)
            except duckdb.Error as exc:
                raise StoreError(f"{self.name}: {exc}") from exc

        def once() -> T:
            with self._writing(), self.connect() as con:
                return in_transaction(con, partial(self._joining, work, keyed=keyed), keyed)

        attempt = 0
        while True:
            try:
                return self._outlasting(once)
            except StoreError as exc:
                attempt += 1
                if not lost_a_race(exc) or attempt >= attempts:
                    if lost_a_race(exc):
                        raise StoreError(f"{self.name}: a write kept conflicting with other writers; gave up after "
                                         f"{attempts} attempts ({exc.__cause__})") from exc
                    raise
                time.sleep(min(RETRY_WAIT_MAX, RETRY_WAIT * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))

    def _joining(self, work: Callable[[Connection], T], con: Connection, *, keyed: bool) -> T:
        """``work(con)``, with this thread's other writes joining ``con``'s transaction meanwhile."""
        self._joined.connection, self._joined.bumped = con, keyed
        try:
            return work(con)
        finally:
            self._joined.connection = None

    def _outlasting(self, call: Callable[[], T]) -> T:
        """``call()``, called again on a new DuckLake instance while the catalog is away (see :meth:`read`)."""
        away, since = 0, 0.0
        while True:
            try:
                return call()
            except StoreUnavailableError:
                raise
            except StoreError as exc:
                if self._lake is None or not store_away(exc):
                    raise
                away += 1
                since = since or time.monotonic()
                self._wait_for_store(exc, away, since)

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
