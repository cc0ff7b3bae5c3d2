"""Lanes: the embedded model computes several requests at once, sharing one prefix cache, and every number is
bit-for-bit what one lane computing them one after another gives."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memscore_core.embedded.cores import usable_cores
from memscore_core.embedded.logprobs import PromptLogprobs
from memscore_core.embedded.model import LocalModel
from memscore_core.embedded.prefix_cache import reusable
from tests.embedded.conftest import CAPTURE_MODEL
from tests.embedded.test_prefix_reuse import FACTS, encoded
from tests.support.models import require_smollm2


def ablations(model: LocalModel, facts: list[dict[str, str]], count: int, seed: int) -> list[list[int]]:
    """The whole conversation and ``count`` prompts each leaving one message out, as an ablation run sends."""
    draw = random.Random(seed)
    removed = sorted(draw.sample(range(1, len(facts)), count))
    return [encoded(model, facts)] + [encoded(model, facts[:r] + facts[r + 1:]) for r in removed]


def concurrently(work: Callable[[list[int]], Any], prompts: Sequence[list[int]]) -> list[Any]:
    """``work`` on every prompt from as many threads as prompts, all at once."""
    with ThreadPoolExecutor(len(prompts)) as pool:
        return list(pool.map(work, prompts))


def assert_same(got: PromptLogprobs, want: PromptLogprobs) -> None:
    assert np.array_equal(got.logprobs, want.logprobs)
    assert np.array_equal(got.ranks, want.ranks)
    assert np.array_equal(got.top_logprobs, want.top_logprobs)
    assert np.array_equal(got.top_ids, want.top_ids)
    assert (got.scored is None) == (want.scored is None)
    assert got.scored is None or want.scored is None or np.array_equal(got.scored, want.scored)


def scoring(model: LocalModel, top_k: int, every: int) -> Callable[[list[int]], tuple[PromptLogprobs, int]]:
    """Score a prompt's positions (every ``every``-th, as a client asking for some messages only) and its next token."""
    def score(ids: list[int]) -> tuple[PromptLogprobs, int]:
        wanted = np.arange(len(ids)) % every == 0
        return model.prompt_logprobs(ids, top_k, wanted), model.next_token(ids)
    return score


@pytest.fixture(scope="module")
def one_lane() -> LocalModel:
    return LocalModel(CAPTURE_MODEL, lanes=1)


def test_prompts_scored_on_two_lanes_at_once_equal_one_lane_bit_for_bit(one_lane: LocalModel) -> None:
    two = LocalModel(CAPTURE_MODEL, lanes=2, cache_entries=1)
    prompts = ablations(two, FACTS, 7, seed=5) + ablations(two, FACTS[10:], 7, seed=6)
    got = concurrently(scoring(two, 3, every=2), prompts)
    for ids, (scored, token) in zip(prompts, got, strict=True):
        want, wanted_token = scoring(one_lane, 3, every=2)(ids)
        assert_same(scored, want)
        assert token == wanted_token
    assert two.peak_lanes == 2 and two.reused_tokens > 0


def test_a_prompt_waits_for_the_lane_computing_its_prefix_instead_of_computing_it_again() -> None:
    model = LocalModel(CAPTURE_MODEL, lanes=2)
    baseline, ablated = ablations(model, FACTS, 1, seed=7)
    shared = next(i for i, (a, b) in enumerate(zip(baseline, ablated, strict=False)) if a != b)
    concurrently(lambda ids: model.prompt_logprobs(ids, 0), [baseline, ablated])
    assert model.computed_tokens == len(baseline) + len(ablated) - reusable(shared, len(ablated))


def test_requests_for_more_answers_of_a_cached_prompt_at_once_equal_a_fresh_computation() -> None:
    model = LocalModel(CAPTURE_MODEL, lanes=2)
    ids = encoded(model, FACTS[:20])
    model.prompt_logprobs(ids, 2, np.arange(len(ids)) < len(ids) // 2)
    got = concurrently(lambda top_k: model.prompt_logprobs(ids, top_k[0]), [[2], [2], [3], [2]])
    fresh = LocalModel(CAPTURE_MODEL, prefix_cache=False)
    for top_k, scored in zip((2, 2, 3, 2), got, strict=True):
        assert_same(scored, fresh.prompt_logprobs(ids, top_k))


def test_greedy_generation_on_two_lanes_at_once_equals_one_lane(one_lane: LocalModel) -> None:
    two = LocalModel(CAPTURE_MODEL, lanes=2)
    prompts = [encoded(two, FACTS[:n]) for n in (3, 5, 8, 13)]
    got = concurrently(lambda ids: two.generate(ids, 12), prompts)
    assert got == [one_lane.generate(ids, 12) for ids in prompts]
    assert two.peak_lanes == 2


def test_a_tiny_model_computes_on_one_lane_by_default(one_lane: LocalModel) -> None:
    assert LocalModel(CAPTURE_MODEL).lanes == 1


@pytest.fixture(scope="module")
def smollm2() -> Path:
    return require_smollm2()


def test_smollm2_computes_on_every_usable_core_one_thread_each_and_two_lanes_equal_one(smollm2: Path) -> None:
    model = LocalModel(smollm2)
    assert (model.lanes, model.threads) == (usable_cores(), 1 if usable_cores() > 1 else model.threads)
    facts = FACTS[:12]
    prompts = ablations(model, facts, 3, seed=8)
    model.use_lanes(2)
    got = concurrently(scoring(model, 2, every=3), prompts)
    model.use_lanes(1, 1)
    model.prefix_cache.clear()
    for ids, (scored, token) in zip(prompts, got, strict=True):
        want, wanted_token = scoring(model, 2, every=3)(ids)
        assert_same(scored, want)
        assert token == wanted_token
