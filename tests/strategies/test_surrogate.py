"""The surrogate strategy: the sparse fit recovers planted weights; on the model, seeded masks and estimated cells."""

from __future__ import annotations

import numpy as np
import pytest

from memscore_core.config import ScoringConfig
from memscore_core.model.prompt import ModelCall
from memscore_core.model.result import ConversationScore
from memscore_core.strategies.sparse_fit import fit_sparse
from memscore_core.strategies.surrogate import removal_masks
from memscore_core.synth.many import ManyShape, generate_many
from tests.support.embedded_scoring import score

SMALL = generate_many(11, 0, ManyShape(memories=8, used=1, chunks=1, none_rate=0.0))
CONFIG = ScoringConfig(strategy="surrogate", chunk_tokens=SMALL.meta["chunk_tokens"], masks=32)


def planted(memories: int, weights: dict[int, float], masks: int, noise: float, seed: int
            ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    removed = rng.random((masks, memories)) < 0.5
    truth = np.zeros(memories)
    truth[list(weights)] = list(weights.values())
    return removed, removed @ truth + 0.3 + noise * rng.standard_normal(masks)


def test_the_sparse_fit_recovers_planted_weights_among_many_memories() -> None:
    removed, divergence = planted(256, {17: 4.0, 90: 2.5, 201: 1.5}, 64, 0.05, seed=1)
    fit = fit_sparse(removed, divergence)
    assert list(np.argsort(fit.weights)[::-1][:3]) == [17, 90, 201]
    assert fit.weights[[17, 90, 201]] == pytest.approx([4.0, 2.5, 1.5], abs=0.3)
    assert np.abs(np.delete(fit.weights, [17, 90, 201])).max() < 0.2
    assert fit.r2 is not None and fit.r2 > 0.9


def test_a_fit_to_pure_noise_has_a_low_held_out_r2() -> None:
    removed, _ = planted(64, {}, 64, 0.0, seed=2)
    fit = fit_sparse(removed, np.random.default_rng(3).standard_normal(64))
    assert fit.r2 is not None and fit.r2 < 0.2


def test_a_divergence_that_never_varies_has_no_r2_and_zero_weights() -> None:
    removed, _ = planted(16, {}, 32, 0.0, seed=4)
    fit = fit_sparse(removed, np.zeros(32))
    assert fit.r2 is None and not fit.weights.any()


def test_masks_are_seeded_remove_about_half_and_more_masks_extend_the_same_ones() -> None:
    first = removal_masks("hash:0", 64, 256)
    assert np.array_equal(first, removal_masks("hash:0", 64, 256))
    assert np.array_equal(first[:32], removal_masks("hash:0", 32, 256))
    assert not np.array_equal(first, removal_masks("hash:1", 64, 256))
    assert 0.45 < first.mean() < 0.55


@pytest.fixture(scope="module")
def surrogate() -> tuple[ConversationScore, list[ModelCall]]:
    calls: list[ModelCall] = []
    return score(SMALL, CONFIG, calls=calls), calls


def test_the_used_memory_ranks_first_for_the_answer_that_uses_it(
        surrogate: tuple[ConversationScore, list[ModelCall]]) -> None:
    result, _ = surrogate
    assert result.screened is not None
    answers = [(j, r) for j, r in enumerate(result.response_entry_indices)
               if r is not None and SMALL.entries[r].meta.get("kind") == "one"]
    assert answers
    for column, entry in answers:
        top = max(range(len(result.memory_keys)), key=lambda m: result.signed_matrix[m][column] or -np.inf)
        assert [result.memory_keys[top]] == SMALL.entries[entry].meta["uses_memories"]


def test_surrogate_cells_are_estimates_never_exact_cells(surrogate: tuple[ConversationScore, list[ModelCall]]) -> None:
    result, _ = surrogate
    assert result.screened is not None and result.fit_r2 is not None
    assert all(cell is None for row in result.matrix for cell in row)
    assert result.memory_weights == [0.0] * len(result.memory_keys)
    for row, estimates in zip(result.signed_matrix, result.screened, strict=True):
        for weight, estimate in zip(row, estimates, strict=True):
            assert weight is not None and estimate == max(weight, 0.0)
    assert result.chunk_strategies == ["surrogate"]


def test_the_cost_is_the_masks_the_baseline_and_the_drop_all_each_distinct_prompt_sent_once(
        surrogate: tuple[ConversationScore, list[ModelCall]]) -> None:
    result, calls = surrogate
    assert result.requests == len(calls) <= 32 + 2
    assert len({str(call.prompt.messages) for call in calls}) == len(calls)
    assert sum("-mask-" in call.label for call in calls) > 24


def test_a_rerun_sends_exactly_the_same_requests(surrogate: tuple[ConversationScore, list[ModelCall]]) -> None:
    result, calls = surrogate
    again: list[ModelCall] = []
    rerun = score(SMALL, CONFIG, calls=again)
    assert sorted(str(call.prompt.messages) for call in again) == sorted(str(call.prompt.messages) for call in calls)
    assert rerun == result


def test_memories_after_a_response_weigh_exactly_zero_for_it(
        surrogate: tuple[ConversationScore, list[ModelCall]]) -> None:
    result, _ = surrogate
    for row, memory in enumerate(result.memory_entry_indices):
        for column, response in enumerate(result.response_entry_indices):
            if memory is not None and response is not None and response < memory:
                assert result.signed_matrix[row][column] == 0.0
