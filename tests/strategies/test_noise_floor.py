"""The noise floor: measured from a content-free filler entry, per conversation, and reported with how."""

from __future__ import annotations

import numpy as np

from memscore_core.ablation.requests import plan_exact
from memscore_core.config import ScoringConfig
from memscore_core.model.conversation import Conversation, Entry
from memscore_core.model.prompt import ModelCall
from memscore_core.strategies.noise_floor import FILLER, MINIMUM, fixed_floor, measured_floor, null_probe
from memscore_core.strategies.scope import chunk_scopes
from memscore_core.synth.many import ManyShape, generate_many
from tests.support.embedded_scoring import STAND_IN, score

MANY = generate_many(3, 0, ManyShape(memories=8, used=2, chunks=2))
CHUNK_TOKENS = MANY.meta["chunk_tokens"]
HIERARCHICAL = ScoringConfig(strategy="hierarchical", chunk_tokens=CHUNK_TOKENS)


def first_probe(conversation: Conversation, window: int | None = None):  # type: ignore[no-untyped-def]
    scope = chunk_scopes(conversation, plan_exact(conversation, CHUNK_TOKENS))[0]
    return scope, null_probe(conversation, scope, window)


def test_the_floor_is_the_quantile_of_the_null_samples() -> None:
    samples = [0.0, 0.1, 0.2, 0.4, 3.0]
    floor = measured_floor(samples, 0.9)
    assert floor.value == float(np.quantile(samples, 0.9))
    assert (floor.method.method, floor.method.samples, floor.method.quantile) == ("filler", 5, 0.9)
    assert floor.method.filler == FILLER and floor.method.minimum == MINIMUM


def test_a_null_that_never_moves_gives_the_minimum_floor() -> None:
    assert measured_floor([0.0] * 12, 0.95).value == MINIMUM
    assert measured_floor([], 0.95).value == MINIMUM


def test_a_fixed_floor_says_it_was_given() -> None:
    floor = fixed_floor(1.5)
    assert floor.value == 1.5 and floor.method.method == "fixed" and floor.method.samples == 0


def test_the_filler_goes_before_the_user_entry_nearest_the_middle_of_the_chunks_memories() -> None:
    scope, probe = first_probe(MANY)
    memories = [e for e in scope.entries if MANY.entries[e].is_memory]
    middle = memories[len(memories) // 2]
    users = [e for e in scope.entries if MANY.entries[e].role == "user"]
    assert probe.at == min(users, key=lambda e: (abs(e - middle), e))
    assert probe.filled.entries[probe.at] == Entry(role="user", content=FILLER)
    assert probe.filled.entries[probe.at + 1] == MANY.entries[probe.at]
    assert len(probe.request.entries) == len(scope.entries) + 1


def test_the_filler_never_comes_between_a_tool_call_and_its_results() -> None:
    tools = Conversation(id="t", entries=[
        Entry(role="user", content="Where and who?"),
        Entry(role="tool", content="Oslo.", tool_call_id="a", memory_key="home"),
        Entry(role="tool", content="Idra.", tool_call_id="b", memory_key="boss"),
        Entry(role="tool", content="A cat.", tool_call_id="c", memory_key="pet"),
        Entry(role="assistant", content="Oslo, Idra.")])
    _, probe = first_probe(tools)
    assert tools.entries[probe.at].role in ("user", "assistant")


def test_with_a_window_the_null_request_ends_n_responses_after_the_filler() -> None:
    _, probe = first_probe(MANY, window=2)
    later = [e for e in probe.request.entries if e > probe.at and probe.filled.entries[e].is_response]
    assert len(later) == 2 and probe.request.entries[-1] == later[-1]


def test_no_probe_when_no_response_follows_a_place_for_the_filler() -> None:
    silent = Conversation(id="s", entries=[Entry(role="user", content="Note this.", memory_key="k")])
    assert first_probe(silent)[1] is None


def test_each_response_after_the_filler_in_each_screened_chunk_gives_one_sample() -> None:
    calls: list[ModelCall] = []
    result = score(MANY, HIERARCHICAL, calls=calls)
    probes = [null_probe(MANY, scope, None) for scope in chunk_scopes(MANY, plan_exact(MANY, CHUNK_TOKENS))]
    expected = sum(1 for probe in probes if probe is not None
                   for e in probe.request.entries if e > probe.at and probe.filled.entries[e].is_response)
    assert result.noise_floor_method is not None and result.noise_floor_method.samples == expected
    assert sum("-null-" in call.label for call in calls) == len(result.chunks)


def test_on_a_deterministic_stand_in_the_floor_is_the_minimum_and_nothing_is_refined() -> None:
    calls: list[ModelCall] = []
    result = score(MANY, HIERARCHICAL, options=STAND_IN, calls=calls)
    assert result.noise_floor == MINIMUM
    assert result.requests == 3 * len(result.chunks)
    assert not any("-group-" in call.label or "-ablate-" in call.label for call in calls)
