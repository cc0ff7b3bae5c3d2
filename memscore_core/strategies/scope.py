"""What a chunk-wise strategy works on: one chunk's memories and response columns, and the effect of one request.

A chunk's memories are the rows of ``Conversation.memories`` it holds, in reading order: the system memories
(in every chunk's prefix) first, then its memory entries. An *effect* is the clipped and signed divergence
of each response column of the chunk when a request removes something; NaN where the request did not score
the response (outside its window, removed, or changed by cut tool calls).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from memscore_core.ablation.effects import chunk_columns, removal_row
from memscore_core.ablation.requests import AblationPlan, PromptRequest, RequestKind
from memscore_core.ablation.responses import ResponseLogprobs, read_responses
from memscore_core.model.conversation import Conversation, MemoryRef
from memscore_core.model.prompt import ChatPrompt, ScoredPrompt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

SendPrompt = Callable[[ChatPrompt, str], Awaitable[ScoredPrompt]]
"""Send one prompt with a label (for logs and task names); the engine's request path."""


class Asker:
    """Sends requests of one conversation through ``send``, each distinct prompt once, and counts them.

    Requests that differ only in kind send the same prompt (a chunk's only memory: its removal is the
    drop-all), so they are sent once. ``conversation`` names a conversation derived from the one scored
    (a null ablation's, with a filler inserted); its requests never share answers with the original's.
    ``answered``: requests already sent for this conversation, with their responses (counted as sent).
    """

    def __init__(self, conversation: Conversation, send: SendPrompt,
                 answered: Mapping[PromptRequest, ResponseLogprobs] | None = None) -> None:
        self.conversation = conversation
        self._send = send
        self._answers: dict[tuple[bool, PromptRequest], asyncio.Future[ResponseLogprobs]] = {}
        for request, answer in (answered or {}).items():
            future = asyncio.get_running_loop().create_future()
            future.set_result(answer)
            self._answers[(False, replace(request, kind="ablate"))] = future

    def __call__(self, request: PromptRequest, label: str,
                 conversation: Conversation | None = None) -> asyncio.Future[ResponseLogprobs]:
        """The responses of ``request`` (entries of ``conversation``, by default the one scored), sent now."""
        key = (conversation is not None, replace(request, kind="ablate"))
        if key not in self._answers:
            self._answers[key] = asyncio.ensure_future(self._read(conversation or self.conversation, request,
                                                                  f"{self.conversation.id}-{label}"))
        return self._answers[key]

    async def _read(self, source: Conversation, request: PromptRequest, label: str) -> ResponseLogprobs:
        return read_responses(source, request, await self._send(request.prompt(source), label))

    def cancel(self) -> None:
        """Stop every request still waiting (the conversation failed, or is re-planned); the failures of the
        others were reported once, by whoever awaited first."""
        for answer in self._answers.values():
            if not answer.done():
                answer.cancel()
            elif not answer.cancelled():
                answer.exception()

    @property
    def requests(self) -> int:
        return len(self._answers)

    @property
    def prompt_tokens(self) -> int:
        return sum(answer.result().prompt_tokens for answer in self._answers.values()
                   if answer.done() and not answer.cancelled() and answer.exception() is None)


def position(ref: MemoryRef) -> int:
    """Where a memory sits in reading order: its entry index, or -1 for a system memory (before every entry)."""
    return -1 if ref.entry is None else ref.entry


@dataclass(frozen=True)
class ChunkScope:
    """One chunk of a plan: its number, entries, memory rows in reading order and response columns [lo, hi)."""

    number: int
    entries: tuple[int, ...]
    rows: tuple[int, ...]
    lo: int
    hi: int


def chunk_scopes(conversation: Conversation, plan: AblationPlan) -> list[ChunkScope]:
    """Every chunk of ``plan`` as a :class:`ChunkScope`."""
    refs = conversation.memories
    system = [row for row, ref in enumerate(refs) if ref.entry is None]
    scopes = []
    for number, ((lo, hi), chunk) in enumerate(zip(chunk_columns(plan), plan.chunks, strict=True)):
        held = set(chunk)
        rows = system + [row for row, ref in enumerate(refs) if ref.entry is not None and ref.entry in held]
        scopes.append(ChunkScope(number, tuple(chunk), tuple(rows), lo, hi))
    return scopes


@dataclass(frozen=True)
class Effect:
    """Clipped and signed divergence per response column of a chunk; NaN where not scored."""

    clipped: FloatArray
    signed: FloatArray


@dataclass(frozen=True)
class ChunkContext:
    """What a strategy needs to score one chunk: the conversation, the plan, the chunk, its baseline and an asker."""

    conversation: Conversation
    plan: AblationPlan
    scope: ChunkScope
    baseline: asyncio.Future[ResponseLogprobs]
    ask: Asker

    def removal(self, rows: Collection[int], kind: RequestKind = "ablate", until: int | None = None) -> PromptRequest:
        """The request removing memory ``rows`` from this chunk (for one row, the exact strategy's own); with
        ``until``, ending at that entry."""
        request = self.plan.removal(self.conversation, kind, self.scope.number, sorted(rows))
        return request if until is None else request.ending_at(until)

    def effect(self, request: PromptRequest, answer: ResponseLogprobs) -> Effect:
        """The divergence of each of the chunk's responses in ``answer`` (checked token for token); only once
        the baseline is answered."""
        responses = self.plan.responses
        clipped, signed = removal_row(self.conversation, [request], {request: answer}, self.baseline.result(),
                                      chunk_columns(self.plan), responses, len(responses))
        lo, hi = self.scope.lo, self.scope.hi
        return Effect(_array(clipped[lo:hi]), _array(signed[lo:hi]))

    async def measure(self, request: PromptRequest, label: str) -> Effect:
        """Send ``request`` and return its effect on the chunk's responses."""
        answer = await self.ask(request, label)
        await self.baseline
        return self.effect(request, answer)

    def reach(self, request: PromptRequest) -> BoolArray:
        """Which of the chunk's response columns ``request`` scores (sent, not removed, not changed)."""
        sent = set(request.entries) - set(request.removed) - request.changed
        return np.array([r in sent for r in self.responses], dtype=bool)

    def after(self, rows: Collection[int]) -> BoolArray:
        """Which of the chunk's response columns come after the first of ``rows``: the only ones it can move."""
        first = min(position(self.conversation.memories[row]) for row in rows)
        return np.array([r > first for r in self.responses], dtype=bool)

    @property
    def responses(self) -> tuple[int, ...]:
        return self.plan.responses[self.scope.lo:self.scope.hi]

    @property
    def composes(self) -> bool:
        """Whether removals leave every other token in place (memories replaced by fillers), so effects add up."""
        return self.plan.fillers is not None


def _array(cells: Sequence[float | None]) -> FloatArray:
    return np.array([np.nan if cell is None else cell for cell in cells], dtype=np.float64)
