"""How many requests hierarchical screening spends: the search itself, on a chunk whose removals add up.

The chunk is a stand-in for a model whose removal effects are additive: removing a group of memories moves
each response by the sum of what its memories move it by. It shows the search's request economy, which
the embedded model's noise would hide (``test_hierarchical.py`` runs the same search on the real model).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from memscore_core.strategies.hierarchical import screen_chunk
from memscore_core.strategies.scope import BoolArray, ChunkScope, Effect

FLOOR = 1.0


@dataclass(frozen=True)
class Removal:
    rows: tuple[int, ...]

    def label(self) -> str:
        return f"ablate-{self.rows[0]}"


@dataclass
class AdditiveChunk:
    """``moves[row][column]``: how much removing memory ``row`` moves response ``column``; every response
    comes after every memory. Records each group it was asked to remove."""

    moves: np.ndarray
    sent: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def scope(self) -> ChunkScope:
        rows, columns = self.moves.shape
        return ChunkScope(0, (), tuple(range(rows)), 0, columns)

    def removal(self, rows: Collection[int]) -> Removal:
        return Removal(tuple(sorted(rows)))

    def reach(self, request: Removal) -> BoolArray:
        return np.ones(self.moves.shape[1], dtype=bool)

    def after(self, rows: Collection[int]) -> BoolArray:
        return np.ones(self.moves.shape[1], dtype=bool)

    async def measure(self, request: Removal, label: str) -> Effect:
        self.sent.append(request.rows)
        return self.effect(request.rows)

    def effect(self, rows: tuple[int, ...]) -> Effect:
        moved = self.moves[list(rows)].sum(axis=0)
        return Effect(moved, moved)


def screen(moves: np.ndarray) -> tuple[AdditiveChunk, dict[int, Effect]]:
    chunk = AdditiveChunk(moves)
    everything = tuple(range(moves.shape[0]))
    outcome = asyncio.run(screen_chunk(chunk, chunk.effect(everything), FLOOR))  # type: ignore[arg-type]
    return chunk, outcome.exact


def used(memories: int, columns: int, uses: dict[int, list[tuple[int, float]]]) -> np.ndarray:
    moves = np.zeros((memories, columns))
    for column, pairs in uses.items():
        for row, value in pairs:
            moves[row, column] = value
    return moves


def test_finding_the_memory_one_response_uses_among_64_sends_one_request_a_level_and_its_leaf() -> None:
    chunk, leaves = screen(used(64, 1, {0: [(45, 20.0)]}))
    assert len(chunk.sent) == 6 + 1
    assert (45,) in chunk.sent and 45 in leaves


def test_a_second_half_is_sent_when_both_halves_move_a_response() -> None:
    chunk, leaves = screen(used(64, 1, {0: [(3, 20.0), (60, 12.0)]}))
    assert (32, *range(33, 64)) in chunk.sent
    assert {3, 60} <= leaves.keys()


def test_every_leaf_is_measured_even_where_its_value_could_be_inferred() -> None:
    chunk, leaves = screen(used(2, 1, {0: [(1, 20.0)]}))
    assert chunk.sent == [(0,), (1,)]
    assert leaves[1].clipped[0] == 20.0


def test_responses_using_different_memories_each_find_theirs() -> None:
    chunk, leaves = screen(used(64, 3, {0: [(7, 20.0)], 1: [(40, 15.0)], 2: [(41, 9.0)]}))
    assert {7, 40, 41} <= leaves.keys()
    assert len(chunk.sent) < 3 * 12


def test_moves_below_the_floor_are_not_searched() -> None:
    chunk, leaves = screen(used(64, 2, {0: [(9, 0.5)], 1: [(50, 0.4)]}))
    assert chunk.sent == []
    assert leaves == {}
