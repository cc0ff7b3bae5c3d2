"""Hierarchical screening (AttriBoT-style): remove groups of memories, refine only groups that can matter.

Per chunk, the root group is every memory of the chunk, removed by the drop-all request. Refining a group
removes its two contiguous halves (the second only when it cannot be inferred, below). A group is *live*
for a response when

- the response comes after the group's first memory (responses see only what precedes them) and inside the
  group request's window,
- its removal moved that response above the noise floor, and
- it could still hold a memory that moves the response about as much as the best single memory found so far,
  or at least half as much (a second memory an answer uses): its value is above the smaller of that memory's
  value less the floor and half that value (removing a group moves a response at least about as much as
  removing any one of its memories).

Screening goes in rounds: each round refines, for every response, the live group that moved it most, all
such groups at once; it stops when no group is live. The rounds make the requests sent a function of the
answers only, never of their timing. A measured single memory is a leaf: its request is the exact strategy's,
and so are its cells. Every other memory keeps the value of the smallest group measured or inferred that
holds it.

Refining a group removes its first half first. The second half is then *inferred*, not sent, when for every
response the group moved above the floor the first half either explains the move (it moved the response to
within the floor of the group) or plainly holds none of it (it moved the response at most the floor, and the
group at least twice the floor): as in binary splitting, a move the first half does not explain is in the
second. Its inferred value is the group's less the first half's, and an inferred group that stays live is
refined like a measured one; a live inferred single memory is sent, so every leaf is measured. Otherwise the
second half is sent too.

Cost: finding the memory a response uses among ``n`` takes about ``log2(n)`` to ``2·log2(n)`` requests, and
responses that use the same groups share them; a response no group moves above the floor costs nothing beyond
the drop-all. A floor of 0 refines every group, so every memory becomes a leaf.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from memscore_core.strategies.outcome import ChunkOutcome
from memscore_core.strategies.scope import BoolArray, ChunkContext, Effect, FloatArray

Group = tuple[int, ...]
SECOND = 0.5
"""A group that could hold a memory moving a response this fraction of its best memory's value stays live."""
MARGIN = 2.0
"""A second half is inferred to hold a group's move only where the group moved the response this many floors."""


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
            smallest = min((group for group in screen.measured if row in group), key=len)
            outcome.estimated[row] = screen.measured[smallest].clipped
    return outcome


def halves(group: Group) -> tuple[Group, Group]:
    """A group's two contiguous halves (the first one larger when the size is odd)."""
    half = (len(group) + 1) // 2
    return group[:half], group[half:]


class _Screen:
    def __init__(self, context: ChunkContext, floor: float, measured: dict[Group, Effect]) -> None:
        self.context = context
        self.floor = floor
        self.measured = measured
        self.refined: set[Group] = set()
        self.inferred: set[Group] = set()
        self._judged: dict[Group, BoolArray] = {}

    def live(self) -> list[Group]:
        """The groups to refine this round: per response, the live group that moved it most (every group that
        can be refined, with a floor of 0)."""
        frontier = sorted(group for group in self.measured
                          if (len(group) > 1 or group in self.inferred) and group not in self.refined)
        if self.floor <= 0.0 or not frontier:
            return frontier
        values = np.stack([self._value(group) for group in frontier])
        best = self._best_leaves()
        live = (values > self.floor) & (values > np.minimum(best - self.floor, SECOND * best))
        values = np.where(live, values, -np.inf)
        chosen = {frontier[int(np.argmax(values[:, column]))] for column in range(values.shape[1])
                  if live[:, column].any()}
        return sorted(chosen)

    async def refine(self, groups: Sequence[Group]) -> None:
        """Measure the first half of every group in ``groups``, then the second halves not inferred; a single
        inferred memory is measured itself."""
        self.refined.update(groups)
        await self._measure_all([group for group in groups if len(group) == 1]
                                + [halves(group)[0] for group in groups if len(group) > 1])
        seconds = []
        for group in (group for group in groups if len(group) > 1):
            first, second = halves(group)
            if self.floor > 0.0 and (inferred := self._infer(group, first)) is not None:
                self.measured[second] = inferred
                self.inferred.add(second)
            else:
                seconds.append(second)
        await self._measure_all(seconds)

    async def _measure_all(self, groups: Sequence[Group]) -> None:
        """Send the removal of each of ``groups`` (new halves, or inferred single memories), all at once."""
        effects = await asyncio.gather(*(self._measure(group) for group in groups))
        self.measured.update(zip(groups, effects, strict=True))
        self.inferred.difference_update(groups)

    def _infer(self, group: Group, first: Group) -> Effect | None:
        """The second half's effect as the group's less the first half's, where every response the group moved
        above the floor is explained by the first half or plainly not moved by it; None where not."""
        moved, held = self._value(group), np.nan_to_num(self._value(first), nan=0.0)
        above = moved > self.floor
        explained = held >= moved - self.floor
        elsewhere = (held <= self.floor) & (moved >= MARGIN * self.floor)
        if not np.all(explained[above] | elsewhere[above]):
            return None
        effect, part = self.measured[group], self.measured[first]
        return Effect(np.maximum(effect.clipped - np.nan_to_num(part.clipped, nan=0.0), 0.0),
                      effect.signed - np.nan_to_num(part.signed, nan=0.0))

    def _value(self, group: Group) -> FloatArray:
        """The group's clipped effect where it can move a response, NaN elsewhere."""
        if group not in self._judged:
            self._judged[group] = self.context.after(group) & self.context.reach(self.context.removal(group))
        return np.where(self._judged[group], self.measured[group].clipped, np.nan)

    def _best_leaves(self) -> FloatArray:
        """Per response, the largest effect of a single memory measured so far (-inf before any)."""
        leaves = [self._value(group) for group in self.measured if len(group) == 1 and group not in self.inferred]
        width = self.context.scope.hi - self.context.scope.lo
        if not leaves:
            return np.full(width, -np.inf)
        return np.nan_to_num(np.fmax.reduce(np.stack(leaves), axis=0), nan=-np.inf)

    async def _measure(self, group: Group) -> Effect:
        request = self.context.removal(group)
        label = request.label() if len(group) == 1 else f"group-{self.context.scope.number}-{group[0]}-{group[-1]}"
        return await self.context.measure(request, label)
