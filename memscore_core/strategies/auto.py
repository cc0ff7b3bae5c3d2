"""``auto``: per chunk, the cheapest strategy that keeps exact's answers, by the chunk's number of memories.

The thresholds are measured (docs/strategies.md, `memscore bench many-memories`): up to :data:`EXACT_MAX`
memories a chunk is scored exactly (screening's fixed costs, the filler request and the groups near the
root, are not yet repaid); from :data:`SURROGATE_MIN` on, by the surrogate; hierarchical in between.
"""

from __future__ import annotations

from typing import Literal

ChunkStrategy = Literal["exact", "hierarchical", "surrogate"]

EXACT_MAX = 16
SURROGATE_MIN: int | None = None
"""None: never the surrogate. It is cheaper than screening from about 190 memories a chunk, but none of its
cells is exact, so its memories would get no weight (docs/strategies.md, "auto")."""


def chunk_strategy(memories: int) -> ChunkStrategy:
    """The strategy ``auto`` scores a chunk holding ``memories`` memories with."""
    if memories <= EXACT_MAX:
        return "exact"
    if SURROGATE_MIN is not None and memories >= SURROGATE_MIN:
        return "surrogate"
    return "hierarchical"


def thresholds() -> dict[str, int | None]:
    """The thresholds, as they enter a configuration's hash (a change rescores ``auto`` results)."""
    return {"auto_exact_max": EXACT_MAX, "auto_surrogate_min": SURROGATE_MIN}
