"""The noise floor a screening strategy compares group effects with, measured from null ablations.

A null ablation removes something that carries no information: a content-free *filler* entry, inserted in a
chunk among its memories. Each response after the filler gives one sample, its clipped divergence when the
filler is removed (the prompt with the filler against the chunk's baseline). The floor is a high quantile of
a conversation's samples: what removing a memory that a response does not use moves it by, on this model,
server and kind of conversation. It is measured per conversation, from one filler request per screened chunk,
so that a result never depends on which other conversations were scored in the same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from memscore_core.ablation.divergence import response_divergences
from memscore_core.ablation.requests import PromptRequest
from memscore_core.ablation.responses import ResponseLogprobs
from memscore_core.model.conversation import Conversation, Entry
from memscore_core.model.result import NoiseFloorMethod
from memscore_core.strategies.scope import ChunkScope

FILLER = "Nothing new to remember here."
DEFAULT_QUANTILE = 0.99
MINIMUM = 1e-3
"""A measured floor is never below this (nats): a deterministic server's null is exactly 0, and movements
this small are float noise on any other."""


@dataclass(frozen=True)
class NoiseFloor:
    """A floor value and how it was obtained."""

    value: float
    method: NoiseFloorMethod


def fixed_floor(value: float) -> NoiseFloor:
    """A floor given in the configuration; 0 refines every group, so screening equals exact."""
    return NoiseFloor(value, NoiseFloorMethod(method="fixed"))


def measured_floor(samples: Sequence[float], quantile: float) -> NoiseFloor:
    """The ``quantile`` of the null ``samples``, at least :data:`MINIMUM`."""
    value = float(np.quantile(np.asarray(samples), quantile)) if samples else 0.0
    method = NoiseFloorMethod(method="filler", samples=len(samples), quantile=quantile, minimum=MINIMUM, filler=FILLER)
    return NoiseFloor(max(value, MINIMUM), method)


@dataclass(frozen=True)
class NullProbe:
    """A chunk with the filler inserted at entry ``at``: the conversation it is an entry of, and the request."""

    filled: Conversation
    request: PromptRequest
    at: int


def null_probe(conversation: Conversation, scope: ChunkScope, window: int | None) -> NullProbe | None:
    """The filler request for one chunk, or None when no response follows a place the filler can go.

    The filler goes before the chunk's user or assistant entry nearest the middle of its memory entries (never
    before a tool result, which belongs with its call), and before at least one response of the chunk. With
    ``window`` N the request ends at the N-th response after the filler.
    """
    entries = conversation.entries
    responses = [e for e in scope.entries if entries[e].is_response]
    if not responses:
        return None
    places = [e for e in scope.entries if entries[e].role in ("user", "assistant") and e <= responses[-1]]
    if not places:
        return None
    memories = [e for e in scope.entries if entries[e].is_memory]
    target = memories[len(memories) // 2] if memories else scope.entries[0]
    at = min(places, key=lambda e: (abs(e - target), e))
    filled = conversation.model_copy(update={"entries": [*entries[:at], Entry(role="user", content=FILLER),
                                                         *entries[at:]]})
    sent = [e if e < at else e + 1 for e in scope.entries]
    sent.insert(sent.index(at + 1), at)
    if window is not None:
        later = [i for i, e in enumerate(sent) if e > at and filled.entries[e].is_response]
        if len(later) >= window:
            sent = sent[: later[window - 1] + 1]
    return NullProbe(filled, PromptRequest("baseline", scope.number, tuple(sent)), at)


def null_samples(probe: NullProbe, scored: ResponseLogprobs, baseline: ResponseLogprobs) -> list[float]:
    """Clipped divergence of each response after the filler when it is removed; a response tokenised
    differently with the filler gives no sample."""
    samples = []
    for entry, logprobs in scored.logprobs.items():
        original = entry - 1
        if entry <= probe.at or original not in baseline.logprobs:
            continue
        if not np.array_equal(scored.token_ids[entry], baseline.token_ids[original]):
            continue
        clipped, _ = response_divergences(logprobs, baseline.logprobs[original], [len(logprobs)])
        samples.append(float(clipped[0]))
    return samples
