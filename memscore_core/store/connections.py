"""Every DuckDB database the store opens goes through :func:`open_database`, which counts them.

Opening a DuckDB file (lock, WAL replay, checkpoint on close) or attaching a DuckLake (~0.5 s) costs far more
than a query, so a command must open a constant number of them whatever the number of conversations it
reads; :func:`opened` lets tests and benchmarks check that on the real database, without mocking it.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb

Connection = duckdb.DuckDBPyConnection
_count = 0
_guard = threading.Lock()


def open_database(database: str = ":memory:", config: dict[str, Any] | None = None) -> Connection:
    """``duckdb.connect(database, config=config)``, counted, without DuckDB's progress bar (drawn on stdout from C++
    for a query over 2 s, it would break ``--json`` output)."""
    global _count
    con = duckdb.connect(database, config=config or {})
    con.execute("SET enable_progress_bar = false")
    with _guard:
        _count += 1
    return con


def opened() -> int:
    """How many databases this process has opened through :func:`open_database` so far."""
    return _count
