"""Every strategy by name: what it reads of a configuration and how it scores a conversation.

Adding a strategy is one module that builds a :class:`StrategySpec` and one line in :data:`STRATEGIES`.
Code outside this package asks the spec (``spec(name).sequential``, ``.score``, ``.estimate``, ``.hashed``)
and never compares strategy names.
"""

from __future__ import annotations

from typing import Any

from memscore_core.strategies import auto, exact, hierarchical, seed
from memscore_core.strategies.chunked import chunkwise
from memscore_core.strategies.spec import TUNING, StrategySpec


def _auto_hashed(ablation: str) -> dict[str, Any]:
    """``auto``'s thresholds and the screen of its hierarchical chunks under ``ablation``."""
    return auto.thresholds() | hierarchical.constants(ablation)


STRATEGIES: dict[str, StrategySpec] = {strategy.name: strategy for strategy in (
    exact.EXACT,
    seed.SEED,
    chunkwise("hierarchical", reads=("noise_floor", "floor_quantile"), hashed=hierarchical.constants),
    chunkwise("surrogate", reads=("masks",)),
    chunkwise("auto", reads=TUNING, hashed=_auto_hashed),
)}


def spec(name: str) -> StrategySpec:
    """The strategy called ``name``; a :class:`KeyError` naming the known ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}: choose {', '.join(STRATEGIES)}") from None
