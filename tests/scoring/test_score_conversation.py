"""The engine against the embedded app: re-planning on context length, the alignment guard, isolation."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from memscore_core.ablation.chunking import chunk_budget, plan_chunks
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.bench.corpus import BenchShape, bench_conversation
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.serve import load_model
from memscore_core.errors import AlignmentError, ContextLengthError
from memscore_core.formats.loading import LoadedConversation
from memscore_core.model.conversation import Conversation, Entry
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.batch import direct_scorer, score_batch
from memscore_core.scoring.conversation import score_conversation
from memscore_core.scoring.outcome import Outcome
from memscore_core.scoring.sending import pool_sender, pooled_sender
from memscore_core.settings import DEFAULT_MODEL_DIR

TEMPLATES = Path(__file__).parents[1] / "data" / "templates"
SHAPE = BenchShape(conversations=1, memories=3, chunks=3, responses_per_chunk=4)


def backend(options: ServerOptions, rewrite: Callable[[dict, dict], None] | None = None) -> VllmBackend:
    """The embedded app; ``rewrite(request, response)`` may alter a response body (a misbehaving server)."""
    app = httpx.ASGITransport(app=build_app(load_model(DEFAULT_MODEL_DIR), options))

    class Rewriting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await app.handle_async_request(request)
            if rewrite is None or request.method != "POST":
                return response
            body = orjson.loads(await response.aread())
            rewrite(orjson.loads(request.content), body)
            return httpx.Response(response.status_code, headers={"content-type": "application/json"},
                                  content=orjson.dumps(body))

    return VllmBackend(base_url="http://embedded/v1", transport=Rewriting(), retry=RetryPolicy(attempts=1))


def score(conversation: Conversation, scorer: VllmBackend, config: ScoringConfig) -> ConversationScore:
    async def run() -> ConversationScore:
        async with scorer, scorer_pool(scorer) as pool:
            return await score_conversation(conversation, pool_sender(pool), config, model=await scorer.model())
    return asyncio.run(run())


def scorer_pool(scorer: VllmBackend):  # type: ignore[no-untyped-def]
    from memscore_core.backends.pool import RequestPool
    return RequestPool(scorer, 4)


def test_a_context_length_rejection_halves_the_chunks_until_they_fit() -> None:
    conversation = bench_conversation(SHAPE, 0)
    small = score(conversation, backend(ServerOptions(max_model_len=400)), ScoringConfig())
    halvings = next(k for k in range(20) if plan_chunks(conversation.entries, chunk_budget(
        conversation, 50_000 // 2 ** k)) == small.chunks)
    direct = score(conversation, backend(ServerOptions()), ScoringConfig(chunk_tokens=50_000 // 2 ** halvings))
    assert halvings > 0 and len(small.chunks) > 1
    for got, want in zip(small.matrix, direct.matrix, strict=True):
        assert got == pytest.approx(want, abs=1e-5)


def test_an_entry_bigger_than_the_context_fails_only_its_conversation() -> None:
    huge = Conversation(id="huge", entries=[Entry(role="user", content="x " * 3000, memory_key="k"),
                                            Entry(role="assistant", content="ok")])
    fine = bench_conversation(SHAPE, 0)
    loaded = [LoadedConversation(huge, "a.jsonl", 1), LoadedConversation(fine, "a.jsonl", 2)]

    async def run() -> list[Outcome]:
        scorer = backend(ServerOptions(max_model_len=1024))
        async with scorer, pooled_sender(scorer, ScoringConfig(), 8) as send:
            scored = score_batch(loaded, direct_scorer(send, ScoringConfig(), await scorer.model()), ScoringConfig())
            return [outcome async for outcome in scored]
    first, second = asyncio.run(run())
    assert isinstance(first.error, ContextLengthError)
    assert "does not fit even one exchange per chunk" in str(first.error)
    assert second.score is not None and second.error is None


def test_responses_tokenised_differently_without_a_memory_fail_the_conversation_loudly() -> None:
    conversation = bench_conversation(SHAPE, 0)

    def retokenise_ablations(request: dict, body: dict) -> None:
        if len(request["messages"]) < len(conversation.entries) + 1 and body.get("prompt_logprobs"):
            last = body["prompt_logprobs"][-3]
            key, info = next(iter(last.items()))
            body["prompt_logprobs"][-3] = {str(int(key) + 1): info}
            body["prompt_token_ids"][-3] = int(key) + 1

    with pytest.raises(AlignmentError, match=f"conversation '{conversation.id}': response at entry"):
        score(conversation, backend(ServerOptions(), retokenise_ablations), ScoringConfig(chunk_tokens=50_000))


def test_cells_of_responses_in_other_chunks_than_the_memory_are_exactly_zero() -> None:
    conversation = bench_conversation(SHAPE, 0)
    result = score(conversation, backend(ServerOptions()), ScoringConfig(chunk_tokens=SHAPE.chunk_tokens()))
    chunk_of = {entry: n for n, chunk in enumerate(result.chunks) for entry in chunk}
    assert len(result.chunks) == SHAPE.chunks
    for memory, row in zip(result.memory_entry_indices, result.matrix, strict=True):
        outside = [cell for r, cell in zip(result.response_entry_indices, row, strict=True)
                   if chunk_of[r] != chunk_of[memory]]
        assert outside and all(cell == 0.0 for cell in outside)
        assert any(cell for cell in row)


def test_a_window_scores_the_n_responses_after_each_memory_and_leaves_every_later_cell_null() -> None:
    conversation = bench_conversation(SHAPE, 0)
    window = SHAPE.responses_per_chunk + 2  # reaches two responses into the next chunk
    result = score(conversation, backend(ServerOptions()),
                   ScoringConfig(chunk_tokens=SHAPE.chunk_tokens(), window=window))
    responses = result.response_entry_indices
    past_window = [[r for r in responses if r > memory][window:] for memory in result.memory_entry_indices]
    unscored = [[r for r, cell in zip(responses, row, strict=True) if cell is None] for row in result.matrix]
    assert unscored == past_window and any(past_window)


def test_tool_memories_and_reasoning_score_under_a_qwen_style_template(tmp_path: Path) -> None:
    model_dir = tmp_path / "qwen-style"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    shutil.copy(TEMPLATES / "qwen-style.jinja", model_dir / "chat_template.jinja")
    conversation = Conversation(id="tools", system_prompt="You remember.", entries=[
        Entry(role="user", content="Where do I live and who is my manager?"),
        Entry(role="tool", content="The user lives in Varnholt.", tool_call_id="c1", memory_key="home/city"),
        Entry(role="tool", content="The user's manager is Idra Quell.", tool_call_id="c2", memory_key="people/manager"),
        Entry(role="assistant", content="You live in Varnholt.", reasoning="The city memory says so."),
        Entry(role="user", content="And my manager?"),
        Entry(role="assistant", content="Your manager is Idra Quell.")])
    scorer = VllmBackend(base_url="http://embedded/v1", retry=RetryPolicy(attempts=1),
                         transport=httpx.ASGITransport(app=build_app(load_model(model_dir), ServerOptions())))
    result = score(conversation, scorer, ScoringConfig())
    tokenizer = load_model(model_dir).tokenizer
    assert result.response_tokens == [len(tokenizer.encode(entry.content)) for entry in conversation.entries
                                      if entry.role == "assistant"]
    assert result.memory_keys == ["home/city", "people/manager"]
    assert all(cell is not None for row in result.matrix for cell in row)
