"""Outages of a DuckLake's catalog are weather, not crashes.

When PostgreSQL restarts or fails over mid-run, DuckDB answers with connection errors, and sometimes
invalidates its whole instance (``FATAL ... database has been invalidated because of a previous fatal
error``, original error ``Attempted to access index 0 within vector of size 0``, an internal error of
DuckLake that a commit racing another process's ``store maintain`` raises too). Any later use of an
invalidated instance fails, and destroying a connection of it that still has a transaction open throws
from a C++ destructor, which aborts the process (``terminate called after throwing an instance of
'duckdb::Exception'``, exit 134). So a lake's instance is never invalidated
(:data:`memscore_core.store.lake.INSTANCE_SETTINGS`): after an internal error the store rolls back and closes
every connection of it itself (where a throw is an ordinary Python exception), opens a new instance, and
waits with backoff for the catalog to answer, for at most ``MEMSCORE_STORE_OUTAGE_SECONDS``; after that it
stops with :class:`StoreUnavailableError`. Another process's ``store maintain`` can also leave an attached
instance naming an inlined-data table it dropped; a new instance sees the catalog as it is.
"""

from __future__ import annotations

import duckdb

from memscore_core.errors import StoreError

AWAY = ("unable to connect to postgres", "server closed the connection", "connection refused", "could not connect",
        "no connection to the server", "terminating connection", "has been invalidated",
        "failed to execute query \"rollback\"", "failed to describe prepared statement",
        "current transaction is aborted", "attempting to fetch from an unsuccessful query result",
        "the database system is starting up", "the database system is shutting down",
        "the database system is in recovery mode", "connection to server")
"""What DuckDB says (lowercased) when the catalog cannot be reached or the instance cannot be used any more."""
STALE = ("ducklake_inlined_data", "does not exist")
"""Both in one message: the instance names an inlined-data table another process has flushed and dropped."""
FIRST_WAIT = 0.2
MAX_WAIT = 5.0


class StoreUnavailableError(StoreError):
    """The store stayed unreachable for longer than the run may wait (``MEMSCORE_STORE_OUTAGE_SECONDS``)."""


def store_away(exc: BaseException) -> bool:
    """Whether ``exc`` (a :class:`StoreError` from DuckDB, or DuckDB's own error) means the catalog is away or the
    DuckDB instance is unusable or hit an internal error: worth a new instance and another try once the catalog
    answers."""
    cause = exc.__cause__ if isinstance(exc, StoreError) and exc.__cause__ is not None else exc
    if isinstance(cause, duckdb.FatalException | duckdb.InternalException):
        return True
    text = str(cause).lower()
    return any(marker in text for marker in AWAY) or all(marker in text for marker in STALE)


def backoff(attempt: int) -> float:
    """Seconds before try ``attempt`` (1-based) while the store is away: 0.2 s doubling to 5 s."""
    return float(min(MAX_WAIT, FIRST_WAIT * 2 ** (attempt - 1)))
