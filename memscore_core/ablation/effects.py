"""A removal's effect on each response: divergence rows, the alignment checks, windows and chunk columns."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence

import numpy as np

from memscore_core.ablation.divergence import response_divergences
from memscore_core.ablation.requests import AblationPlan, PromptRequest
from memscore_core.ablation.responses import ResponseLogprobs
from memscore_core.errors import AlignmentError
from memscore_core.model.conversation import Conversation


def window_end(plan: AblationPlan, memory: int) -> int:
    """How many response columns, from the first, lie before the end of ``memory``'s window (all without one)."""
    if plan.window is None:
        return len(plan.responses)
    return min(len(plan.responses), bisect_right(plan.responses, memory) + plan.window)


def chunk_columns(plan: AblationPlan) -> list[tuple[int, int]]:
    """Each chunk's response columns as a range (chunks hold consecutive entries, so their responses too)."""
    return [(bisect_right(plan.responses, chunk[0] - 1), bisect_right(plan.responses, chunk[-1])) if chunk
            else (0, 0) for chunk in plan.chunks]


def removal_row(conversation: Conversation, requests: Sequence[PromptRequest], results: Mapping[PromptRequest,
         ResponseLogprobs], baseline: ResponseLogprobs, columns: Sequence[tuple[int, int]],
         responses: Sequence[int], visible: int) -> tuple[list[float | None], list[float | None]]:
    """(clipped, signed) divergence of every response for one removal re-scored by ``requests``.

    Cells of the re-scored chunks hold what was scored there (None where a response was not sent or was
    changed); elsewhere 0 up to column ``visible`` and None past it.
    """
    clipped: list[float | None] = [0.0] * visible + [None] * (len(responses) - visible)
    for request in requests:
        lo, hi = columns[request.chunk]
        clipped[lo:hi] = [None] * (hi - lo)
    unclipped = list(clipped)
    for request in requests:
        answer = results[request]
        lo, hi = columns[request.chunk]
        skip = set(request.removed) | request.changed
        scored = [(j, r) for j, r in zip(range(lo, hi), responses[lo:hi], strict=True)
                  if r in answer.token_ids and r not in skip]
        if not scored:
            continue
        entries = [r for _, r in scored]
        _check_aligned(conversation, request, answer, baseline, entries)
        sums, signed_sums = response_divergences(
            np.concatenate([baseline.logprobs[r] for r in entries]),
            np.concatenate([answer.logprobs[r] for r in entries]), [len(answer.logprobs[r]) for r in entries])
        for (j, _), value, signed_value in zip(scored, sums.tolist(), signed_sums.tolist(), strict=True):
            clipped[j], unclipped[j] = value, signed_value
    return clipped, unclipped


def _check_aligned(conversation: Conversation, request: PromptRequest, answer: ResponseLogprobs,
                   baseline: ResponseLogprobs, scored: list[int]) -> None:
    """Each scored response must be the same tokens as in the baseline (and, with fillers, in the same place)."""
    if request.keeps_positions:
        moved = next((r for r in scored if answer.starts.get(r) != baseline.starts.get(r)), None)
        if moved is not None:
            raise AlignmentError(
                f"conversation {conversation.id!r}: the fillers of entries {list(request.removed)} and system "
                f"memories {list(request.removed_system)} moved the response at entry {moved} from token "
                f"{baseline.starts.get(moved)} to {answer.starts.get(moved)}: they did not keep the memories' "
                f"token counts")
    same_lengths = all(len(baseline.token_ids[r]) == len(answer.token_ids[r]) for r in scored)
    if same_lengths and np.array_equal(np.concatenate([baseline.token_ids[r] for r in scored]),
                                       np.concatenate([answer.token_ids[r] for r in scored])):
        return
    response = next(r for r in scored if not np.array_equal(baseline.token_ids[r], answer.token_ids[r]))
    removed = list(request.removed) + [f"system memory {i}" for i in request.removed_system]
    raise AlignmentError(
        f"conversation {conversation.id!r}: response at entry {response} was tokenised differently "
        f"without entries {removed} ({len(baseline.token_ids[response])} vs "
        f"{len(answer.token_ids[response])} tokens)")
