"""Schema migrations: a new store applies the squashed baseline and the migrations after it; an existing store
applies, in order, each shipped migration it has not applied (each in a transaction of its own)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from importlib import resources
from typing import TYPE_CHECKING, Any

import duckdb

from memscore_core.store import queries as q

if TYPE_CHECKING:
    from memscore_core.store.store import Store

Connection = duckdb.DuckDBPyConnection


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


def migrate(store: Store) -> None:
    """Bring ``store`` to the latest schema."""
    version, sql = baseline()
    shipped = migrations()

    def start(con: Connection) -> None:
        if applied_versions(con):
            return
        con.execute(sql)
        for number, name, _ in shipped:
            if number <= version:
                con.execute(q.RECORD_MIGRATION, [number, name, _now()])

    applied = store.write(_create_migrations_table, keyed=False)
    if not applied:
        store.write(start, keyed=False)
        applied = set(range(1, version + 1))
    for number, name, step in shipped:
        if number not in applied:
            store.write(partial(_apply, version=number, name=name, sql=step), keyed=False)


def applied_versions(con: Connection) -> set[int]:
    """The migrations applied to the store ``con`` reads."""
    return {row[0] for row in con.execute(q.APPLIED_VERSIONS).fetchall()}


def _migration_files() -> list[Any]:
    folder = resources.files("memscore_core.store") / "migrations"
    return [item for item in folder.iterdir() if item.name.endswith(".sql")]


def _create_migrations_table(con: Connection) -> set[int]:
    """Create ``schema_migrations`` if missing; the versions applied so far."""
    con.execute(q.MIGRATIONS_TABLE)
    return applied_versions(con)


def _apply(con: Connection, version: int, name: str, sql: str) -> None:
    if version in applied_versions(con):
        return
    con.execute(sql)
    con.execute(q.RECORD_MIGRATION, [version, name, _now()])


def _now() -> datetime:
    return datetime.now(UTC)
