"""Update the memory graph's weights from the store and write them where a graph store reads them."""

from __future__ import annotations

from pathlib import Path

import orjson

from memscore_core.downstream.weights import ALPHA_DOWN, ALPHA_UP, fold_observations
from memscore_core.store import Store
from memscore_core.store.downstream import WeightRow, memory_observations, memory_weights, save_memory_weights


def update_memory_weights(store: Store, out: Path | None, *, alpha_up: float = ALPHA_UP,
                          alpha_down: float = ALPHA_DOWN) -> list[WeightRow]:
    """Fold every not-yet-seen importance into ``memory_weights``; returns (and writes) all weights."""
    changed = fold_observations(memory_weights(store), memory_observations(store), alpha_up=alpha_up,
                                alpha_down=alpha_down)
    save_memory_weights(store, changed)
    rows = memory_weights(store)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"alpha_up": alpha_up, "alpha_down": alpha_down,
                   "weights": {row.memory_key: {"weight": row.weight, "n_scored": row.n_scored,
                                                "last_scored_at": row.last_scored_at.isoformat()} for row in rows}}
        out.write_bytes(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n")
    return rows
