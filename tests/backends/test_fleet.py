"""FleetBackend's routing, limits, ejection and model check, against real loopback servers scripted to
answer slowly or fail on demand (the CLI runs against real `memscore serve` replicas: tests/reliability)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from memscore_core.backends.fleet import FleetBackend, FleetPolicy
from memscore_core.backends.vllm import RetryPolicy
from memscore_core.errors import ConfigError, RequestRejectedError, TransientBackendError
from memscore_core.model.prompt import ChatPrompt, RequestOptions
from memscore_core.settings import REPO_ROOT
from tests.support.scripted_server import Reply, ScriptedServer, models_body, scripted_server

CAPTURE = (REPO_ROOT / "tests" / "data" / "vllm-0.32-captures" / "h_chat_return_token_ids.json").read_bytes()
OK = Reply(200, CAPTURE)
MODELS = models_body("m")
FAST = RetryPolicy(attempts=4, initial_delay=0.01, max_delay=1.0, jitter=0.0)
QUICK_PROBES = FleetPolicy(eject_after=3, probe_initial=0.05, probe_max=0.2)
PROMPT = ChatPrompt([{"role": "user", "content": "hi"}])
T = TypeVar("T")


def fleet(*servers: ScriptedServer, concurrency: int = 8, model: str | None = None, api_key: str | None = None,
          urls: list[str] | None = None) -> FleetBackend:
    return FleetBackend(urls or [server.url for server in servers], model=model, api_key=api_key, timeout=10,
                        retry=FAST, concurrency=concurrency, policy=QUICK_PROBES)


def run(backend: FleetBackend, work: Callable[[FleetBackend], Awaitable[T]]) -> T:
    async def main() -> T:
        async with backend:
            return await work(backend)
    return asyncio.run(main())


async def score_many(backend: FleetBackend, count: int, in_flight: int) -> None:
    """``count`` requests, at most ``in_flight`` at once (as a request pool sends them)."""
    gate = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with gate:
            await backend.score(PROMPT, RequestOptions())

    await asyncio.gather(*(one() for _ in range(count)))


def test_concurrent_requests_spread_evenly_over_idle_replicas() -> None:
    slow = Reply(200, CAPTURE, delay=0.3)
    with scripted_server(slow, models=MODELS) as a, scripted_server(slow, models=MODELS) as b:
        run(fleet(a, b), lambda backend: score_many(backend, 8, 8))
    assert (a.peak_in_flight, b.peak_in_flight) == (4, 4)


def test_each_request_goes_to_the_replica_with_the_fewest_in_flight() -> None:
    with scripted_server(Reply(200, CAPTURE, delay=0.5), models=MODELS) as slow, \
            scripted_server(Reply(200, CAPTURE, delay=0.01), models=MODELS) as fast:
        run(fleet(slow, fast, concurrency=4), lambda backend: score_many(backend, 40, 4))
    assert len(slow.arrivals) + len(fast.arrivals) == 40
    assert len(fast.arrivals) >= 3 * len(slow.arrivals), (len(slow.arrivals), len(fast.arrivals))


def test_a_replica_never_holds_more_than_its_own_limit_and_capacity_is_their_sum() -> None:
    slow = Reply(200, CAPTURE, delay=0.2)
    with scripted_server(slow, models=MODELS) as a, scripted_server(slow, models=MODELS) as b:
        backend = fleet(a, b, concurrency=2)
        assert backend.capacity == 4
        run(backend, lambda backend: score_many(backend, 12, 12))
    assert (a.peak_in_flight, b.peak_in_flight) == (2, 2)
    assert len(a.arrivals) + len(b.arrivals) == 12


def test_a_4xx_answer_is_raised_once_and_not_retried_on_another_replica() -> None:
    rejected = Reply(400, b'{"error": {"message": "bad request", "type": "BadRequestError"}}')
    with scripted_server(rejected, models=MODELS) as a, scripted_server(rejected, models=MODELS) as b, \
            pytest.raises(RequestRejectedError, match="HTTP 400 from logprobs API: bad request"):
        run(fleet(a, b), lambda backend: backend.score(PROMPT, RequestOptions()))
    assert len(a.arrivals) + len(b.arrivals) == 1


def test_a_failing_replica_leaves_the_rotation_and_the_others_answer_its_requests() -> None:
    async def work(backend: FleetBackend) -> list[bool]:
        for _ in range(10):
            assert len((await backend.score(PROMPT, RequestOptions())).token_ids) > 1
        return [status.in_rotation for status in backend.status()]

    with scripted_server(Reply(503), models=MODELS) as failing, scripted_server(OK, models=MODELS) as healthy:
        backend = FleetBackend([failing.url, healthy.url], timeout=10, retry=FAST,
                               policy=FleetPolicy(eject_after=3, probe_initial=30.0))
        rotation = run(backend, work)
    assert rotation == [False, True]
    assert len(failing.arrivals) == 3 and len(healthy.arrivals) == 10


def test_an_ejected_replica_rejoins_once_its_health_probe_succeeds() -> None:
    async def work(backend: FleetBackend) -> int:
        for _ in range(3):
            await backend.score(PROMPT, RequestOptions())
        assert not backend.status()[0].in_rotation
        for _ in range(100):
            if backend.status()[0].in_rotation:
                break
            await asyncio.sleep(0.02)
        await score_many(backend, 10, 2)
        return backend.status()[0].answered

    with scripted_server(Reply(503), Reply(503), Reply(503), OK, models=MODELS) as flaky, \
            scripted_server(OK, models=MODELS) as steady:
        answered_by_flaky = run(fleet(flaky, steady), work)
    assert answered_by_flaky >= 3


def test_replicas_serving_different_models_fail_with_one_error_before_any_request() -> None:
    with scripted_server(OK, models=models_body("alpha")) as a, scripted_server(OK, models=models_body("beta")) as b:
        with pytest.raises(ConfigError) as raised:
            run(fleet(a, b), lambda backend: backend.score(PROMPT, RequestOptions()))
        assert str(raised.value) == (f"replicas serve different models: {a.url} serves 'alpha', {b.url} serves "
                                     "'beta'; every replica must serve 'alpha'")
        assert a.arrivals == b.arrivals == []


def test_a_configured_model_must_be_served_by_every_replica() -> None:
    with scripted_server(OK, models=models_body("alpha", "beta")) as a, \
            scripted_server(OK, models=models_body("alpha")) as b, \
            pytest.raises(ConfigError, match="every replica must serve 'beta'"):
        run(fleet(a, b, model="beta"), lambda backend: backend.model())


def test_every_replica_failing_ends_the_request_after_the_retry_budget() -> None:
    with scripted_server(Reply(503), models=MODELS) as a, scripted_server(Reply(503), models=MODELS) as b, \
            pytest.raises(TransientBackendError) as raised:
        run(fleet(a, b), lambda backend: backend.score(PROMPT, RequestOptions()))
    unavailable = "HTTP 503 from logprobs API: unknown error"
    assert str(raised.value) == (f"no replica answered POST /chat/completions after 4 attempts: {a.url}: "
                                 f"{unavailable}; {b.url}: {unavailable}")
    assert len(a.arrivals) + len(b.arrivals) == 4


def test_no_replica_reachable_at_start_is_one_error_without_credentials_or_key() -> None:
    urls = ["http://user:hunter2@127.0.0.1:9/v1", "http://127.0.0.1:1/v1"]
    with pytest.raises(TransientBackendError) as raised:
        run(fleet(urls=urls, api_key="sk-secret-key"), lambda backend: backend.model())
    message = str(raised.value)
    assert message.startswith("no replica answered GET /models after 4 attempts: GET http://127.0.0.1:9/v1/models: "
                              "connection failed")
    assert "hunter2" not in message and "sk-secret-key" not in message and "http://127.0.0.1:1/v1/models" in message


def test_a_replica_down_at_start_is_left_out_until_it_answers() -> None:
    async def work(backend: FleetBackend) -> bool:
        await backend.score(PROMPT, RequestOptions())
        return backend.status()[1].in_rotation

    with scripted_server(OK, models=MODELS) as up:
        in_rotation = run(fleet(urls=[up.url, "http://127.0.0.1:9/v1"]), work)
    assert in_rotation is False and len(up.arrivals) == 1
