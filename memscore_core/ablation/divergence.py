"""Divergence math: how much a response's log-probabilities drop without a memory.

Pure functions over numpy arrays. ``base`` and ``without`` hold one response's token log-probs with
and without the memory; positive differences mean the memory helped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def response_divergences(base: FloatArray, without: FloatArray, lengths: Sequence[int]
                         ) -> tuple[FloatArray, FloatArray]:
    """Per response, ``Σ max(0, base − without)`` (the seed's clipped measure: only tokens the memory helped
    count) and ``Σ (base − without)`` (the unclipped total, free of the clipping's positive noise).

    ``base`` and ``without`` hold consecutive responses' token log-probs; ``lengths`` their token counts.

    >>> response_divergences(np.array([-1.0, -2.0, -0.5]), np.array([-3.0, -1.0, -0.5]), [2, 0, 1])
    (array([2., 0., 0.]), array([1., 0., 0.]))
    """
    difference = base - without
    return _segment_sums(np.maximum(difference, 0.0), lengths), _segment_sums(difference, lengths)


def _segment_sums(values: FloatArray, lengths: Sequence[int]) -> FloatArray:
    """Sum of each consecutive segment of ``values`` (0 for an empty one)."""
    counts = np.asarray(lengths, dtype=np.int64)
    sums = np.zeros(len(counts))
    filled = counts > 0
    if filled.any():
        starts = np.cumsum(counts) - counts
        sums[filled] = np.add.reduceat(values, starts[filled])
    return sums


def row_sums(matrix: Sequence[Sequence[float | None]]) -> list[float]:
    """Memory weights: each row's sum over scored cells."""
    return [float(sum(value for value in row if value is not None)) for row in matrix]


def column_sums(matrix: Sequence[Sequence[float | None]], columns: int) -> list[float]:
    """Response scores: each column's sum over scored cells (rows may be shorter than ``columns``)."""
    totals = [0.0] * columns
    for row in matrix:
        for j, value in enumerate(row[:columns]):
            if value is not None:
                totals[j] += value
    return totals
