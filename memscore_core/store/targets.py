"""Where a store lives: a DuckDB file, or a DuckLake catalog (PostgreSQL, SQLite or DuckDB) plus a data path.

``--db`` / ``MEMSCORE_DB`` / a flow's ``db`` is one string: a DuckDB file path, or
``ducklake:postgres:<libpq conninfo>``, ``ducklake:sqlite:PATH``, ``ducklake:duckdb:PATH`` (``ducklake:PATH``).
The DuckLake data path (where its Parquet files go) is ``--data-path`` / ``MEMSCORE_DATA_PATH``; a file
catalog defaults to ``<catalog>.files/`` beside it, and a PostgreSQL catalog remembers the path it was
created with, so only its first user must name one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from memscore_core.errors import StoreError

Catalog = Literal["postgres", "sqlite", "duckdb"]
PREFIX = "ducklake:"
_CATALOG = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):")
_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]*@")
_REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class StoreTarget:
    """A parsed ``--db``: ``catalog`` is ``None`` for a DuckDB file at ``location``."""

    text: str
    location: str
    catalog: Catalog | None = None
    data_path: str | None = None

    @property
    def is_lake(self) -> bool:
        return self.catalog is not None

    @property
    def display(self) -> str:
        """The target as messages show it: passwords in a connection string are masked."""
        return redact(self.text)

    def attach_sql(self) -> str:
        """``ATTACH`` for this DuckLake, as the catalog ``lake`` (the data path, when known, as an option)."""
        source = f"{PREFIX}{self.catalog}:{self.location}"
        options = f" (DATA_PATH {_literal(self.data_path)})" if self.data_path else ""
        return f"ATTACH {_literal(source)} AS lake{options}"


def parse_target(text: str, data_path: str | None = None) -> StoreTarget:
    """Read a ``--db`` value; ``data_path`` applies to a DuckLake only (a DuckDB file keeps its own data)."""
    if not text.startswith(PREFIX):
        return StoreTarget(text=text, location=text)
    rest = text.removeprefix(PREFIX)
    catalog: Catalog = "duckdb"
    match = _CATALOG.match(rest)
    if match:
        name = match.group(1).lower()
        if name not in ("postgres", "sqlite", "duckdb"):
            raise StoreError(f"{redact(text)}: unknown DuckLake catalog {name!r} (postgres, sqlite or duckdb)")
        catalog = name  # type: ignore[assignment]
        rest = rest[match.end():]
    if not rest.strip():
        raise StoreError(f"{redact(text)}: the DuckLake catalog is missing after {PREFIX}{catalog}:")
    if catalog != "postgres":
        rest = str(Path(rest).expanduser().resolve())
        data_path = data_path or f"{rest}.files"
    return StoreTarget(text=text, location=rest, catalog=catalog, data_path=_local_dir(data_path))


def redact(text: str) -> str:
    """``text`` with any libpq ``password=`` value or URI password replaced by ``***``."""
    return _URI_PASSWORD.sub(r"\1***@", _PASSWORD.sub(r"\1***", text))


def _local_dir(data_path: str | None) -> str | None:
    """A local data path made absolute with a trailing slash (every process must mean the same folder);
    a URL (``s3://…``) is kept as given."""
    if data_path is None or _REMOTE.match(data_path):
        return data_path
    return str(Path(data_path).expanduser().resolve()) + "/"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
