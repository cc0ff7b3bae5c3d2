"""A prompt waiting on a lane computing its prefix starts as soon as that lane's passes cover the prefix, not when
the lane is done, and its numbers are bit for bit the same."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from memscore_core.embedded.attention import MIN_ROWS
from memscore_core.embedded.hf import DynamicCache
from memscore_core.embedded.model import LocalModel
from memscore_core.embedded.passes import MIN_CUT, PREFILL_SLICE, next_pass
from memscore_core.embedded.prefix_cache import Cached, Claim, Flight, PrefixCache, Progress
from tests.embedded.conftest import CAPTURE_MODEL
from tests.embedded.test_lanes import ablations, assert_same, scoring
from tests.embedded.test_prefix_reuse import FACTS


def progress_of(ids: np.ndarray, length: int) -> Progress:
    return Progress(ids[:length], [], torch.zeros(length, 4))


def baseline_in_flight(progressed: int) -> tuple[PrefixCache, np.ndarray, Flight]:
    """A cache with a 300-token baseline in flight whose passes have covered ``progressed`` positions."""
    cache = PrefixCache(4, 1 << 30)
    baseline = np.arange(300)
    flight = cache.claim(baseline).flight
    assert flight is not None
    cache.progressed(flight, progress_of(baseline, progressed))
    return cache, baseline, flight


def finish(cache: PrefixCache, baseline: np.ndarray, flight: Flight) -> Cached:
    entry = Cached(baseline, DynamicCache(), torch.zeros(300, 4))
    cache.publish(flight, entry, 300)
    return entry


def test_a_prompt_starts_from_the_progress_of_a_prompt_in_flight_once_it_covers_their_shared_prefix() -> None:
    cache, baseline, flight = baseline_in_flight(150)
    ablated = np.concatenate([baseline[:120], baseline[140:]])
    claim = cache.claim(ablated, lambda: True)
    assert claim.source is flight and claim.source_shared == 120
    assert isinstance(claim.best, Progress) and claim.shared == 120


def test_a_prompt_equal_to_one_in_flight_waits_for_it_to_be_done() -> None:
    cache, baseline, flight = baseline_in_flight(300)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(cache.claim, baseline.copy())
        time.sleep(0.2)
        assert not waiting.done()
        entry = finish(cache, baseline, flight)
        assert waiting.result().flight is None and waiting.result().best is entry


def test_a_prompt_with_no_lane_free_to_start_it_waits_for_the_finished_prompt_instead_of_its_progress() -> None:
    cache, baseline, flight = baseline_in_flight(150)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(cache.claim, np.concatenate([baseline[:120], baseline[140:]]), lambda: False)
        time.sleep(0.2)
        assert not waiting.done()
        entry = finish(cache, baseline, flight)
        assert waiting.result().best is entry and waiting.result().source is None


def test_a_pass_ends_where_a_waiting_prompt_can_start_but_never_short_of_min_cut_or_leaving_a_tail() -> None:
    assert next_pass(320, 0, []) == 160
    assert next_pass(320, 0, [90, 140]) == 90
    assert next_pass(320, 0, [MIN_CUT - 1]) == 160
    assert next_pass(320, 100, [150]) == 50
    assert next_pass(100, 0, [100 - MIN_ROWS + 1]) == 100
    assert next_pass(600, 0, [500]) == 200
    assert next_pass(2 * PREFILL_SLICE, 0, []) == PREFILL_SLICE


def test_ablations_started_from_their_baselines_progress_equal_one_lane_bit_for_bit() -> None:
    two = LocalModel(CAPTURE_MODEL, lanes=2)
    prompts = ablations(two, FACTS[:40], 6, seed=11)
    assert len(prompts[0]) > 2 * PREFILL_SLICE
    two.model.get_decoder().register_forward_hook(lambda *_: time.sleep(0.1))  # passes slow enough to overlap
    claim, sources = two.prefix_cache.claim, []

    def spied(ids: np.ndarray, free: Callable[[], bool] | None) -> Claim:
        result = claim(ids, free)
        sources.append(result.source)
        return result

    two.prefix_cache.claim = spied  # type: ignore[method-assign]
    score = scoring(two, 3, every=2)
    with ThreadPoolExecutor(len(prompts)) as pool:
        first = pool.submit(score, prompts[0])
        time.sleep(0.05)
        rest = [pool.submit(score, ids) for ids in prompts[1:]]
        got = [future.result() for future in (first, *rest)]
    assert any(source is not None for source in sources)
    one = LocalModel(CAPTURE_MODEL, lanes=1)
    for ids, (scored, token) in zip(prompts, got, strict=True):
        want, wanted_token = scoring(one, 3, every=2)(ids)
        assert_same(scored, want)
        assert token == wanted_token
