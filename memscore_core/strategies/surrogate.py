"""Surrogate scoring (ContextCite-style): random removal masks and a sparse linear fit per response.

Per chunk, ``masks`` requests each remove a random half of the chunk's memories (each memory independently,
with probability 0.5). The masks are drawn from a generator seeded with the conversation's content hash and
the chunk, so a rerun sends the same requests (and the request cache answers them), and a run with more
masks sends the same first ones. For each response the signed divergences across masks, and the baseline's
0, are fitted on which memories each mask removed (:func:`~memscore_core.strategies.sparse_fit.fit_sparse`),
using the memories before the response: the ones after it cannot move it, and weigh exactly 0.

The weights are estimates, not leave-one-out divergences: they go to ``signed_matrix`` and, clipped at 0, to
``screened``; ``matrix`` holds no surrogate cell. The cost per chunk is ``masks`` + 2 requests whatever the
number of memories, each about the chunk less half its memories.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable

import numpy as np
import numpy.typing as npt

from memscore_core.strategies.outcome import ChunkOutcome
from memscore_core.strategies.scope import BoolArray, ChunkContext, Effect, position
from memscore_core.strategies.sparse_fit import MIN_SAMPLES, fit_sparse

DEFAULT_MASKS = 64
MIN_MASKS = MIN_SAMPLES
KEEP = 0.5


def removal_masks(seed: str, masks: int, memories: int) -> BoolArray:
    """``masks`` × ``memories`` draws, True where a mask removes the memory; the first rows are the same for
    any number of masks."""
    generator = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    return generator.random((masks, memories)) >= KEEP


async def fit_chunk(context: ChunkContext, drop_all: Awaitable[Effect], masks: int, seed: str) -> ChunkOutcome:
    """Score one chunk from ``masks`` random removals drawn from ``seed``; ``drop_all`` is its drop-all effect."""
    rows = np.array(context.scope.rows, dtype=np.int64)
    drawn = removal_masks(seed, masks, len(rows))
    chunk = context.scope.number
    effects = await asyncio.gather(*(context.measure(context.removal(rows[mask].tolist()), f"mask-{chunk}-{k}")
                                     for k, mask in enumerate(drawn)))
    signed = np.stack([effect.signed for effect in effects])
    weights, r2 = await asyncio.to_thread(_fit_columns, context, rows, drawn, signed)
    outcome = ChunkOutcome("surrogate", fit_r2=r2, drop_all=await drop_all)
    for i, row in enumerate(rows.tolist()):
        outcome.weights[row] = weights[i]
        outcome.estimated[row] = np.maximum(weights[i], 0.0)
    return outcome


def _fit_columns(context: ChunkContext, rows: npt.NDArray[np.int64], drawn: BoolArray,
                 signed: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Weights (rows × columns; NaN where no fit) and held-out R² per column (NaN where none)."""
    refs = context.conversation.memories
    places = np.array([position(refs[row]) for row in rows.tolist()])
    weights = np.full((len(rows), signed.shape[1]), np.nan)
    r2 = np.full(signed.shape[1], np.nan)
    for column, response in enumerate(context.responses):
        answered = ~np.isnan(signed[:, column])
        if not answered.any():
            continue
        before = places < response
        weights[~before, column] = 0.0
        if not before.any():
            continue
        removed = np.vstack([drawn[answered][:, before], np.zeros((1, int(before.sum())), dtype=bool)])
        divergence = np.append(signed[answered, column], 0.0)
        fit = fit_sparse(removed, divergence)
        weights[before, column] = fit.weights
        r2[column] = np.nan if fit.r2 is None else fit.r2
    return weights, r2
