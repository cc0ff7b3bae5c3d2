"""Hierarchical screening on the embedded model: leaves are exact, screened cells are NULL with their group's value."""

from __future__ import annotations

import pytest

from memscore_core.ablation.requests import plan_exact
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions
from memscore_core.model.conversation import Conversation, SystemMemory
from memscore_core.model.prompt import ModelCall
from memscore_core.model.result import ConversationScore
from memscore_core.strategies.hierarchical import constants
from memscore_core.synth.many import ManyShape, generate_many
from tests.support.embedded_scoring import score

MANY = generate_many(3, 0, ManyShape(memories=8, used=2, chunks=2))
CHUNK_TOKENS = MANY.meta["chunk_tokens"]
EXACT = ScoringConfig(chunk_tokens=CHUNK_TOKENS)
NEVER = 1e9
"""A floor no removal reaches: nothing below a chunk's drop-all is refined."""


def hierarchical(**settings: object) -> ScoringConfig:
    return ScoringConfig.model_validate({"strategy": "hierarchical", "chunk_tokens": CHUNK_TOKENS, **settings})


def with_system_memories(conversation: Conversation) -> Conversation:
    memories = [SystemMemory(key="persona", content="The assistant is called Quell."),
                SystemMemory(key="user/name", content="The user's name is Drelmo.")]
    return Conversation.model_validate(conversation.model_dump() | {"system_memories": memories})


def chunk_cells(result: ConversationScore, row: int) -> list[int]:
    """Columns of the chunks holding memory ``row`` (every column for a system memory)."""
    entry = result.memory_entry_indices[row]
    chunk = next((c for c in result.chunks if entry in c), None)
    return [j for j, r in enumerate(result.response_entry_indices) if chunk is None or r in chunk]


@pytest.fixture(scope="module")
def exact() -> ConversationScore:
    return score(MANY, EXACT)


def test_with_a_floor_of_zero_every_cell_is_exact_and_equals_the_exact_strategys(exact: ConversationScore) -> None:
    screened = score(MANY, hierarchical(noise_floor=0.0))
    assert screened.matrix == exact.matrix
    assert screened.signed_matrix == exact.signed_matrix
    assert screened.drop_all == exact.drop_all
    assert screened.chunk_strategies == ["hierarchical", "hierarchical"]


def test_memories_refined_to_a_leaf_have_exactly_the_exact_strategys_cells(exact: ConversationScore) -> None:
    result = score(MANY, hierarchical())
    leaves = [row for row in range(len(result.memory_keys))
              if any(result.matrix[row][j] is not None for j in chunk_cells(result, row))]
    assert 0 < len(leaves) < len(result.memory_keys)
    for row in leaves:
        assert result.matrix[row] == exact.matrix[row]
        assert result.signed_matrix[row] == exact.signed_matrix[row]


def test_memories_never_refined_are_null_with_the_value_their_group_showed(exact: ConversationScore) -> None:
    result = score(MANY, hierarchical(noise_floor=NEVER))
    assert result.screened is not None
    for row in range(len(result.memory_keys)):
        for j in chunk_cells(result, row):
            assert result.matrix[row][j] is None and result.signed_matrix[row][j] is None
            assert result.screened[row][j] == exact.drop_all[j]
    assert result.requests == 2 * len(result.chunks)


def test_screened_rows_are_zero_in_chunks_that_cannot_see_them(exact: ConversationScore) -> None:
    result = score(MANY, hierarchical(noise_floor=NEVER))
    for row in range(len(result.memory_keys)):
        outside = set(range(len(result.response_entry_indices))) - set(chunk_cells(result, row))
        assert outside and all(result.matrix[row][j] == 0.0 for j in outside)


def test_screening_sends_fewer_prompt_tokens_than_exact_when_few_memories_matter(exact: ConversationScore) -> None:
    result = score(MANY, hierarchical(noise_floor=5.0))
    assert result.prompt_tokens < exact.prompt_tokens


def test_the_measured_floor_and_how_it_was_obtained_come_with_the_result() -> None:
    result = score(MANY, hierarchical(floor_quantile=0.9))
    method = result.noise_floor_method
    assert result.noise_floor is not None and result.noise_floor > 0
    assert method is not None and method.method == "filler" and method.quantile == 0.9
    assert method.samples > 0 and method.scope == "conversation"


def test_a_fixed_floor_is_reported_as_fixed() -> None:
    result = score(MANY, hierarchical(noise_floor=2.5))
    assert result.noise_floor == 2.5
    assert result.noise_floor_method is not None and result.noise_floor_method.method == "fixed"


def test_system_memories_are_screened_in_every_chunk_and_refined_like_exact() -> None:
    conversation = with_system_memories(MANY)
    exact = score(conversation, EXACT)
    refined = score(conversation, hierarchical(noise_floor=0.0))
    screened = score(conversation, hierarchical(noise_floor=NEVER))
    assert refined.matrix == exact.matrix and refined.memory_entry_indices[:2] == [None, None]
    assert screened.screened is not None
    assert all(screened.matrix[row][j] is None and screened.screened[row][j] == exact.drop_all[j]
               for row in (0, 1) for j in range(len(exact.response_entry_indices)))


def test_with_a_window_every_group_request_ends_n_responses_after_its_last_memory() -> None:
    calls: list[ModelCall] = []
    result = score(MANY, hierarchical(noise_floor=0.5, window=2), calls=calls)
    exact = score(MANY, ScoringConfig(chunk_tokens=CHUNK_TOKENS, window=2))
    groups = [call for call in calls if "-group-" in call.label]
    assert groups
    for call in groups:
        assert call.prompt.messages[-1]["role"] == "assistant"
    past = [[r for r in result.response_entry_indices if r > m][2:] for m in result.memory_entry_indices]
    nulls = [[r for r, cell in zip(result.response_entry_indices, row, strict=True) if cell is None]
             for row in exact.matrix]
    assert nulls == past
    for row in range(len(result.memory_keys)):
        for j in range(len(result.response_entry_indices)):
            if exact.matrix[row][j] is None:
                assert result.matrix[row][j] is None and (result.screened or [[None]])[row][j] is None


def test_a_group_request_ends_at_the_last_response_its_group_moved_above_the_floor() -> None:
    calls: list[ModelCall] = []
    result = score(MANY, hierarchical(noise_floor=0.5, ablation="replace"), calls=calls)
    sent = {call.label.rsplit("-baseline-", 1)[1]: len(call.prompt.messages) for call in calls
            if "-baseline-" in call.label}
    groups = [call for call in calls if "-group-" in call.label]
    assert groups and all(call.prompt.messages[-1]["role"] == "assistant" for call in groups)
    assert any(len(call.prompt.messages) < sent[call.label.split("-group-")[1].split("-")[0]] for call in groups)
    assert result.screened is not None


def test_with_a_window_and_a_floor_of_zero_screening_equals_windowed_exact() -> None:
    exact = score(MANY, ScoringConfig(chunk_tokens=CHUNK_TOKENS, window=2))
    refined = score(MANY, hierarchical(noise_floor=0.0, window=2))
    assert refined.matrix == exact.matrix and refined.signed_matrix == exact.signed_matrix


def test_a_window_multiplies_screenings_saving() -> None:
    whole = score(MANY, hierarchical(noise_floor=0.5))
    windowed = score(MANY, hierarchical(noise_floor=0.5, window=2))
    assert windowed.prompt_tokens < whole.prompt_tokens


def test_the_plan_of_chunks_is_the_exact_strategys() -> None:
    result = score(MANY, hierarchical(noise_floor=NEVER))
    assert result.chunks == plan_exact(MANY, CHUNK_TOKENS).chunks


def test_a_context_length_rejection_halves_the_chunks_and_screens_them_again() -> None:
    long_chunks = ScoringConfig(strategy="hierarchical", chunk_tokens=4 * CHUNK_TOKENS, noise_floor=0.0)
    rejected = score(MANY, long_chunks, options=ServerOptions(max_model_len=600))
    halvings = next(k for k in range(8) if plan_exact(MANY, 4 * CHUNK_TOKENS // 2 ** k).chunks == rejected.chunks)
    direct = score(MANY, long_chunks.model_copy(update={"chunk_tokens": 4 * CHUNK_TOKENS // 2 ** halvings}))
    assert halvings > 0 and rejected.matrix == direct.matrix


@pytest.mark.parametrize("strategy", ["hierarchical", "auto"])
def test_results_are_keyed_by_the_screens_constants(strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = ScoringConfig(strategy=strategy, chunk_tokens=CHUNK_TOKENS)
    assert constants("remove").items() <= config.result_config().items()
    before = config.hash()
    monkeypatch.setattr("memscore_core.strategies.hierarchical.TOP", 32)
    assert config.hash() != before


@pytest.mark.parametrize("strategy", ["hierarchical", "auto"])
def test_the_replace_screens_inference_share_keys_replace_results_only(strategy: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    remove = ScoringConfig(strategy=strategy, chunk_tokens=CHUNK_TOKENS)
    replace = remove.model_copy(update={"ablation": "replace"})
    before = remove.hash(), replace.hash()
    monkeypatch.setattr("memscore_core.strategies.hierarchical.SHARE", 0.25)
    assert remove.hash() == before[0] and replace.hash() != before[1]
