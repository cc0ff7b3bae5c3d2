"""The prompts computed last, shared by the embedded model's lanes, and the prompts being computed.

An entry (:class:`Cached`) is published only once complete: its key/value cache, final hidden states and head
answers are never written again (new head answers go to a copy, published in its place), so a lane may read an
entry it found, or one evicted meanwhile, without a lock. Lookups, inserts and evictions take a short lock. A lane
about to compute a prompt first waits for another lane already computing a prompt that shares more of its prefix
(:meth:`PrefixCache.claim`), rather than computing that prefix a second time; only until that lane's passes cover
the shared prefix (:class:`Progress`, published after each pass), so a conversation's ablations start while its
baseline is still computing. Passes are row-invariant, so the rows taken from a prompt in flight are the bits its
finished entry will hold.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import torch

from memscore_core.embedded.attention import MIN_ROWS
from memscore_core.embedded.head import HeadAnswers
from memscore_core.embedded.hf import DynamicCache

KeysValues = list[tuple[torch.Tensor, torch.Tensor]]
"""Each decoder layer's keys and values, [batch, key/value heads, positions, head size]."""


@dataclass
class Cached:
    """A computed prompt: its key/value cache, final hidden states (row i predicts token i + 1), head answers."""

    ids: npt.NDArray[np.int64]
    cache: DynamicCache
    hidden: torch.Tensor
    head: HeadAnswers | None = None

    def kv(self) -> KeysValues:
        return kv_of(self.cache)

    def nbytes(self) -> int:
        tensors = [self.hidden] + [t for layer in self.cache.layers
                                   for t in (layer.keys, layer.values)  # type: ignore[union-attr]
                                   if t is not None]
        return sum(t.numel() * t.element_size() for t in tensors)


@dataclass(frozen=True)
class Progress:
    """The first positions of a prompt in flight, computed: their ids, keys and values (never written again:
    a cache's update makes new tensors), and final hidden states."""

    ids: npt.NDArray[np.int64]
    layers: KeysValues
    hidden: torch.Tensor

    def kv(self) -> KeysValues:
        return self.layers


@dataclass(eq=False)
class Flight:
    """A prompt a lane is computing; ``done`` is set once it is published (as ``entry``) or abandoned. ``progress``:
    its positions computed so far; ``needs``: how many of them prompts waiting on it need to start."""

    ids: npt.NDArray[np.int64]
    done: threading.Event = field(default_factory=threading.Event)
    entry: Cached | None = None
    progress: Progress | None = None
    needs: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Claim:
    """The entry sharing the longest prefix with a prompt (``shared`` tokens), and the prompt's :class:`Flight`
    unless ``best`` is the prompt itself (then nothing is to be computed). ``best`` may be the :class:`Progress`
    of prompt ``source`` still in flight, sharing ``source_shared`` tokens with it: its head answers come once
    ``source`` is done."""

    best: Cached | Progress | None
    shared: int
    flight: Flight | None
    source: Flight | None = None
    source_shared: int = 0


def kv_of(cache: DynamicCache) -> KeysValues:
    """The keys and values ``cache`` holds now (a later update makes new tensors, leaving these intact)."""
    return [(layer.keys, layer.values) for layer in cache.layers]  # type: ignore[union-attr,misc]


Prompt = TypeVar("Prompt", Cached, Flight)


def reusable(shared: int, length: int) -> int:
    """Positions of a ``length``-token prompt taken from a prefix of ``shared`` tokens: at least ``MIN_ROWS`` are
    left to compute, and none are taken below ``MIN_ROWS`` (see :mod:`memscore_core.embedded.attention`)."""
    reused = min(shared, length - MIN_ROWS)
    return reused if reused >= MIN_ROWS else 0


class PrefixCache:
    """The ``entries`` prompts used last, within ``nbytes`` but at least two; ``enabled=False``: none kept."""

    def __init__(self, entries: int, nbytes: int, *, enabled: bool = True) -> None:
        self.entries, self.nbytes, self.enabled = entries, nbytes, enabled
        self.computed_tokens = 0
        self.reused_tokens = 0
        self._recent: OrderedDict[bytes, Cached] = OrderedDict()
        self._flights: set[Flight] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def claim(self, ids: npt.NDArray[np.int64], free: Callable[[], bool] | None = None) -> Claim:
        """The entry sharing the longest prefix with ``ids``, after waiting for any lane computing a prompt that
        would leave less of ``ids`` to compute: until that lane has published the :class:`Progress` of all the
        positions ``ids`` can take from it, if a lane is ``free`` to start on ``ids`` then (else, for a prompt equal
        to it, and without ``free`` (one lane), until it is done: a prompt that cannot start yet keeps the choice of
        its prefix open). The caller then computes ``ids`` and must end the claim's flight with :meth:`publish` or
        :meth:`abandon`."""
        finished: list[Cached] = []
        looked = False
        with self._lock:
            while True:
                best, shared = _longest(ids, [*self._recent.values(), *finished])
                if not looked:  # used last: when first looked at, and when what it waited on is done
                    self._touch(best)
                if best is not None and shared == len(ids) == len(best.ids):
                    self._touch(best)
                    self.reused_tokens += shared
                    return Claim(best, shared, None)
                ahead, ahead_shared = _longest(ids, self._flights)
                need = reusable(ahead_shared, len(ids))
                if ahead is None or need <= reusable(shared, len(ids)):
                    self._touch(best)
                    return Claim(best, shared, self._flight(ids))
                progress, same = ahead.progress, len(ids) == ahead_shared == len(ahead.ids)
                if progress is not None and len(progress.ids) >= need and not same and free is not None and free():
                    return Claim(progress, min(ahead_shared, len(progress.ids)), self._flight(ids), ahead,
                                 ahead_shared)
                ahead.needs.append(need)
                if free is None:
                    self._changed.wait_for(ahead.done.is_set)
                else:
                    self._changed.wait()
                ahead.needs.remove(need)
                looked = not ahead.done.is_set()
                if ahead.entry is not None:
                    finished = [ahead.entry]

    def progressed(self, flight: Flight, progress: Progress) -> None:
        """``flight`` has computed the positions of ``progress``: wake the prompts waiting for them."""
        with self._lock:
            flight.progress = progress
            self._changed.notify_all()

    def wake(self) -> None:
        """A lane is free: prompts waiting for one to start from a :class:`Progress` look again."""
        with self._lock:
            self._changed.notify_all()

    def needs(self, flight: Flight) -> list[int]:
        """How many positions of ``flight`` each prompt waiting on it needs computed to start."""
        with self._lock:
            return list(flight.needs)

    def _touch(self, entry: Cached | None) -> None:
        if entry is not None and _key(entry.ids) in self._recent:
            self._recent.move_to_end(_key(entry.ids))

    def _flight(self, ids: npt.NDArray[np.int64]) -> Flight:
        flight = Flight(ids)
        if self.enabled:
            self._flights.add(flight)
        return flight

    def publish(self, flight: Flight, entry: Cached, computed: int) -> None:
        """``entry`` (``computed`` of its tokens run through the model) is complete: keep it, wake the waiters."""
        with self._lock:
            self.computed_tokens += computed
            self.reused_tokens += len(entry.ids) - computed
            if self.enabled:
                self._remember(entry)
            self._flights.discard(flight)
            flight.entry = entry
            flight.done.set()
            self._changed.notify_all()

    def abandon(self, flight: Flight) -> None:
        """The computation of ``flight`` failed: wake the waiters, who compute on their own."""
        with self._lock:
            self._flights.discard(flight)
            flight.done.set()
            self._changed.notify_all()

    def answered(self, entry: Cached, head: HeadAnswers) -> None:
        """``head`` (a copy of ``entry``'s with more answers) replaces it."""
        with self._lock:
            entry.head = head

    def clear(self) -> None:
        with self._lock:
            self._recent.clear()

    def _remember(self, entry: Cached) -> None:
        key = _key(entry.ids)
        self._recent.pop(key, None)
        self._recent[key] = entry
        while len(self._recent) > 2 and (len(self._recent) > self.entries or
                                         sum(e.nbytes() for e in self._recent.values()) > self.nbytes):
            self._recent.popitem(last=False)


def _longest(ids: npt.NDArray[np.int64], candidates: Iterable[Prompt]) -> tuple[Prompt | None, int]:
    best, shared = None, 0
    for candidate in candidates:
        n = min(len(ids), len(candidate.ids))
        differ = np.flatnonzero(candidate.ids[:n] != ids[:n])
        common = int(differ[0]) if len(differ) else n
        if common > shared:
            best, shared = candidate, common
    return best, shared


def _key(ids: npt.NDArray[np.int64]) -> bytes:
    return ids.tobytes()
