"""The exact strategy as pure functions: plan the requests, read their responses, aggregate.

Chunk boundaries are fixed from the full conversation. Removing memory ``m`` re-scores only the
chunk that holds ``m`` (responses elsewhere cannot see it, so their cells are exactly 0). One more
request per chunk that holds a memory removes all of that chunk's memories (``drop_all``).

Requests per conversation = chunks + memories + chunks holding a memory.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from memscore_core.chunking import chunk_budget, plan_chunks
from memscore_core.conversation import Conversation
from memscore_core.divergence import column_sums, response_divergences, row_sums
from memscore_core.errors import AlignmentError
from memscore_core.parsing import ScoredPrompt
from memscore_core.prompt import ChatPrompt
from memscore_core.result import ConversationScore, content_hash
from memscore_core.spans import message_spans

RequestKind = Literal["baseline", "ablate", "drop_all"]


@dataclass(frozen=True)
class PromptRequest:
    """One prompt to score: the conversation entries sent (in order) and which were removed."""

    kind: RequestKind
    chunk: int
    entries: tuple[int, ...]
    removed: tuple[int, ...] = ()

    def prompt(self, conversation: Conversation) -> ChatPrompt:
        """What this request sends: the prefix and the kept entries, as chat messages."""
        entries = conversation.entries
        return ChatPrompt(conversation.prefix_messages() + [entries[i].api_message() for i in self.entries])

    def roles(self, conversation: Conversation) -> list[str]:
        prefix = [m["role"] for m in conversation.prefix_messages()]
        return prefix + [conversation.entries[i].role for i in self.entries]


@dataclass(frozen=True)
class ResponseLogprobs:
    """Token ids and log-probs of each scored response, by conversation entry index."""

    token_ids: dict[int, npt.NDArray[np.int64]]
    logprobs: dict[int, npt.NDArray[np.float64]]
    prompt_tokens: int


@dataclass(frozen=True)
class AblationPlan:
    """Every request the exact strategy makes for one conversation."""

    chunks: list[list[int]]
    baseline: list[PromptRequest]
    ablations: list[PromptRequest]
    drop_all: list[PromptRequest]
    window: int | None = None
    chunk_of: dict[int, int] = field(default_factory=dict)
    responses: tuple[int, ...] = ()

    @property
    def requests(self) -> list[PromptRequest]:
        return self.baseline + self.ablations + self.drop_all


def plan_exact(conversation: Conversation, chunk_tokens: int, window: int | None = None) -> AblationPlan:
    """Plan the baseline, one ablation per memory, and one drop-all per chunk holding a memory.

    A conversation without memories needs no request. With ``window`` N, an ablation request ends at the
    N-th response after its memory, and a drop-all request at the N-th after the chunk's last memory.
    """
    chunks = plan_chunks(conversation.entries, chunk_budget(conversation, chunk_tokens))
    chunk_of = {entry: number for number, chunk in enumerate(chunks) for entry in chunk}
    responses = tuple(conversation.response_indices)
    if not conversation.memory_indices:
        return AblationPlan(chunks, [], [], [], window, chunk_of, responses)
    baseline = [PromptRequest("baseline", number, tuple(chunk)) for number, chunk in enumerate(chunks)]
    ablations = []
    for memory in conversation.memory_indices:
        chunk = chunks[chunk_of[memory]]
        kept = [entry for entry in chunk if entry != memory]
        if window is not None:
            kept = _truncate_after(conversation, kept, memory, window)
        ablations.append(PromptRequest("ablate", chunk_of[memory], tuple(kept), (memory,)))
    drop_all = []
    for number, chunk in enumerate(chunks):
        memories = tuple(entry for entry in chunk if conversation.entries[entry].is_memory)
        if memories:
            kept = [entry for entry in chunk if entry not in memories]
            if window is not None:
                kept = _truncate_after(conversation, kept, memories[-1], window)
            drop_all.append(PromptRequest("drop_all", number, tuple(kept), memories))
    return AblationPlan(chunks, baseline, ablations, drop_all, window, chunk_of, responses)


def _window_end(plan: AblationPlan, memory: int) -> int:
    """How many response columns, from the first, lie before the end of ``memory``'s window (all without one)."""
    if plan.window is None:
        return len(plan.responses)
    return min(len(plan.responses), bisect_right(plan.responses, memory) + plan.window)


def _truncate_after(conversation: Conversation, kept: list[int], memory: int, window: int) -> list[int]:
    seen = 0
    for position, entry in enumerate(kept):
        if entry > memory and conversation.entries[entry].is_response:
            seen += 1
            if seen == window:
                return kept[: position + 1]
    return kept


def read_responses(conversation: Conversation, request: PromptRequest, scored: ScoredPrompt) -> ResponseLogprobs:
    """Split a scored prompt into the responses of the entries it sent."""
    spans = message_spans(scored, request.roles(conversation))
    offset = len(conversation.prefix_messages())
    token_ids, logprobs = {}, {}
    for span, entry in zip(spans[offset:], request.entries, strict=True):
        if span.role == "assistant":
            token_ids[entry] = scored.token_ids[span.response]
            logprobs[entry] = scored.logprobs[span.response]
    return ResponseLogprobs(token_ids, logprobs, scored.prompt_tokens)


def aggregate_exact(conversation: Conversation, plan: AblationPlan,
                    results: Mapping[PromptRequest, ResponseLogprobs], *, model: str) -> ConversationScore:
    """The conversation's score from the answers to every planned request."""
    memories, responses = conversation.memory_indices, conversation.response_indices
    baseline = ResponseLogprobs({}, {}, 0)
    for request in plan.baseline:
        baseline.token_ids.update(results[request].token_ids)
        baseline.logprobs.update(results[request].logprobs)
    column = {r: j for j, r in enumerate(responses)}
    matrix: list[list[float | None]] = []
    signed: list[list[float | None]] = []
    for request in plan.ablations:
        clipped_row, signed_row = _row(conversation, plan, request, results[request], baseline, column)
        matrix.append(clipped_row)
        signed.append(signed_row)
    drop_rows = {request.chunk: _row(conversation, plan, request, results[request], baseline, column)[0]
                 for request in plan.drop_all}
    drop_all = [drop_rows[plan.chunk_of[r]][j] if plan.chunk_of[r] in drop_rows else 0.0
                for j, r in enumerate(responses)]
    requests = plan.requests
    return ConversationScore(
        conversation_id=conversation.id, content_hash=content_hash(conversation), strategy="exact", model=model,
        memory_keys=[conversation.entries[m].memory_key or "" for m in memories],
        memory_entry_indices=list[int | None](memories), response_entry_indices=list[int | None](responses),
        response_tokens=[len(baseline.token_ids.get(r, ())) for r in responses],
        matrix=matrix, signed_matrix=signed, memory_weights=row_sums(matrix),
        response_scores=column_sums(matrix, len(responses)), drop_all=drop_all,
        requests=len(requests), prompt_tokens=sum(results[request].prompt_tokens for request in requests),
        chunks=plan.chunks,
    )


def _row(conversation: Conversation, plan: AblationPlan, request: PromptRequest, answer: ResponseLogprobs,
         baseline: ResponseLogprobs, column: Mapping[int, int]) -> tuple[list[float | None], list[float | None]]:
    """(clipped, signed) divergence of every response in ``request``: 0 outside its chunk, None if unscored."""
    end = _window_end(plan, request.removed[-1])
    clipped: list[float | None] = [0.0] * end + [None] * (len(plan.responses) - end)
    unclipped = list(clipped)
    in_chunk = [r for r in plan.chunks[request.chunk] if r in column]
    for r in in_chunk:
        clipped[column[r]] = unclipped[column[r]] = None
    scored = [r for r in in_chunk if r in answer.token_ids and r not in request.removed]
    if not scored:
        return clipped, unclipped
    _check_aligned(conversation, request, answer, baseline, scored)
    sums, signed_sums = response_divergences(
        np.concatenate([baseline.logprobs[r] for r in scored]), np.concatenate([answer.logprobs[r] for r in scored]),
        [len(answer.logprobs[r]) for r in scored])
    for r, value, signed_value in zip(scored, sums.tolist(), signed_sums.tolist(), strict=True):
        clipped[column[r]], unclipped[column[r]] = value, signed_value
    return clipped, unclipped


def _check_aligned(conversation: Conversation, request: PromptRequest, answer: ResponseLogprobs,
                   baseline: ResponseLogprobs, scored: list[int]) -> None:
    """Each scored response must be the same tokens as in the baseline."""
    same_lengths = all(len(baseline.token_ids[r]) == len(answer.token_ids[r]) for r in scored)
    if same_lengths and np.array_equal(np.concatenate([baseline.token_ids[r] for r in scored]),
                                       np.concatenate([answer.token_ids[r] for r in scored])):
        return
    response = next(r for r in scored if not np.array_equal(baseline.token_ids[r], answer.token_ids[r]))
    raise AlignmentError(
        f"conversation {conversation.id!r}: response at entry {response} was tokenised differently "
        f"without entries {list(request.removed)} ({len(baseline.token_ids[response])} vs "
        f"{len(answer.token_ids[response])} tokens)")
