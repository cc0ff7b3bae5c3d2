"""The seed strategy reproduces the original algorithm's numbers; exact matches it where it is right.

The reference is an independent transliteration of the seed (its own chunking, walker, HTTP and sums),
run against the same real server on loopback.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from memscore_core.ablation.chunking import chunk_budget, plan_chunks
from memscore_core.backends.pool import RequestPool
from memscore_core.backends.vllm import VllmBackend
from memscore_core.bench.corpus import BenchShape, bench_conversation
from memscore_core.config import ScoringConfig
from memscore_core.errors import ConfigError
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.conversation import score_conversation
from memscore_core.scoring.sending import pool_sender
from memscore_core.synth.generator import generate_corpus
from tests.support.seed_reference import score_memories
from tests.support.servers import metric

CONVERSATIONS = list(generate_corpus(4, seed=404))
QUIRKS = Conversation.model_validate({
    "id": "quirks", "system_prompt": "You remember things.",
    "entries": [
        {"role": "user", "content": "The user's dog is called Biscuit.", "memory_key": "pets/dog"},
        {"role": "user", "content": "assistant mode: what is my dog called?"},
        {"role": "assistant", "content": "Your dog is called Biscuit."},
        {"role": "user", "content": "The user's city is Varnholt.", "memory_key": "home/city"},
        {"role": "user", "content": "Say nothing."},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "Think about it."},
        {"role": "assistant", "content": "", "reasoning": "The city is Varnholt."},
        {"role": "user", "content": "Where do I live?"},
        {"role": "assistant", "content": "You live in Varnholt."}]})


def score(conversation: Conversation, server: str, config: ScoringConfig) -> ConversationScore:
    async def run() -> ConversationScore:
        backend = VllmBackend(base_url=server)
        async with RequestPool(backend, 4) as pool:
            result = await score_conversation(conversation, pool_sender(pool), config, model=await backend.model())
        await backend.aclose()
        return result
    return asyncio.run(run())


def reference(conversation: Conversation, server: str, chunk_tokens: int) -> dict[str, Any]:
    entries = [{**entry.model_dump(exclude_none=True, exclude={"meta", "reasoning"}),
                "content": entry.rendered_content()} for entry in conversation.entries]
    return score_memories(conversation.system_prompt, conversation.context, entries, base_url=server,
                          model="memscore-tiny", api_key="unused", scoring_chunk_tokens=chunk_tokens)


@pytest.mark.parametrize("chunk_tokens", [50_000, 300], ids=["one-chunk", "many-chunks"])
@pytest.mark.parametrize("index", range(len(CONVERSATIONS)))
def test_seed_strategy_equals_the_reference_transliteration(server: str, index: int, chunk_tokens: int) -> None:
    conversation = CONVERSATIONS[index]
    got = score(conversation, server, ScoringConfig(strategy="seed", chunk_tokens=chunk_tokens))
    want = reference(conversation, server, chunk_tokens)
    assert list(zip(got.memory_keys, got.memory_weights, strict=True)) == [
        (key, pytest.approx(weight, abs=1e-9)) for key, weight in want["memory_weights"]]
    assert got.response_scores == pytest.approx(want["response_scores"], abs=1e-9)
    for got_row, want_row in zip(got.matrix, want["matrix"], strict=True):
        assert got_row == pytest.approx(want_row, abs=1e-9)


def test_seed_strategy_sends_the_empty_system_message_of_a_conversation_without_a_system_prompt(server: str) -> None:
    conversation = CONVERSATIONS[0].model_copy(update={"system_prompt": ""})
    got = score(conversation, server, ScoringConfig(strategy="seed"))
    want = reference(conversation, server, 50_000)
    assert got.memory_weights == pytest.approx([weight for _, weight in want["memory_weights"]], abs=1e-9)
    for got_row, want_row in zip(got.matrix, want["matrix"], strict=True):
        assert got_row == pytest.approx(want_row, abs=1e-9)


@pytest.mark.parametrize("index", range(len(CONVERSATIONS)))
def test_exact_equals_seed_on_a_single_chunk(server: str, index: int) -> None:
    conversation = CONVERSATIONS[index]
    exact = score(conversation, server, ScoringConfig(strategy="exact"))
    seed = score(conversation, server, ScoringConfig(strategy="seed"))
    for exact_row, seed_row in zip(exact.matrix, seed.matrix, strict=True):
        assert exact_row == pytest.approx(seed_row, abs=1e-5)  # the server's prefix reuse vs full recompute


def test_exact_sends_one_baseline_per_chunk_one_request_per_memory_and_one_drop_all_per_memory_chunk(
        server: str) -> None:
    shape = BenchShape(conversations=1, memories=5, chunks=3, responses_per_chunk=3)
    conversation = bench_conversation(shape, 0)
    before = metric(server, "vllm:request_success_total")
    result = score(conversation, server, ScoringConfig(chunk_tokens=shape.chunk_tokens()))
    chunks_with_memory = sum(1 for chunk in result.chunks
                             if any(conversation.entries[i].memory_key for i in chunk))
    expected = len(result.chunks) + len(result.memory_keys) + chunks_with_memory
    assert (len(result.chunks), chunks_with_memory, expected) == (3, 3, 3 + 5 + 3)
    assert result.requests == expected
    assert metric(server, "vllm:request_success_total") - before == expected


def test_seed_strategy_equals_the_reference_when_ablation_shifts_chunk_boundaries(server: str) -> None:
    shape = BenchShape(conversations=1, memories=4, chunks=3, responses_per_chunk=3)
    conversation = bench_conversation(shape, 1)
    budget = chunk_budget(conversation, shape.chunk_tokens())
    kept = [e for i, e in enumerate(conversation.entries) if i != conversation.memory_indices[0]]
    assert plan_chunks(kept, budget) != [[i for i in chunk if i < len(kept)] for chunk in
                                         plan_chunks(conversation.entries, budget)]
    got = score(conversation, server, ScoringConfig(strategy="seed", chunk_tokens=shape.chunk_tokens()))
    want = reference(conversation, server, shape.chunk_tokens())
    for got_row, want_row in zip(got.matrix, want["matrix"], strict=True):
        assert got_row == pytest.approx(want_row, abs=1e-9)


def test_seed_strategy_equals_the_reference_on_every_quirk_of_the_seed_walker(server: str) -> None:
    got = score(QUIRKS, server, ScoringConfig(strategy="seed"))
    want = reference(QUIRKS, server, 50_000)
    assert [len(row) for row in got.matrix] != [len(got.response_entry_indices)] * len(got.matrix)
    assert list(zip(got.memory_keys, got.memory_weights, strict=True)) == [
        (key, pytest.approx(weight, abs=1e-9)) for key, weight in want["memory_weights"]]
    for got_row, want_row in zip(got.matrix, want["matrix"], strict=True):
        assert got_row == pytest.approx(want_row, abs=1e-9)


def test_exact_keeps_every_response_of_the_quirky_conversation_in_its_own_column(server: str) -> None:
    result = score(QUIRKS, server, ScoringConfig())
    assert result.response_entry_indices == [2, 5, 7, 9]
    assert result.response_tokens[1:3] == [0, 0]
    assert all(len(row) == 4 for row in result.matrix)


def test_the_seed_strategy_refuses_a_conversation_with_system_prompt_memories(server: str) -> None:
    conversation = Conversation.model_validate({
        "id": "core-memory", "system_prompt": "You help.",
        "system_memories": [{"key": "persona", "content": "The user's city is Varnholt."}],
        "entries": [{"role": "user", "content": "Where do I live?"},
                    {"role": "assistant", "content": "You live in Varnholt."}]})
    with pytest.raises(ConfigError, match="keeps 1 memories in its system prompt, which the seed strategy cannot "
                                          "remove: score it with exact"):
        score(conversation, server, ScoringConfig(strategy="seed"))
