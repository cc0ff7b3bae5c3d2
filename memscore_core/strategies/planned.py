"""What every strategy over a plan of chunks shares (all but the seed): the plan, the fillers that ``replace``
measures in the baselines, and re-chunking after a context-length rejection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from memscore_core.ablation.chunking import chunk_budget
from memscore_core.ablation.fillers import memory_fillers
from memscore_core.ablation.requests import AblationPlan, PromptRequest, plan_exact, plan_over
from memscore_core.ablation.responses import ResponseLogprobs, read_responses
from memscore_core.errors import ContextLengthError
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import ModelCall, RequestOptions, ScoredPrompt, Send
from memscore_core.model.result import ConversationScore
from memscore_core.strategies.spec import StrategySettings

Answered = dict[PromptRequest, ResponseLogprobs]
ScorePlan = Callable[[AblationPlan, Answered], Awaitable[ConversationScore]]
"""Score a conversation over a plan, given the requests already answered (the baselines, under ``replace``)."""


async def over_plan(conversation: Conversation, send: Send, settings: StrategySettings,
                    score: ScorePlan) -> ConversationScore:
    """``score`` over the plan of ``settings``' chunks (with fillers under ``replace``), halving the chunks after
    each context-length rejection."""
    chunk_tokens = settings.chunk_tokens
    while True:
        plan = plan_exact(conversation, chunk_tokens, settings.window)
        try:
            plan, answered = await _ablation_plan(conversation, plan, send, settings.ablation)
            return await score(plan, answered)
        except ContextLengthError as exc:
            chunk_tokens = smaller_chunks(conversation, chunk_tokens, exc)


def smaller_chunks(conversation: Conversation, chunk_tokens: int, error: ContextLengthError) -> int:
    """Half the chunk budget after a context-length rejection; re-raise once chunks cannot shrink further."""
    if chunk_budget(conversation, chunk_tokens) == 0:
        raise ContextLengthError(f"conversation {conversation.id!r} does not fit even one exchange per "
                                 f"chunk: {error}", status=error.status) from None
    return chunk_tokens // 2


async def ask(conversation: Conversation, send: Send, request: PromptRequest) -> ResponseLogprobs:
    """Send ``request`` and read the responses it scored."""
    return read_responses(conversation, request, await send_request(conversation, send, request))


async def send_request(conversation: Conversation, send: Send, request: PromptRequest) -> ScoredPrompt:
    """Send ``request`` with memscore's request options, labelled with the conversation and the request."""
    return await send(ModelCall(request.prompt(conversation), RequestOptions(), f"{conversation.id}-{request.label()}"))


async def _ablation_plan(conversation: Conversation, plan: AblationPlan, send: Send, ablation: str
                         ) -> tuple[AblationPlan, Answered]:
    """``plan`` as ``ablation`` needs it, with the requests already answered: for ``replace``, the baselines are
    sent first and each memory's filler is measured in them."""
    if ablation == "remove" or not conversation.memories:
        return plan, {}
    scored = await asyncio.gather(*(send_request(conversation, send, request) for request in plan.baseline))
    filled = plan_over(conversation, plan.chunks, plan.window, memory_fillers(conversation, plan, scored))
    return filled, {request: read_responses(conversation, request, answer)
                    for request, answer in zip(plan.baseline, scored, strict=True)}
