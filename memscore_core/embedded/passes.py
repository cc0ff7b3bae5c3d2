"""How the embedded model computes a prompt's positions: in passes of at most ``PREFILL_SLICE`` tokens, after a
reused prefix's keys and values, taking the head answers the prefix's prompt holds for the rows they share.

Passes are row-invariant (:mod:`memscore_core.embedded.attention`), so where a pass ends changes no bits: a pass
may end where a prompt waiting on this one needs it to (:func:`next_pass`), so that prompt starts in another lane.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from memscore_core.embedded.attention import MIN_ROWS, pieces
from memscore_core.embedded.hf import DynamicCache
from memscore_core.embedded.prefix_cache import Cached, KeysValues

PREFILL_SLICE = 256
MIN_CUT = 32
"""Fewest positions of a pass ended early for a waiting prompt (shorter passes run the products slower)."""


def next_pass(remaining: int, position: int, needs: Iterable[int]) -> int:
    """The next pass's size, ``remaining`` positions from ``position`` on: the first of as equal passes of at most
    ``PREFILL_SLICE`` as can be, or shorter (at least ``MIN_CUT``, leaving none or ``MIN_ROWS`` or more) to end where a
    waiting prompt ``needs`` the positions computed up to."""
    planned = pieces(remaining, PREFILL_SLICE)[0]
    cuts = [need - position for need in needs
            if MIN_CUT <= need - position < planned and remaining - (need - position) >= MIN_ROWS]
    return min(cuts, default=planned)


def cropped(layers: KeysValues, length: int, config: Any) -> DynamicCache:
    """A new cache holding the first ``length`` positions of ``layers`` (left intact)."""
    return DynamicCache(ddp_cache_data=[(keys[:, :, :length].clone(), values[:, :, :length].clone())
                                        for keys, values in layers], config=config)


def carry_head(entry: Cached, source: Cached | None, shared: int) -> None:
    """``entry`` takes ``source``'s head answers for the rows whose tokens they share (``shared`` tokens), leaving
    at least ``MIN_ROWS`` rows to compute."""
    if source is not None and source.head is not None and len(source.ids) > MIN_ROWS:
        rows = len(entry.ids) - 1
        entry.head = source.head.carried(max(0, min(shared - 1, rows - MIN_ROWS)), rows)
