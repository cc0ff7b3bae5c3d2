"""Assemble a conversation's result from its chunks' outcomes, whichever strategy scored each chunk.

A memory's row takes, in each chunk holding it, that chunk's cells: exact cells where its own removal was
sent, else NULL in ``matrix`` with the estimate in ``screened`` (and a surrogate's weight in
``signed_matrix``), only in the columns its own removal request would have scored (its window). Outside the
chunks holding it a row is 0 up to the end of its window and NULL past it, as for the exact strategy.
``memory_weights`` and ``response_scores`` sum exact cells only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memscore_core.ablation.divergence import column_sums, row_sums
from memscore_core.ablation.effects import window_end
from memscore_core.ablation.requests import AblationPlan
from memscore_core.ablation.responses import ResponseLogprobs
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore, content_hash
from memscore_core.strategies.noise_floor import NoiseFloor
from memscore_core.strategies.outcome import ChunkOutcome
from memscore_core.strategies.scope import Asker, ChunkScope

Cells = list[float | None]


def assemble(conversation: Conversation, plan: AblationPlan, scopes: Sequence[ChunkScope],
             outcomes: Sequence[ChunkOutcome], baseline: ResponseLogprobs, asker: Asker, *, strategy: str,
             model: str, floor: NoiseFloor | None) -> ConversationScore:
    """The conversation's score from every chunk's outcome."""
    refs, responses = conversation.memories, plan.responses
    width = len(responses)
    matrix: list[Cells] = []
    signed: list[Cells] = []
    screened: list[Cells] = []
    for row, ref in enumerate(refs):
        visible = width if ref.entry is None else window_end(plan, ref.entry)
        clipped_row: Cells = [0.0] * visible + [None] * (width - visible)
        signed_row: Cells = list(clipped_row)
        screened_row: Cells = [None] * width
        for scope, outcome in zip(scopes, outcomes, strict=True):
            if row not in scope.rows:
                continue
            reach = _own_reach(conversation, plan, scope, row)
            exact = outcome.exact.get(row)
            estimate, weight = outcome.estimated.get(row), outcome.weights.get(row)
            for offset, column in enumerate(range(scope.lo, scope.hi)):
                clipped_row[column] = signed_row[column] = None
                if exact is not None:
                    clipped_row[column] = _cell(exact.clipped[offset])
                    signed_row[column] = _cell(exact.signed[offset])
                elif reach[offset]:
                    screened_row[column] = None if estimate is None else _cell(estimate[offset])
                    signed_row[column] = None if weight is None else _cell(weight[offset])
        matrix.append(clipped_row)
        signed.append(signed_row)
        screened.append(screened_row)
    drop_all: Cells = [0.0] * width
    fit_r2: Cells = [None] * width
    for scope, outcome in zip(scopes, outcomes, strict=True):
        if outcome.drop_all is not None:
            drop_all[scope.lo:scope.hi] = [_cell(value) for value in outcome.drop_all.clipped]
        if outcome.fit_r2 is not None:
            fit_r2[scope.lo:scope.hi] = [_cell(value) for value in outcome.fit_r2]
    estimated = any(outcome.estimated for outcome in outcomes)
    return ConversationScore(
        conversation_id=conversation.id, content_hash=content_hash(conversation), strategy=strategy, model=model,
        memory_keys=[ref.key for ref in refs], memory_entry_indices=[ref.entry for ref in refs],
        response_entry_indices=list[int | None](responses),
        response_tokens=[len(baseline.token_ids.get(r, ())) for r in responses],
        matrix=matrix, signed_matrix=signed, memory_weights=row_sums(matrix),
        response_scores=column_sums(matrix, width), drop_all=drop_all,
        requests=asker.requests, prompt_tokens=asker.prompt_tokens, chunks=plan.chunks,
        screened=screened if estimated else None,
        fit_r2=fit_r2 if any(outcome.fit_r2 is not None for outcome in outcomes) else None,
        chunk_strategies=[outcome.strategy for outcome in outcomes],
        noise_floor=None if floor is None else floor.value,
        noise_floor_method=None if floor is None else floor.method,
    )


def _own_reach(conversation: Conversation, plan: AblationPlan, scope: ChunkScope, row: int) -> list[bool]:
    """Which of the chunk's columns the removal of ``row`` alone scores (its window; not changed or removed)."""
    request = plan.removal(conversation, "ablate", scope.number, [row])
    sent = set(request.entries) - set(request.removed) - request.changed
    return [r in sent for r in plan.responses[scope.lo:scope.hi]]


def _cell(value: float | np.floating) -> float | None:
    return None if np.isnan(value) else float(value)
