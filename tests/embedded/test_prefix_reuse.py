"""The embedded model reuses cached prefixes to the token and slices long prompts without changing a single bit."""

from __future__ import annotations

import random

import numpy as np
import torch
from transformers import DynamicCache

from memscore_core.embedded.attention import MIN_ROWS
from memscore_core.embedded.model import PREFILL_SLICE, LocalModel
from tests.embedded.conftest import CAPTURE_MODEL

FACTS = [{"role": "user" if i % 2 == 0 else "assistant",
          "content": f"Fact {i}: the {i}th parcel went to depot {i * 7 % 13} on day {i % 5}."} for i in range(60)]


def encoded(model: LocalModel, messages: list[dict[str, str]]) -> list[int]:
    return model.encode(model.render(messages, add_generation_prompt=False))


def whole_pass_logprobs(model: LocalModel, ids: list[int]) -> np.ndarray:
    """Each token's log-prob from one unsliced forward pass without any cache."""
    with torch.inference_mode():
        rows = torch.log_softmax(model.model(torch.tensor([ids])).logits[0, :-1].float(), dim=-1)
    return rows.gather(1, torch.tensor(ids[1:])[:, None])[:, 0].numpy()


def test_sliced_scoring_equals_one_whole_forward_pass() -> None:
    model = LocalModel(CAPTURE_MODEL, prefix_cache=False)
    ids = encoded(model, FACTS)
    assert len(ids) > 3 * PREFILL_SLICE
    assert np.abs(model.prompt_logprobs(ids, 0).logprobs - whole_pass_logprobs(model, ids)).max() < 1e-5


def test_an_ablation_recomputes_only_from_the_removed_message_on() -> None:
    model = LocalModel(CAPTURE_MODEL)
    baseline = encoded(model, FACTS)
    model.prompt_logprobs(baseline, 0)
    ablated = encoded(model, FACTS[:45] + FACTS[46:])
    shared = next(i for i, (a, b) in enumerate(zip(baseline, ablated, strict=False)) if a != b)
    computed_before = model.computed_tokens
    model.prompt_logprobs(ablated, 0)
    assert model.computed_tokens - computed_before == len(ablated) - shared
    assert model.reused_tokens == shared


def test_scores_are_bit_for_bit_a_full_recompute_whatever_the_cache_held() -> None:
    reusing = LocalModel(CAPTURE_MODEL)
    fresh = LocalModel(CAPTURE_MODEL, prefix_cache=False)
    draw = random.Random(3)
    for trial in range(8):
        removed = draw.randrange(1, len(FACTS))
        messages = FACTS[:removed] + FACTS[removed + 1:] if trial % 3 else FACTS[:removed + 1]
        ids = encoded(reusing, messages)
        with_reuse, without = reusing.prompt_logprobs(ids, 3), fresh.prompt_logprobs(ids, 3)
        assert np.array_equal(with_reuse.logprobs, without.logprobs)
        assert np.array_equal(with_reuse.top_logprobs, without.top_logprobs)
        assert np.array_equal(with_reuse.ranks, without.ranks)
        assert reusing.next_token(ids) == fresh.next_token(ids)
    assert reusing.reused_tokens > 4 * PREFILL_SLICE


def test_a_prompt_extending_a_cached_one_by_a_few_tokens_still_computes_at_least_min_rows() -> None:
    reusing = LocalModel(CAPTURE_MODEL)
    fresh = LocalModel(CAPTURE_MODEL, prefix_cache=False)
    ids = encoded(reusing, FACTS[:8])
    reusing.prompt_logprobs(ids[:-2], 3)
    computed_before = reusing.computed_tokens
    with_reuse, without = reusing.prompt_logprobs(ids, 3), fresh.prompt_logprobs(ids, 3)
    assert reusing.computed_tokens - computed_before == MIN_ROWS
    assert np.array_equal(with_reuse.logprobs, without.logprobs)
    assert np.array_equal(with_reuse.ranks, without.ranks)


def test_on_two_torch_threads_a_prompt_extending_a_cached_one_by_a_few_tokens_is_a_full_recompute() -> None:
    fresh = LocalModel(CAPTURE_MODEL, threads=2, lanes=1, prefix_cache=False)
    ids = encoded(fresh, FACTS[:8])
    for extra in range(5, 16):
        reusing = LocalModel(CAPTURE_MODEL, threads=2, lanes=1)
        reusing.prompt_logprobs(ids[:-extra], 0)
        with_reuse, without = reusing.prompt_logprobs(ids, 0), fresh.prompt_logprobs(ids, 0)
        assert np.array_equal(with_reuse.logprobs, without.logprobs), extra


def test_hidden_states_are_bit_for_bit_the_same_wherever_a_pass_begins() -> None:
    model = LocalModel(CAPTURE_MODEL, prefix_cache=False)
    ids = encoded(model, FACTS[:20])
    decoder = model.model.get_decoder()
    with torch.inference_mode():
        whole = decoder(torch.tensor([ids])).last_hidden_state[0]
        for start in (MIN_ROWS, 13, 64, 101, len(ids) - MIN_ROWS):
            cache = DynamicCache(config=model.model.config)
            first = decoder(torch.tensor([ids[:start]]), past_key_values=cache, use_cache=True).last_hidden_state[0]
            rest = decoder(torch.tensor([ids[start:]]), past_key_values=cache, use_cache=True).last_hidden_state[0]
            assert torch.equal(torch.cat([first, rest]), whole), start
