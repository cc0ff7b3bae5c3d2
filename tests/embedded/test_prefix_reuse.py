"""The embedded model reuses cached prefixes and slices long prompts without changing a single bit."""

from __future__ import annotations

import random

import numpy as np
import torch

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


def test_an_ablation_recomputes_only_from_the_slice_holding_the_removed_message() -> None:
    model = LocalModel(CAPTURE_MODEL)
    baseline = encoded(model, FACTS)
    model.prompt_logprobs(baseline, 0)
    ablated = encoded(model, FACTS[:45] + FACTS[46:])
    shared = next(i for i, (a, b) in enumerate(zip(baseline, ablated, strict=False)) if a != b)
    computed_before = model.computed_tokens
    model.prompt_logprobs(ablated, 0)
    assert model.computed_tokens - computed_before == len(ablated) - shared // PREFILL_SLICE * PREFILL_SLICE
    assert model.reused_tokens >= 2 * PREFILL_SLICE


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
