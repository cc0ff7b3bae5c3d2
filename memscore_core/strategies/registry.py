"""Every strategy by name: what it reads of a configuration and how it scores a conversation.

Adding a strategy is one module that builds a :class:`StrategySpec` and one line in :data:`STRATEGIES`.
Code outside this package asks the spec (``spec(name).sequential``, ``.score``, ``.estimate``, ``.hashed``)
and never compares strategy names.
"""

from __future__ import annotations

from memscore_core.strategies import auto, exact, seed
from memscore_core.strategies.chunked import chunkwise
from memscore_core.strategies.spec import TUNING, StrategySpec

STRATEGIES: dict[str, StrategySpec] = {strategy.name: strategy for strategy in (
    exact.EXACT,
    seed.SEED,
    chunkwise("hierarchical", reads=("noise_floor", "floor_quantile")),
    chunkwise("surrogate", reads=("masks",)),
    chunkwise("auto", reads=TUNING, hashed=auto.thresholds),
)}


def spec(name: str) -> StrategySpec:
    """The strategy called ``name``; a :class:`KeyError` naming the known ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}: choose {', '.join(STRATEGIES)}") from None
