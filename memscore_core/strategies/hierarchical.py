"""Hierarchical screening (AttriBoT-style): remove groups of memories, refine only groups that can matter.

Per chunk, the root group is every memory of the chunk, removed by the drop-all request. Refining a group
removes its two contiguous halves, or, for a group of more than :data:`TOP` memories, its contiguous parts of
at most that many (the last part only when it cannot be inferred, below). A group is *live* for a response when

- the response comes after the group's first memory (responses see only what precedes them) and inside the
  group request's window,
- its removal moved that response above the noise floor, and
- it could still hold a memory that the result would rank above the best single memory found so far for that
  response: its value (the estimate every memory of it would get) is above that memory's. Where that memory
  stands out (it moved the response at least :data:`STRONG` floors), the group stays live while it could hold
  a memory half as strong (:data:`SECOND`: a second memory an answer uses).

Screening goes in rounds: each round refines, for every response, the live group that moved it most, all
such groups at once; it stops when no group is live. The rounds make the requests sent a function of the
answers only, never of their timing. A measured single memory is a leaf: its request is the exact strategy's,
and so are its cells. Every other memory keeps, for each response, the value of the smallest group measured
or inferred that holds it and scored the response.

Refining a group removes its other parts first. The last part is then *inferred*, not sent, when for every
response the group is live for the other parts together either explain the move (they moved the response to
within the floor of the group) or plainly hold none of it (they moved it at most the floor, and the group at
least twice the floor): as in binary splitting, a move the others do not explain is in the last part. Its
inferred value is the group's less the others', and an inferred group that stays live is refined like a
measured one; a live inferred single memory is sent, so every leaf is measured. Otherwise the last part is
sent too. Where memories are replaced by fillers rather than removed (no request moves a token, so removals
add up), only the responses the group is refined for (whose most-moving live group it is) are checked, and the
other parts also plainly leave a response's move to the last part where they hold at most :data:`SHARE` of what
the group moved it beyond the floor.

Where a response's removals are seen not to add up (a measured group moved it more than :data:`TANGLE` floors
beyond a measured group holding it), a live group of at most :data:`LEAVES` memories is refined straight into
its single memories rather than halved: in such a response a pair can move it less than one of its memories
alone, and halving would prune that memory.

A part's request ends at the last response its group is live for: the screen follows a part only for the
responses its group moved, and a response sees only what precedes it, so the rest of the chunk is not sent.
A single memory's request is sent whole, as exact sends it.

Cost: finding the memory a response uses among ``n`` takes about ``log2(m)`` to ``2·log2(m)`` requests for
``m = min(n, TOP)``, plus ``n / TOP − 1`` for the first parts when ``n > TOP`` (every response shares those),
and responses that use the same groups share them; a response no group moves above the floor costs nothing beyond
the drop-all. A floor of 0 refines every group, so every memory becomes a leaf.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import numpy as np

from memscore_core.ablation.requests import PromptRequest
from memscore_core.strategies.outcome import ChunkOutcome
from memscore_core.strategies.scope import BoolArray, ChunkContext, Effect, FloatArray

Group = tuple[int, ...]
SECOND = 0.5
"""A group that could hold a memory moving a response this fraction of its best memory's value stays live, where
that memory stands out (:data:`STRONG`)."""
STRONG = 16.0
"""How many floors a response's best memory must move it by for :data:`SECOND` to apply; below, a group stays live
only while its value is above the best memory's (only then could one of its memories be ranked first)."""
TOP = 16
"""A larger group is refined straight into parts of at most this many memories: with many memories a chunk's
groups of more are nearly always refined (their halves, and those halves' halves, all sent), so the levels
between are skipped."""
MARGIN = 2.0
"""A second half is inferred to hold a group's move only where the group moved the response this many floors."""
LEAVES = 4
"""A live group of at most this many memories is refined straight into its single memories for a *tangled*
response (one that a measured group moved more than a measured group holding it, by more than
:data:`TANGLE` floors): where removals do not add up, a pair can move a response less than one of its memories
alone."""
TANGLE = 2.0
"""How many floors a part's move must exceed its group's by for the response to count as tangled."""
SHARE = 0.5
"""Under replacement, a last part is inferred to hold a response's move where the group's other parts hold at most
this share of what the group moved it beyond the floor."""


async def screen_chunk(context: ChunkContext, drop_all: Effect, floor: float) -> ChunkOutcome:
    """Screen one chunk whose drop-all effect is ``drop_all`` against ``floor``."""
    outcome = ChunkOutcome("hierarchical", drop_all=drop_all)
    rows = context.scope.rows
    if not rows:
        return outcome
    screen = _Screen(context, floor, {rows: drop_all})
    while chosen := screen.live():
        await screen.refine(chosen)
    for group, effect in screen.measured.items():
        if len(group) == 1 and group not in screen.inferred:
            outcome.exact[group[0]] = effect
    for row in rows:
        if row not in outcome.exact:
            outcome.estimated[row] = screen.estimate(row)
    return outcome


def constants(ablation: str = "remove") -> dict[str, dict[str, float]]:
    """The screen's constants under ``ablation``, as they enter a configuration's hash (a change rescores its
    results); :data:`SHARE` only under replacement, the one ablation whose screen it changes."""
    screen = {"second": SECOND, "strong": STRONG, "top": TOP, "margin": MARGIN, "leaves": LEAVES, "tangle": TANGLE}
    return {"screen": screen | ({"share": SHARE} if ablation == "replace" else {})}


def parts(group: Group, *, single: bool = False) -> tuple[Group, ...]:
    """A group's contiguous parts when it is refined: its two halves (the first one larger when the size is
    odd), or as many near-equal parts of at most :data:`TOP` memories as a larger group needs; with
    ``single``, its memories one by one."""
    count = len(group) if single else max(2, -(-len(group) // TOP))
    return tuple(group[part[0]:part[-1] + 1] for part in np.array_split(np.arange(len(group)), count) if part.size)


class _Screen:
    def __init__(self, context: ChunkContext, floor: float, measured: dict[Group, Effect]) -> None:
        self.context = context
        self.floor = floor
        self.measured = measured
        self.refined: set[Group] = set()
        self.inferred: set[Group] = set()
        self._judged: dict[Group, BoolArray] = {}
        self._needed: dict[Group, BoolArray] = {}
        self._chosen: dict[Group, BoolArray] = {}
        self._ends: dict[Group, int] = {}
        self._parts: dict[Group, tuple[Group, ...]] = {}

    def live(self) -> list[Group]:
        """The groups to refine this round: per response, the live group that moved it most (every group that
        can be refined, with a floor of 0)."""
        frontier = sorted(group for group in self.measured
                          if (len(group) > 1 or group in self.inferred) and group not in self.refined)
        if self.floor <= 0.0 or not frontier:
            return frontier
        values = np.stack([self._value(group) for group in frontier])
        best = self._best_leaves()
        live = (values > self.floor) & (values > np.where(best >= STRONG * self.floor, SECOND * best, best))
        values = np.where(live, values, -np.inf)
        picks = [frontier[int(np.argmax(values[:, column]))] if live[:, column].any() else None
                 for column in range(values.shape[1])]
        chosen = {pick for pick in picks if pick is not None}
        for group, needed in zip(frontier, live, strict=True):
            if group in chosen:
                self._needed[group] = needed
                self._chosen[group] = np.array([pick == group for pick in picks], dtype=bool)
        return sorted(chosen)

    async def refine(self, groups: Sequence[Group]) -> None:
        """Measure every part of every group in ``groups`` but its last, then the last parts not inferred; a
        single inferred memory is measured itself."""
        self.refined.update(groups)
        tangled = self._tangled()
        for group in groups:
            needed = self._needed.get(group)
            single = len(group) <= LEAVES and needed is not None and bool((needed & tangled).any())
            self._parts[group] = parts(group, single=single)
            self._end_parts(group)
        await self._measure_all([group for group in groups if len(group) == 1]
                                + [part for group in groups if len(group) > 1 for part in self._parts[group][:-1]])
        lasts = []
        for group in (group for group in groups if len(group) > 1):
            *firsts, last = self._parts[group]
            if self.floor > 0.0 and (inferred := self._infer(group, firsts)) is not None:
                self.measured[last] = inferred
                self.inferred.add(last)
            else:
                lasts.append(last)
        await self._measure_all(lasts)

    async def _measure_all(self, groups: Sequence[Group]) -> None:
        """Send the removal of each of ``groups`` (new parts, or inferred single memories), all at once."""
        effects = await asyncio.gather(*(self._measure(group) for group in groups))
        self.measured.update(zip(groups, effects, strict=True))
        self.inferred.difference_update(groups)

    def estimate(self, row: int) -> FloatArray:
        """A memory's value per response: that of the smallest group holding it that scored the response."""
        estimate = np.full(self.context.scope.hi - self.context.scope.lo, np.nan)
        for group in sorted((group for group in self.measured if row in group), key=len):
            estimate = np.where(np.isnan(estimate), self.measured[group].clipped, estimate)
        return estimate

    def _end_parts(self, group: Group) -> None:
        """End the requests of a group's parts of two or more memories at the last response the group is live
        for (single memories are sent whole, as exact sends them)."""
        needed = self._needed.get(group)
        if needed is None or not needed.any():
            return
        end = self.context.responses[int(np.flatnonzero(needed)[-1])]
        for part in self._parts[group]:
            if len(part) > 1:
                self._ends[part] = end

    def _infer(self, group: Group, firsts: Sequence[Group]) -> Effect | None:
        """The last part's effect as the group's less the other parts', where every response the group is live
        for (under replacement: refined for) is explained by the other parts or plainly not moved by them; None
        where not."""
        moved, held = self._value(group), _total(self._value(first) for first in firsts)
        composes = self.context.composes
        above = (moved > self.floor) & (self._chosen[group] if composes else self._needed[group])
        explained = held >= moved - self.floor
        elsewhere = (held <= self.floor) & (moved >= MARGIN * self.floor)
        if composes:
            elsewhere |= held <= SHARE * (moved - self.floor)
        if not np.all(explained[above] | elsewhere[above]):
            return None
        effect = self.measured[group]
        clipped = _total(self.measured[first].clipped for first in firsts)
        signed = _total(self.measured[first].signed for first in firsts)
        return Effect(np.maximum(effect.clipped - clipped, 0.0), effect.signed - signed)

    def _tangled(self) -> BoolArray:
        """Per response, whether a measured group moved it more than :data:`TANGLE` floors beyond a measured group
        holding it: its removals do not add up, so halving small groups can hide the memory that moves it most."""
        sent = [group for group in self.measured if group not in self.inferred]
        tangled = np.zeros(self.context.scope.hi - self.context.scope.lo, dtype=bool)
        for outer in sent:
            for inner in (group for group in sent if len(group) < len(outer) and set(group) <= set(outer)):
                tangled |= self._value(inner) > self._value(outer) + TANGLE * self.floor
        return tangled

    def _value(self, group: Group) -> FloatArray:
        """The group's clipped effect where it can move a response, NaN elsewhere."""
        if group not in self._judged:
            self._judged[group] = self.context.after(group) & self.context.reach(self._request(group))
        return np.where(self._judged[group], self.measured[group].clipped, np.nan)

    def _best_leaves(self) -> FloatArray:
        """Per response, the largest effect of a single memory measured so far (-inf before any)."""
        leaves = [self._value(group) for group in self.measured if len(group) == 1 and group not in self.inferred]
        width = self.context.scope.hi - self.context.scope.lo
        if not leaves:
            return np.full(width, -np.inf)
        return np.nan_to_num(np.fmax.reduce(np.stack(leaves), axis=0), nan=-np.inf)

    def _request(self, group: Group) -> PromptRequest:
        return self.context.removal(group, until=self._ends.get(group))

    async def _measure(self, group: Group) -> Effect:
        request = self._request(group)
        label = request.label() if len(group) == 1 else f"group-{self.context.scope.number}-{group[0]}-{group[-1]}"
        return await self.context.measure(request, label)


def _total(effects: Iterable[FloatArray]) -> FloatArray:
    """The sum of ``effects``, NaN (not scored) counting as 0."""
    return np.sum([np.nan_to_num(effect, nan=0.0) for effect in effects], axis=0)
