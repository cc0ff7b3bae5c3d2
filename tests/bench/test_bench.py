"""The benchmark's token accounting (not its timings): exact and windowed exact against seed, measured."""

from __future__ import annotations

import pytest

from memscore_core.ablation.chunking import chunk_budget, plan_chunks
from memscore_core.bench.corpus import BenchShape, bench_corpus, predicted_token_ratio
from memscore_core.bench.run import BenchReport, run_bench
from memscore_core.config import ScoringConfig

SHAPE = BenchShape(conversations=1, memories=8, chunks=4, responses_per_chunk=24)


@pytest.fixture(scope="module")
def report(server: str, tmp_path_factory: pytest.TempPathFactory) -> BenchReport:
    chunk_tokens = SHAPE.chunk_tokens()
    strategies = {"seed": ScoringConfig(strategy="seed", chunk_tokens=chunk_tokens),
                  "exact": ScoringConfig(chunk_tokens=chunk_tokens),
                  "exact-window": ScoringConfig(chunk_tokens=chunk_tokens, window=4)}
    return run_bench(SHAPE, tmp_path_factory.mktemp("bench"), base_url=server, strategies=strategies,
                     concurrency=4, slots=None, with_client=False)


def test_the_corpus_has_the_designed_chunks_with_memories_where_each_begins() -> None:
    [conversation] = bench_corpus(SHAPE)
    chunks = plan_chunks(conversation.entries, chunk_budget(conversation, SHAPE.chunk_tokens()))
    assert [sum(1 for i in chunk if conversation.entries[i].memory_key) for chunk in chunks] == [2, 2, 2, 2]
    assert all(conversation.entries[chunk[0]].memory_key for chunk in chunks)


def test_seed_sends_one_full_pass_per_memory_plus_the_baseline(report: BenchReport) -> None:
    seed = next(row for row in report.rows if row.strategy == "seed")
    assert seed.measurement.requests == (SHAPE.memories + 1) * SHAPE.chunks


def test_exact_sends_at_most_045_of_seeds_prompt_tokens_as_predicted(report: BenchReport) -> None:
    exact = next(row for row in report.rows if row.strategy == "exact")
    assert exact.measurement.requests == SHAPE.chunks + SHAPE.memories + SHAPE.chunks
    assert exact.tokens_vs_seed is not None and exact.tokens_vs_seed <= 0.45
    assert exact.tokens_vs_seed == pytest.approx(predicted_token_ratio(8, 4, 4), abs=0.02)


def test_a_window_of_4_sends_at_most_02_of_seeds_prompt_tokens(report: BenchReport) -> None:
    windowed = next(row for row in report.rows if row.strategy == "exact-window")
    assert windowed.tokens_vs_seed is not None and windowed.tokens_vs_seed <= 0.2
