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
    state = {row.memory_key: (row.weight, row.n_scored, row.last_scored_at) for row in weights}
    changed: dict[str, tuple[float, int, datetime]] = {}
    for key, _conversation, importance, scored_at in observations:
        previous = changed.get(key) or state.get(key)
        if previous is None:
            changed[key] = (importance, 1, scored_at)
            continue
        weight, n_scored, last_scored_at = previous
        changed[key] = (asymmetric_update(weight, importance, alpha_up=alpha_up, alpha_down=alpha_down),
                        n_scored + 1, max(scored_at, last_scored_at))
    return [WeightRow(memory_key=key, weight=weight, n_scored=n_scored, last_scored_at=last_scored_at)
            for key, (weight, n_scored, last_scored_at) in sorted(changed.items())]
