"""What one chunk's strategy found, before the chunks are assembled into a result."""

from __future__ import annotations

from dataclasses import dataclass, field

from memscore_core.strategies.scope import Effect, FloatArray


@dataclass
class ChunkOutcome:
    """One chunk's cells by memory row, over the chunk's response columns (NaN: no value).

    ``exact``: rows scored by their own removal request (the exact strategy's numbers); ``estimated``: the
    clipped value of every other row (the group it was screened in, or a surrogate weight clipped at 0);
    ``weights``: a surrogate's signed weights; ``fit_r2``: its held-out fit quality per column; ``drop_all``: the
    effect of removing every memory of the chunk.
    """

    strategy: str
    exact: dict[int, Effect] = field(default_factory=dict)
    estimated: dict[int, FloatArray] = field(default_factory=dict)
    weights: dict[int, FloatArray] = field(default_factory=dict)
    fit_r2: FloatArray | None = None
    drop_all: Effect | None = None
