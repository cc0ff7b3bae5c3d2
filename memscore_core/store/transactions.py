"""One unit of work in one transaction, and how a write that lost a race with another writer is recognised.

Writes that add or replace rows by a logical key bump ``keyed_writes`` in their transaction: DuckLake never
sees two inserts as a conflict, but it does see two commits that both rewrote that row, aborts the later one,
and the store runs it again from a fresh snapshot (docs/schema.md, "Many writers")."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import TypeVar

import duckdb

from memscore_core.errors import StoreError
from memscore_core.store import queries as q

T = TypeVar("T")
Connection = duckdb.DuckDBPyConnection

WRITE_ATTEMPTS = 20
"""How often a write that lost a DuckLake conflict is run again before it fails."""
RETRY_WAIT = 0.05
"""Seconds before the first retry; doubling, with jitter, up to :data:`RETRY_WAIT_MAX`."""
RETRY_WAIT_MAX = 2.0


def in_transaction(con: Connection, work: Callable[[Connection], T], keyed: bool) -> T:
    """``work`` in a transaction on ``con``, committed; rolled back if it raises. ``keyed`` bumps ``keyed_writes``."""
    con.begin()
    try:
        if keyed:
            bump(con)
        result = work(con)
        con.commit()
    except BaseException:
        rollback(con)
        raise
    return result


def rollback(con: Connection) -> None:
    with suppress(duckdb.Error):  # a failed commit has already ended the transaction
        con.rollback()


def bump(con: Connection) -> None:
    """Mark this transaction as a keyed write (see the module's docstring)."""
    con.execute(q.BUMP_KEYED_WRITES, [datetime.now(UTC)])


def lost_a_race(exc: StoreError) -> bool:
    """Whether the write failed only because another writer committed first (worth running again)."""
    cause = exc.__cause__
    text = str(cause).lower()
    return isinstance(cause, duckdb.TransactionException) or any(
        marker in text for marker in ("conflict", "failed to commit ducklake", "database is locked",
                                     "could not serialize access"))
