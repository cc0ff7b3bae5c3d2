"""``maintain-store``: tidy the store on a schedule (``memscore store maintain`` as a flow)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from memscore_core.store import Store
from memscore_core.store.upkeep import maintain


@task(name="maintain", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
def maintain_task(db: str, retention_hours: float) -> dict[str, Any]:
    """One maintenance pass; its report (steps, seconds, figures before and after)."""
    return maintain(Store(db), retention=timedelta(hours=retention_hours)).model_dump(mode="json")


@flow(name="maintain-store")
def maintain_store(db: str = "data/memscore.duckdb", retention_hours: float = 24.0) -> dict[str, Any]:
    """Flush, merge and expire a DuckLake's small commits (checkpoint a DuckDB file) while scorers write."""
    report = maintain_task(db, retention_hours)
    after = {table["table"]: table for table in report["after"]["tables"]}
    create_table_artifact([{"table": name, "files before": before["files"], "files after": after[name]["files"],
                            "rows": after[name]["rows"], "bytes after": after[name]["bytes"]}
                           for name, before in ((t["table"], t) for t in report["before"]["tables"])
                           if name in after], key="store-upkeep", description="Files per table before and after")
    return report
