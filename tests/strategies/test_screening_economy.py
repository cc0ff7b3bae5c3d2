"""How many requests hierarchical screening spends: the search itself, on a chunk whose removals add up.

The chunk is a stand-in for a model whose removal effects are additive: removing a group of memories moves
each response by the sum of what its memories move it by. It shows the search's request economy, which
the embedded model's noise would hide (``test_hierarchical.py`` runs the same search on the real model).
:class:`MaskingPair` breaks additivity in one place, as memscore-tiny-3 does on answers that use no memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from memscore_core.strategies.hierarchical import parts, screen_chunk
from memscore_core.strategies.scope import BoolArray, ChunkScope, Effect

FLOOR = 1.0


@dataclass(frozen=True)
class Removal:
    rows: tuple[int, ...]
    until: int | None = None

    def label(self) -> str:
        return f"ablate-{self.rows[0]}"


@dataclass
class AdditiveChunk:
    """``moves[row][column]``: how much removing memory ``row`` moves response ``column``; every response
    comes after every memory. Records each group it was asked to remove."""

    moves: np.ndarray
    composes: bool = False
    sent: list[tuple[int, ...]] = field(default_factory=list)
    ends: list[int | None] = field(default_factory=list)

    @property
    def scope(self) -> ChunkScope:
        rows, columns = self.moves.shape
        return ChunkScope(0, (), tuple(range(rows)), 0, columns)

    @property
    def responses(self) -> tuple[int, ...]:
        return tuple(range(self.moves.shape[1]))

    def removal(self, rows: Collection[int], until: int | None = None) -> Removal:
        return Removal(tuple(sorted(rows)), until)

    def reach(self, request: Removal) -> BoolArray:
        columns = np.arange(self.moves.shape[1])
        return columns <= (columns[-1] if request.until is None else request.until)

    def after(self, rows: Collection[int]) -> BoolArray:
        return np.ones(self.moves.shape[1], dtype=bool)

    async def measure(self, request: Removal, label: str) -> Effect:
        self.sent.append(request.rows)
        self.ends.append(request.until)
        moved = np.where(self.reach(request), self.effect(request.rows).clipped, np.nan)
        return Effect(moved, moved)

    def effect(self, rows: tuple[int, ...]) -> Effect:
        moved = self.moves[list(rows)].sum(axis=0)
        return Effect(moved, moved)


@dataclass
class MaskingPair(AdditiveChunk):
    """Additive, except that removing memories 0 and 1 together moves nothing that memory 1 moves alone."""

    def effect(self, rows: tuple[int, ...]) -> Effect:
        kept = [row for row in rows if row != 1 or not {0, 1} <= set(rows)]
        moved = self.moves[kept].sum(axis=0)
        return Effect(moved, moved)


def screen(moves: np.ndarray, *, composes: bool = False) -> tuple[AdditiveChunk, dict[int, Effect]]:
    """Screen an additive chunk; with ``composes``, as under replacement (no removal moves a token)."""
    chunk = AdditiveChunk(moves, composes)
    everything = tuple(range(moves.shape[0]))
    outcome = asyncio.run(screen_chunk(chunk, chunk.effect(everything), FLOOR))  # type: ignore[arg-type]
    return chunk, outcome.exact


def used(memories: int, columns: int, uses: dict[int, list[tuple[int, float]]]) -> np.ndarray:
    moves = np.zeros((memories, columns))
    for column, pairs in uses.items():
        for row, value in pairs:
            moves[row, column] = value
    return moves


def test_finding_the_memory_one_response_uses_among_64_sends_three_parts_of_16_then_one_request_a_level() -> None:
    chunk, leaves = screen(used(64, 1, {0: [(45, 20.0)]}))
    assert len(chunk.sent) == 3 + 3 + 2
    assert (45,) in chunk.sent and 45 in leaves


def test_a_second_half_is_sent_when_both_halves_move_a_response() -> None:
    chunk, leaves = screen(used(64, 1, {0: [(3, 20.0), (60, 12.0)]}))
    assert tuple(range(48, 64)) in chunk.sent
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


def test_group_requests_end_at_the_last_response_their_group_is_live_for() -> None:
    chunk, leaves = screen(used(64, 6, {1: [(45, 20.0)]}))
    groups = [end for rows, end in zip(chunk.sent, chunk.ends, strict=True) if len(rows) > 1]
    assert groups and set(groups) == {1}
    assert chunk.ends[chunk.sent.index((45,))] is None
    assert leaves[45].clipped[5] == 0.0


def test_a_memory_takes_the_value_of_the_smallest_group_that_scored_the_response() -> None:
    chunk = AdditiveChunk(used(64, 4, {0: [(45, 20.0)], 3: [(36, 0.6), (52, 0.6)]}))
    outcome = asyncio.run(screen_chunk(chunk, chunk.effect(tuple(range(64))), FLOOR))  # type: ignore[arg-type]
    assert chunk.ends[chunk.sent.index(tuple(range(32, 48)))] == 3
    assert chunk.ends[chunk.sent.index(tuple(range(40, 44)))] == 0
    assert outcome.estimated[40][3] == 0.6


def test_a_group_is_refined_into_halves_or_into_parts_of_at_most_16_memories() -> None:
    assert [len(part) for part in parts(tuple(range(5)))] == [3, 2]
    assert [len(part) for part in parts(tuple(range(32)))] == [16, 16]
    assert [len(part) for part in parts(tuple(range(64)))] == [16] * 4
    assert [len(part) for part in parts(tuple(range(65)))] == [13] * 5
    assert [len(part) for part in parts(tuple(range(256)))] == [16] * 16


def test_among_256_memories_the_first_requests_are_parts_of_16_and_the_last_part_is_inferred() -> None:
    chunk, leaves = screen(used(256, 1, {0: [(200, 20.0)]}))
    first_level = [rows for rows in chunk.sent if len(rows) == 16]
    assert first_level == [tuple(range(start, start + 16)) for start in range(0, 240, 16)]
    assert len(chunk.sent) == 15 + 4 and 200 in leaves


def test_a_group_that_moved_a_response_less_than_its_best_memory_is_not_refined_when_that_memory_is_weak() -> None:
    chunk, leaves = screen(used(64, 1, {0: [(3, 5.0), (60, 4.0)]}))
    assert tuple(range(48, 64)) in chunk.sent
    assert 3 in leaves and 60 not in leaves


def test_a_group_that_could_hold_a_memory_half_as_strong_as_a_standout_best_memory_is_refined() -> None:
    chunk, leaves = screen(used(64, 1, {0: [(3, 20.0), (60, 10.5)]}))
    assert {3, 60} <= leaves.keys()


def screen_masked(drop_all: float) -> tuple[MaskingPair, dict[int, Effect]]:
    """Memory 1 moves the response 5, memory 2 moves it 4, and the chunk's drop-all moves it ``drop_all``."""
    chunk = MaskingPair(used(8, 1, {0: [(1, 5.0), (2, 4.0)]}))
    moved = np.array([drop_all])
    outcome = asyncio.run(screen_chunk(chunk, Effect(moved, moved), FLOOR))  # type: ignore[arg-type]
    return chunk, outcome.exact


def test_a_group_of_four_is_refined_into_its_memories_for_a_response_whose_removals_do_not_add_up() -> None:
    chunk, leaves = screen_masked(drop_all=1.5)
    assert chunk.sent[:1] == [(0, 1, 2, 3)]
    assert chunk.sent[1:] == [(0,), (1,), (2,)]
    assert leaves[1].clipped[0] == 5.0


def test_where_removals_add_up_so_far_a_group_of_four_is_halved_and_a_masked_memory_stays_unmeasured() -> None:
    chunk, leaves = screen_masked(drop_all=4.0)
    assert (0, 1) in chunk.sent
    assert 1 not in leaves and 2 in leaves


def test_under_replacement_a_last_part_is_inferred_where_the_others_hold_at_most_half_the_move() -> None:
    uses = used(64, 1, {0: [(3, 1.5), (60, 20.0)]})
    removing, _ = screen(uses)
    replacing, leaves = screen(uses, composes=True)
    assert tuple(range(48, 64)) in removing.sent
    assert tuple(range(48, 64)) not in replacing.sent and 60 in leaves


def test_under_replacement_only_the_responses_a_group_is_refined_for_decide_its_last_part() -> None:
    uses = used(64, 2, {0: [(60, 20.0)], 1: [(5, 6.0), (50, 1.5), (58, 1.5)]})
    removing, _ = screen(uses)
    replacing, leaves = screen(uses, composes=True)
    assert tuple(range(56, 64)) in removing.sent
    assert tuple(range(56, 64)) not in replacing.sent and {5, 60} <= leaves.keys()
