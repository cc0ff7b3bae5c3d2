"""How many conversations the runner keeps in flight: two, and more while the request pool is hungry."""

from __future__ import annotations

import asyncio

from memscore_core.scoring.batch import MAX_IN_FLIGHT, in_input_order


def peak_in_flight(items: int, hungry: bool | None) -> tuple[int, list[int]]:
    """Run ``items`` slow items through ``in_input_order``; the most in flight at once and the output order."""
    running, peak = 0, 0

    async def score(item: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.3)
        running -= 1
        return item

    async def run() -> list[int]:
        always = (lambda: hungry) if hungry is not None else None
        return [result async for _, result in in_input_order(range(items), 2, score, hungry=always)]  # type: ignore[misc]
    order = asyncio.run(run())
    return peak, order


def test_without_a_hungry_pool_two_items_are_in_flight() -> None:
    assert peak_in_flight(10, None)[0] == 2
    assert peak_in_flight(10, False)[0] == 2


def test_a_hungry_pool_gets_more_items_up_to_the_cap() -> None:
    peak, order = peak_in_flight(MAX_IN_FLIGHT + 20, True)
    assert peak == MAX_IN_FLIGHT
    assert order == list(range(MAX_IN_FLIGHT + 20))
