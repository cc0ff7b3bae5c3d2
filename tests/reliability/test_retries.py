"""The backend's retry contract, against a real loopback server scripted to fail on demand."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time

import pytest

from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.errors import ContextLengthError, RequestRejectedError, TransientBackendError
from memscore_core.model.prompt import ChatPrompt, RequestOptions, ScoredPrompt
from memscore_core.settings import REPO_ROOT
from tests.support.scripted_server import Reply, ScriptedServer, models_body, scripted_server

CAPTURE = (REPO_ROOT / "tests" / "data" / "vllm-0.32-captures" / "h_chat_return_token_ids.json").read_bytes()
OK = Reply(200, CAPTURE)
MESSAGES = [{"role": "user", "content": "hi"}]
FAST = RetryPolicy(attempts=4, initial_delay=0.01, max_delay=5.0, jitter=0.0)


def score(url: str, *, timeout: float = 30.0, retry: RetryPolicy = FAST) -> ScoredPrompt:
    async def run() -> ScoredPrompt:
        async with VllmBackend(base_url=url, model="m", timeout=timeout, retry=retry) as backend:
            return await backend.score(ChatPrompt(MESSAGES), RequestOptions())

    return asyncio.run(run())


def vllm(*replies: Reply) -> contextlib.AbstractContextManager[ScriptedServer]:
    """A server answering the script's replies in turn, and ``/models`` with model ``m``'s plain vLLM card."""
    return scripted_server(*replies, models=models_body("m"))


def error_body(message: str) -> bytes:
    return f'{{"error": {{"message": "{message}", "type": "BadRequestError"}}}}'.encode()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_4xx_answer_is_sent_once_and_never_retried(status: int) -> None:
    with vllm(Reply(status, error_body("no such thing")), OK) as server, \
            pytest.raises(RequestRejectedError, match=f"HTTP {status} from logprobs API: no such thing"):
        score(server.url)
    assert len(server.arrivals) == 1


def test_a_context_length_rejection_is_its_own_error_and_not_retried() -> None:
    message = "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens."
    with vllm(Reply(400, error_body(message)), OK) as server, \
            pytest.raises(ContextLengthError, match="maximum context length"):
        score(server.url)
    assert len(server.arrivals) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_transient_status_is_retried_until_the_answer_comes(status: int) -> None:
    with vllm(Reply(status), Reply(status), OK) as server:
        assert len(score(server.url).token_ids) > 1
    assert len(server.arrivals) == 3


def test_retries_are_bounded_and_the_last_error_is_raised() -> None:
    with vllm(Reply(503, error_body("overloaded"))) as server, \
            pytest.raises(TransientBackendError, match="HTTP 503 from logprobs API: overloaded"):
        score(server.url)
    assert len(server.arrivals) == FAST.attempts


def test_a_429_waits_the_seconds_its_retry_after_asks() -> None:
    with vllm(Reply(429, headers={"retry-after": "1"}), OK) as server:
        score(server.url)
    assert server.arrivals[1] - server.arrivals[0] >= 0.95


def test_a_retry_after_given_as_an_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    with vllm(Reply(503, headers={"retry-after": when}), OK) as server:
        score(server.url)
    assert server.arrivals[1] - server.arrivals[0] >= 0.9  # the date has one-second resolution


def test_an_unreadable_retry_after_falls_back_to_backoff() -> None:
    with vllm(Reply(429, headers={"retry-after": "soon-ish"}), OK) as server:
        score(server.url)
    assert len(server.arrivals) == 2 and server.arrivals[1] - server.arrivals[0] < 0.9


@pytest.mark.parametrize("body", [CAPTURE[: len(CAPTURE) // 2], b"<html>bad gateway</html>", b""])
def test_a_truncated_or_non_json_success_body_is_retried(body: bytes) -> None:
    with vllm(Reply(200, body), OK) as server:
        assert len(score(server.url).token_ids) > 1
    assert len(server.arrivals) == 2


def test_a_body_that_trickles_past_the_timeout_is_cut_off_and_retried() -> None:
    started = time.monotonic()
    with vllm(Reply(200, CAPTURE, trickle=0.05), OK) as server:
        assert len(score(server.url, timeout=1.0).token_ids) > 1
    assert len(server.arrivals) == 2 and time.monotonic() - started < 10
