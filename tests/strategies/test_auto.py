"""``auto``: exact for chunks with few memories, screening above the measured threshold; the choice is recorded."""

from __future__ import annotations

from memscore_core.ablation.requests import plan_exact
from memscore_core.bench.corpus import BenchShape, bench_conversation
from memscore_core.config import ScoringConfig
from memscore_core.model.result import config_hash
from memscore_core.scoring.conversation import estimated_prompt_tokens
from memscore_core.strategies.auto import EXACT_MAX, chunk_strategy, thresholds
from memscore_core.strategies.chunked import chunk_strategies
from memscore_core.strategies.scope import chunk_scopes
from memscore_core.synth.many import ManyShape, generate_many
from tests.support.embedded_scoring import score

BENCH = BenchShape(conversations=1, memories=8, chunks=4, responses_per_chunk=6)
FEW = bench_conversation(BENCH, 0)
MANY = generate_many(5, 0, ManyShape(memories=EXACT_MAX + 8, used=2, chunks=2))


def test_chunks_with_few_memories_are_scored_exactly_and_many_are_screened() -> None:
    assert chunk_strategy(0) == chunk_strategy(1) == chunk_strategy(EXACT_MAX) == "exact"
    assert chunk_strategy(EXACT_MAX + 1) == "hierarchical"


def test_on_the_bench_corpus_auto_is_exact_cell_for_cell_and_sends_no_more_tokens() -> None:
    exact = score(FEW, ScoringConfig(chunk_tokens=BENCH.chunk_tokens()))
    auto = score(FEW, ScoringConfig(strategy="auto", chunk_tokens=BENCH.chunk_tokens()))
    assert auto.chunk_strategies == ["exact"] * BENCH.chunks
    assert auto.matrix == exact.matrix and auto.signed_matrix == exact.signed_matrix
    assert auto.drop_all == exact.drop_all and auto.screened is None and auto.noise_floor is None
    assert auto.prompt_tokens <= exact.prompt_tokens and auto.requests <= exact.requests


def test_each_chunk_records_the_strategy_auto_chose_for_it() -> None:
    plan = plan_exact(MANY, MANY.meta["chunk_tokens"])
    assert chunk_strategies("auto", chunk_scopes(MANY, plan)) == ["hierarchical", "hierarchical"]
    result = score(MANY, ScoringConfig(strategy="auto", chunk_tokens=MANY.meta["chunk_tokens"]))
    assert result.chunk_strategies == ["hierarchical", "hierarchical"] and result.noise_floor is not None


def test_the_estimate_of_auto_is_exacts_at_few_memories_and_below_it_at_many() -> None:
    for conversation, tokens, cheaper in ((FEW, BENCH.chunk_tokens(), False), (MANY, MANY.meta["chunk_tokens"], True)):
        exact = estimated_prompt_tokens(conversation, ScoringConfig(chunk_tokens=tokens))
        auto = estimated_prompt_tokens(conversation, ScoringConfig(strategy="auto", chunk_tokens=tokens))
        assert auto < exact if cheaper else auto == exact


def test_exact_configurations_hash_as_they_always_have() -> None:
    assert ScoringConfig().hash() == config_hash({"strategy": "exact", "chunk_tokens": 50_000, "window": None})
    assert ScoringConfig(strategy="seed", window=4).result_config() == {"strategy": "seed", "chunk_tokens": 50_000,
                                                                        "window": 4}


def test_auto_results_are_keyed_by_their_thresholds() -> None:
    config = ScoringConfig(strategy="auto").result_config()
    assert thresholds().items() <= config.items()
    assert {"masks", "noise_floor", "floor_quantile"} <= config.keys()
