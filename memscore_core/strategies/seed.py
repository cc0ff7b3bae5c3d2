"""The seed strategy: the original ``score_memories`` number for number, quirks included.

Every ablation re-chunks the remaining entries and re-scores every chunk, strictly one request after
another; responses come from the seed's walker and are zipped (truncating) against the baseline.
It exists for parity and as the benchmark baseline.

Columns are the responses the walker found in the baseline, in order, labelled with the assistant entries
in order. The walker can find more responses than there are assistant entries (a user line that begins
with "assistant" opens one): those extra columns are kept, with ``response_entry_indices`` None. A row
ends at the last response its ablated walk found (the seed zips, truncating); the store reads the cells
past it back as None.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Protocol

from memscore_core.ablation.chunking import CHARS_PER_TOKEN, chunk_budget, plan_chunks
from memscore_core.ablation.divergence import column_sums
from memscore_core.ablation.spans import IM_END, IM_START, THINK_CLOSE, THINK_OPEN
from memscore_core.errors import ConfigError
from memscore_core.model.conversation import Conversation, Entry
from memscore_core.model.prompt import ChatPrompt, ModelCall, RequestOptions, ScoredPrompt, Send
from memscore_core.model.result import ConversationScore, content_hash
from memscore_core.strategies.spec import StrategySettings, StrategySpec


class SeedScorer(Protocol):
    async def __call__(self, prompt: ChatPrompt) -> ScoredPrompt: ...


async def score_seed(conversation: Conversation, score: SeedScorer, *, chunk_tokens: int,
                     model: str) -> ConversationScore:
    """Score ``conversation`` exactly as the seed does; ``score`` sends one seed request.

    The seed knows memories only as entries: a conversation that keeps memories in its system prompt is
    refused rather than scored with those memories silently left out. Tools are sent with every request.
    """
    if conversation.system_memories:
        raise ConfigError(f"conversation {conversation.id!r} keeps {len(conversation.system_memories)} memories in "
                          "its system prompt, which the seed strategy cannot remove: score it with exact")
    memories = conversation.memory_indices
    responses = conversation.response_indices
    counter = _Counter(score)
    matrix: list[list[float]] = []
    baseline: list[list[float]] = []
    if memories and responses:
        baseline = await _response_logprobs(conversation, conversation.entries, counter, chunk_tokens)
        for memory in memories:
            kept = [entry for i, entry in enumerate(conversation.entries) if i != memory]
            without = await _response_logprobs(conversation, kept, counter, chunk_tokens)
            matrix.append(seed_row(baseline, without))
    else:
        memories, responses = [], []
    weights = [sum(row) for row in matrix]
    width = max(len(responses), len(baseline)) if memories else 0
    columns = list[int | None](responses) + [None] * (width - len(responses))
    return ConversationScore(
        conversation_id=conversation.id, content_hash=content_hash(conversation), strategy="seed", model=model,
        memory_keys=[conversation.entries[m].memory_key or "" for m in memories],
        memory_entry_indices=list[int | None](memories), response_entry_indices=columns,
        response_tokens=[len(baseline[j]) if j < len(baseline) else 0 for j in range(width)],
        matrix=[list[float | None](row) for row in matrix], signed_matrix=[[None] * len(row) for row in matrix],
        memory_weights=weights, response_scores=column_sums(matrix, width),
        drop_all=[None] * width, requests=counter.requests, prompt_tokens=counter.prompt_tokens,
        chunks=[],
    )


class _Counter:
    def __init__(self, score: SeedScorer) -> None:
        self._score = score
        self.requests = 0
        self.prompt_tokens = 0

    async def __call__(self, prompt: ChatPrompt) -> ScoredPrompt:
        scored = await self._score(prompt)
        self.requests += 1
        self.prompt_tokens += scored.prompt_tokens
        return scored


async def _response_logprobs(conversation: Conversation, entries: Sequence[Entry], score: SeedScorer,
                             chunk_tokens: int) -> list[list[float]]:
    prefix = conversation.prefix_messages(system_always=True)
    responses: list[list[float]] = []
    for chunk in plan_chunks(entries, chunk_budget(conversation, chunk_tokens)):
        scored = await score(ChatPrompt(prefix + [entries[i].api_message() for i in chunk], conversation.tools))
        responses.extend(seed_walk(scored.tokens, scored.logprobs.tolist()))
    return responses


def seed_walk(tokens: Sequence[str | None], logprobs: Sequence[float]) -> list[list[float]]:
    """The seed's response extraction over (decoded_token, logprob) pairs; ``None`` tokens are skipped.

    >>> seed_walk([None, "<|im_start|>", "assistant", "\\n", "Hi", "<|im_end|>"], [0, 0, 0, 0, -1.5, 0])
    [[-1.5]]
    """
    responses: list[list[float]] = []
    in_assistant = in_think = False
    current: list[float] = []
    for token, logprob in zip(tokens, logprobs, strict=True):
        if token is None:
            continue
        if token == IM_START:
            in_assistant = in_think = False
        elif token == "assistant" and not in_assistant:
            in_assistant, in_think = True, False
            current = []
        elif token == THINK_OPEN and in_assistant:
            in_think = True
        elif token == THINK_CLOSE and in_assistant:
            in_think = False
        elif token == IM_END and in_assistant:
            if current:
                responses.append(current)
                current = []
            in_assistant = False
        elif token == "\n" and in_assistant and not current:
            continue
        elif in_assistant and not in_think:
            current.append(float(logprob))
    return responses


def seed_row(baseline: Sequence[Sequence[float]], without: Sequence[Sequence[float]]) -> list[float]:
    """One seed matrix row: zip responses and tokens (truncating), sum positive drops in order."""
    row = []
    for base_lps, without_lps in zip(baseline, without, strict=False):  # the seed truncates
        total = 0.0
        for b, w in zip(base_lps, without_lps, strict=False):
            d = b - w
            if d > 0.0:
                total += d
        row.append(total)
    return row


async def _score(conversation: Conversation, send: Send, settings: StrategySettings, model: str) -> ConversationScore:
    calls = itertools.count()

    async def seed_request(prompt: ChatPrompt) -> ScoredPrompt:
        return await send(ModelCall(prompt, RequestOptions.seed(), f"{conversation.id}-seed-{next(calls)}"))

    return await score_seed(conversation, seed_request, chunk_tokens=settings.chunk_tokens, model=model)


def _estimate(conversation: Conversation, settings: StrategySettings) -> int:
    """The whole conversation once for the baseline and once more per memory."""
    entries = [entry.api_message() for entry in conversation.entries]
    whole = ChatPrompt(conversation.prefix_messages(system_always=True) + entries)
    return whole.size() * (len(conversation.memories) + 1) // CHARS_PER_TOKEN


SEED = StrategySpec("seed", _score, _estimate, sequential=True, replaces=False,
                    removal_only_why="the seed strategy removes memories, as the original did")
