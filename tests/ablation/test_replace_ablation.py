"""``--ablation replace``: each memory's text replaced by content-free filler of the same token count, so that every
later token keeps its position; the filler's length is measured in the chunk's scored baseline."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pydantic import ValidationError

from memscore_core.ablation.effects import chunk_columns, removal_row
from memscore_core.ablation.fillers import filler_text, spanned_tokens
from memscore_core.ablation.requests import plan_exact, removal_request
from memscore_core.ablation.responses import ResponseLogprobs
from memscore_core.config import ScoringConfig
from memscore_core.errors import AlignmentError
from memscore_core.model.conversation import Conversation, SystemMemory
from memscore_core.model.prompt import ModelCall, ScoredPrompt
from tests.ablation.test_removal import AGENT, ALL, row_of
from tests.strategies.test_hierarchical import CHUNK_TOKENS, EXACT, MANY, hierarchical, with_system_memories
from tests.support.embedded_scoring import score

REPLACE = EXACT.model_copy(update={"ablation": "replace"})
FILLERS = {row: filler_text(3) for row in range(len(AGENT.memories))}


def test_a_text_on_token_boundaries_spans_the_tokens_that_spell_it() -> None:
    assert spanned_tokens([None, "<|im_start|>", "user", "\n", "Re", "called", " cat", ".", "<|im_end|>"],
                          "Recalled cat.", 0) == 4


def test_a_text_that_starts_or_ends_inside_a_token_has_no_count() -> None:
    tokens = ["user", "\n", "Recal", "led cat", "."]
    assert spanned_tokens(tokens, "led cat.", 0) == 2
    assert spanned_tokens(tokens, "led cat", 0) == 1
    assert spanned_tokens(tokens, "cat.", 0) is None
    assert spanned_tokens(tokens, "Recalled", 0) is None


def test_tokens_of_an_incomplete_character_count_with_the_text_they_begin() -> None:
    assert spanned_tokens(["user", "\n", "", "é", "t", "", "é", "<|im_end|>"], "été", 0) == 5


def test_the_text_is_looked_for_from_its_messages_first_token_on() -> None:
    tokens = ["cat", " is", ".", "\n", "cat", ".", "\n"]
    assert spanned_tokens(tokens, "cat.", 0) == 2
    assert spanned_tokens(tokens, "cat.", 4) == 2
    assert spanned_tokens(tokens, "cat.", 6) is None


def test_a_filler_is_one_word_a_token() -> None:
    assert filler_text(4) == "a a a a" and filler_text(0) == ""


def test_a_replaced_tool_result_keeps_its_call_and_every_entry_is_sent() -> None:
    request = removal_request(AGENT, "ablate", 0, ALL, [row_of(AGENT, "home")], fillers=FILLERS)
    assert request.entries == tuple(ALL) and request.trimmed == () and request.removed == (2,)
    messages = request.prompt(AGENT).messages[1:]
    assert messages[2] == {"role": "tool", "content": "a a a", "tool_call_id": "c1"}
    assert messages[1]["tool_calls"] == AGENT.entries[1].api_message()["tool_calls"]
    assert [m["content"] for i, m in enumerate(messages) if i != 2] == \
           [AGENT.entries[i].api_message()["content"] for i in ALL if i != 2]


def test_a_replaced_system_memory_keeps_its_place_in_the_system_message() -> None:
    conversation = Conversation.model_validate(AGENT.model_dump() | {
        "system_prompt": "You help. {{memory:persona}} Be brief.",
        "system_memories": [SystemMemory(key="persona", content="The assistant is called Quell.")]})
    request = removal_request(conversation, "ablate", 0, ALL, [row_of(conversation, "persona")],
                              fillers={row: "a a" for row in range(len(conversation.memories))})
    assert request.prompt(conversation).messages[0]["content"] == "You help. a a Be brief."


def test_a_response_that_moved_fails_the_replaced_request() -> None:
    plan = plan_exact(AGENT, 10**6, fillers=FILLERS)
    request = plan.rows[row_of(AGENT, "home")][0]
    tokens = {3: np.array([5, 6]), 8: np.array([7])}
    logprobs = {3: np.array([-1.0, -1.0]), 8: np.array([-1.0])}
    baseline = ResponseLogprobs(tokens, logprobs, 50, starts={3: 20, 8: 40})
    moved = ResponseLogprobs(tokens, logprobs, 51, starts={3: 20, 8: 41})
    with pytest.raises(AlignmentError, match="moved the response at entry 8 from token 40 to 41"):
        removal_row(AGENT, [request], {request: moved}, baseline, chunk_columns(plan), plan.responses, 2)


def test_replacement_enters_the_configuration_hash_and_removal_hashes_as_before() -> None:
    assert "ablation" not in EXACT.result_config()
    assert REPLACE.result_config()["ablation"] == "replace" and REPLACE.hash() != EXACT.hash()


def test_the_seed_strategy_only_removes() -> None:
    with pytest.raises(ValidationError, match="the seed strategy removes memories"):
        ScoringConfig(strategy="seed", ablation="replace")


def chunk_of_call(call: ModelCall) -> tuple[str, int]:
    found = re.search(r"-(baseline|ablate|drop_all)-(\d+)", call.label)
    assert found is not None, call.label
    return found.group(1), int(found.group(2))


def test_every_replaced_prompt_has_as_many_tokens_as_its_chunks_baseline() -> None:
    answers: list[tuple[ModelCall, ScoredPrompt]] = []
    result = score(MANY, REPLACE, answers=answers)
    lengths = {chunk_of_call(call)[1]: len(scored) for call, scored in answers if chunk_of_call(call)[0] == "baseline"}
    assert len(lengths) == len(result.chunks) == 2
    assert all(len(scored) == lengths[chunk_of_call(call)[1]] for call, scored in answers)
    assert result.requests == len(answers) == 2 + len(result.memory_keys) + 2


def test_system_memories_are_replaced_in_place_in_every_chunk() -> None:
    answers: list[tuple[ModelCall, ScoredPrompt]] = []
    result = score(with_system_memories(MANY), REPLACE, answers=answers)
    lengths = {chunk_of_call(call)[1]: len(scored) for call, scored in answers if chunk_of_call(call)[0] == "baseline"}
    assert all(len(scored) == lengths[chunk_of_call(call)[1]] for call, scored in answers)
    assert result.memory_entry_indices[:2] == [None, None]
    assert all(cell is not None for row in result.matrix[:2] for cell in row)


def test_replaced_cells_differ_from_removed_ones() -> None:
    removed, replaced = score(MANY, EXACT), score(MANY, REPLACE)
    assert replaced.matrix != removed.matrix
    assert [row is None for row in replaced.matrix[0]] == [row is None for row in removed.matrix[0]]


def test_hierarchical_with_a_floor_of_zero_equals_exact_under_replacement() -> None:
    exact = score(MANY, REPLACE)
    refined = score(MANY, hierarchical(noise_floor=0.0, ablation="replace"))
    assert refined.matrix == exact.matrix and refined.signed_matrix == exact.signed_matrix
    assert refined.drop_all == exact.drop_all


def test_a_windowed_replaced_request_ends_n_responses_after_its_memory() -> None:
    windowed = ScoringConfig(chunk_tokens=CHUNK_TOKENS, window=2, ablation="replace")
    exact = score(MANY, windowed)
    removed = score(MANY, windowed.model_copy(update={"ablation": "remove"}))
    assert [[cell is None for cell in row] for row in exact.matrix] == \
           [[cell is None for cell in row] for row in removed.matrix]
