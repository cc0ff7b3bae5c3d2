"""``update-memory-weights``: fold the latest importances into the memory graph's weights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from memscore_core.downstream.memory_graph import update_memory_weights as update
from memscore_core.downstream.weights import ALPHA_DOWN, ALPHA_UP
from memscore_core.store import Store
from memscore_core.store.downstream import stale_memories


@task(name="fold-importance", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def fold_importance(db: str, out: str, alpha_up: float, alpha_down: float) -> int:
    """Apply every importance not yet seen; write the weights file. Returns the number of weights."""
    return len(update(Store(db), Path(out), alpha_up=alpha_up, alpha_down=alpha_down))


@task(name="list-stale", cache_policy=NO_CACHE)
def list_stale(db: str, stale_hours: float) -> list[dict[str, Any]]:
    """Memories not scored for ``stale_hours``, oldest first: what the scheduler should rescore."""
    cutoff = datetime.now(UTC) - timedelta(hours=stale_hours)
    return [row.model_dump(mode="json") for row in stale_memories(Store(db), scored_before=cutoff)]


@flow(name="update-memory-weights")
def update_memory_weights(db: str = "data/memscore.duckdb", out: str = "data/exports/memory_weights.json",
                          alpha_up: float = ALPHA_UP, alpha_down: float = ALPHA_DOWN,
                          stale_hours: float | None = None) -> dict[str, Any]:
    """Asymmetric moving average of memory importance (fast up, slow down) into ``memory_weights``."""
    count = fold_importance(db, out, alpha_up, alpha_down)
    stale = list_stale(db, stale_hours) if stale_hours is not None else []
    if stale:
        create_table_artifact(stale, key="stale-memories", description="Memories to rescore, oldest first")
    return {"weights": count, "out": out, "stale": stale}
