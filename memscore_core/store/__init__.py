"""memscore's DuckDB store: schema migrations, writes keyed by result identity, and the queries users run."""

from memscore_core.store.records import MemoryImportance, StoredResult, StoredRun
from memscore_core.store.store import Store, migrations

__all__ = ["MemoryImportance", "Store", "StoredResult", "StoredRun", "migrations"]
