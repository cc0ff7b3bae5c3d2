"""Memory-graph weights: an asymmetric moving average of each memory's importance.

A weight rises quickly when a memory proves important (``alpha_up``) and decays slowly when it does
not (``alpha_down``), as in the original agent (0.5 and 0.1). A memory's first observation becomes
its weight.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from memscore_core.store.downstream import WeightRow

ALPHA_UP = 0.5
ALPHA_DOWN = 0.1


def asymmetric_update(current: float | None, observation: float, *, alpha_up: float = ALPHA_UP,
                      alpha_down: float = ALPHA_DOWN) -> float:
    """``current`` moved towards ``observation`` by ``alpha_up`` when rising, ``alpha_down`` when falling.

    >>> asymmetric_update(1.0, 3.0), asymmetric_update(1.0, 0.0), asymmetric_update(None, 2.0)
    (2.0, 0.9, 2.0)
    """
    if current is None:
        return observation
    alpha = alpha_up if observation > current else alpha_down
    return current + alpha * (observation - current)


def fold_observations(weights: Iterable[WeightRow], observations: Iterable[tuple[str, str, float, datetime]], *,
                      alpha_up: float = ALPHA_UP, alpha_down: float = ALPHA_DOWN) -> list[WeightRow]:
    """Apply ``(key, conversation, importance, scored_at)`` observations in order; returns the changed rows."""
    state = {row.memory_key: row for row in weights}
    changed: dict[str, WeightRow] = {}
    for key, _conversation, importance, scored_at in observations:
        previous = changed.get(key) or state.get(key)
        weight = asymmetric_update(previous.weight if previous else None, importance, alpha_up=alpha_up,
                                   alpha_down=alpha_down)
        changed[key] = WeightRow(memory_key=key, weight=weight, n_scored=(previous.n_scored if previous else 0) + 1,
                                 last_scored_at=max(scored_at, previous.last_scored_at) if previous else scored_at)
    return sorted(changed.values(), key=lambda row: row.memory_key)
