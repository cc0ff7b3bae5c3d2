"""The exact strategy: each memory removed alone from its chunk; one baseline and one drop-all per chunk."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping

from memscore_core.ablation.chunking import CHARS_PER_TOKEN
from memscore_core.ablation.divergence import column_sums, row_sums
from memscore_core.ablation.effects import chunk_columns, removal_row, window_end
from memscore_core.ablation.requests import AblationPlan, PromptRequest, plan_exact
from memscore_core.ablation.responses import ResponseLogprobs, merged
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import Send
from memscore_core.model.result import ConversationScore, content_hash
from memscore_core.strategies.outcome import ChunkOutcome
from memscore_core.strategies.planned import Answered, ask, over_plan
from memscore_core.strategies.scope import ChunkContext, Effect
from memscore_core.strategies.spec import StrategySettings, StrategySpec


async def score_exact(conversation: Conversation, send: Send, settings: StrategySettings, model: str
                      ) -> ConversationScore:
    """Every planned request sent at once (the pool bounds them), then one aggregation."""
    async def over(plan: AblationPlan, answered: Answered) -> ConversationScore:
        rest = [request for request in plan.requests if request not in answered]
        answers = await asyncio.gather(*(ask(conversation, send, request) for request in rest))
        return aggregate_exact(conversation, plan, answered | dict(zip(rest, answers, strict=True)), model=model)

    return await over_plan(conversation, send, settings, over)


def estimate_exact(conversation: Conversation, settings: StrategySettings) -> int:
    """Prompt tokens of every planned request."""
    plan = plan_exact(conversation, settings.chunk_tokens, settings.window)
    return sum(request.prompt(conversation).size() for request in plan.requests) // CHARS_PER_TOKEN


async def exact_chunk(context: ChunkContext, drop_all: Awaitable[Effect]) -> ChunkOutcome:
    """One chunk of a chunk-wise strategy scored exactly: every memory of the chunk removed alone."""
    rows = context.scope.rows
    requests = [context.removal([row]) for row in rows]
    effects = await asyncio.gather(*(context.measure(request, request.label()) for request in requests))
    return ChunkOutcome("exact", exact=dict(zip(rows, effects, strict=True)), drop_all=await drop_all)


def aggregate_exact(conversation: Conversation, plan: AblationPlan,
                    results: Mapping[PromptRequest, ResponseLogprobs], *, model: str) -> ConversationScore:
    """The conversation's score from the answers to every planned request."""
    refs, responses = conversation.memories, plan.responses
    baseline = merged(results[request] for request in plan.baseline)
    columns = chunk_columns(plan)
    matrix: list[list[float | None]] = []
    signed: list[list[float | None]] = []
    for ref, row in zip(refs, plan.rows, strict=True):
        visible = len(responses) if ref.entry is None else window_end(plan, ref.entry)
        clipped_row, signed_row = removal_row(conversation, row, results, baseline, columns, responses, visible)
        matrix.append(clipped_row)
        signed.append(signed_row)
    drop_rows = {request.chunk: removal_row(conversation, [request], results, baseline, columns, responses,
                                     len(responses))[0]
                 for request in plan.drop_all}
    drop_all = [drop_rows[plan.chunk_of[r]][j] if plan.chunk_of[r] in drop_rows else 0.0
                for j, r in enumerate(responses)]
    requests = plan.requests
    return ConversationScore(
        conversation_id=conversation.id, content_hash=content_hash(conversation), strategy="exact", model=model,
        memory_keys=[ref.key for ref in refs], memory_entry_indices=[ref.entry for ref in refs],
        response_entry_indices=list[int | None](responses),
        response_tokens=[len(baseline.token_ids.get(r, ())) for r in responses],
        matrix=matrix, signed_matrix=signed, memory_weights=row_sums(matrix),
        response_scores=column_sums(matrix, len(responses)), drop_all=drop_all,
        requests=len(requests), prompt_tokens=sum(results[request].prompt_tokens for request in requests),
        chunks=plan.chunks,
    )


EXACT = StrategySpec("exact", score_exact, estimate_exact)
