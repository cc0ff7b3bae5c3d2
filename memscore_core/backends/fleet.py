"""Several replicas of one model server as one backend.

Each request goes to the replica in rotation with the fewest requests in flight, never past a replica's
own limit (``--concurrency`` is per replica; :attr:`FleetBackend.capacity` is what a request pool in front
may keep in flight). A replica whose requests fail transiently ``eject_after`` times in a row (refused or
dropped connections, 5xx, 429, timeouts, unreadable bodies) leaves the rotation; its failed requests are
retried on the others, and it is probed at ``/models`` with exponential backoff until it answers and lists
the fleet's model, when it rejoins. A 4xx is the request's fault, not the replica's: it is never retried.
Before the first request every replica's ``/models`` is read once; replicas that serve different models
end the run with one error. URLs in errors and logs carry no credentials, and the API key never appears.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import httpx

from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.errors import BackendError, ConfigError, TransientBackendError
from memscore_core.model.prompt import ChatPrompt, Message, RequestOptions, ScoredPrompt

T = TypeVar("T")
LOG = logging.getLogger("memscore.fleet")


@dataclass(frozen=True)
class FleetPolicy:
    """When a replica leaves the rotation and how often it is probed until it may rejoin."""

    eject_after: int = 3
    probe_initial: float = 0.5
    probe_max: float = 10.0


@dataclass(frozen=True)
class ReplicaStatus:
    """One replica as the fleet sees it now."""

    url: str
    in_rotation: bool
    in_flight: int
    answered: int
    last_error: str | None


def shown_url(url: str) -> str:
    """``url`` without the user name and password it may carry."""
    return str(httpx.URL(url.rstrip("/")).copy_with(username=None, password=None))


class _Replica:
    def __init__(self, backend: VllmBackend, limit: int) -> None:
        self.backend = backend
        self.url = shown_url(backend.base_url)
        self.limit = limit
        self.in_flight = 0
        self.in_rotation = True
        self.failures = 0  # transient failures in a row
        self.ejections = 0  # since its last answer: sets the first probe's delay
        self.answered = 0
        self.last_error: str | None = None
        self.probe: asyncio.Task[None] | None = None

    def status(self) -> ReplicaStatus:
        return ReplicaStatus(self.url, self.in_rotation, self.in_flight, self.answered, self.last_error)


class FleetBackend:
    """A :class:`PromptBackend` over several replica URLs that serve one model."""

    def __init__(self, base_urls: Sequence[str], *, model: str | None = None, api_key: str | None = None,
                 timeout: float = 300.0, retry: RetryPolicy | None = None, concurrency: int = 8,
                 policy: FleetPolicy | None = None) -> None:
        self._retry = retry or RetryPolicy()
        self._policy = policy or FleetPolicy()
        once = RetryPolicy(attempts=1)  # the fleet retries, on another replica where it can
        self._replicas = [_Replica(VllmBackend(base_url=url, model=model, api_key=api_key, timeout=timeout,
                                               retry=once, max_connections=max(64, concurrency)), concurrency)
                          for url in base_urls]
        self._model = model
        self._checked = False
        self._starting = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._turn = 0

    @property
    def capacity(self) -> int:
        """Requests the fleet takes in flight at once: replicas × per-replica concurrency."""
        return sum(replica.limit for replica in self._replicas)

    def status(self) -> list[ReplicaStatus]:
        """Every replica's state, in URL order."""
        return [replica.status() for replica in self._replicas]

    async def __aenter__(self) -> FleetBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        probes = [replica.probe for replica in self._replicas if replica.probe is not None]
        for probe in probes:
            probe.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        await asyncio.gather(*(replica.backend.aclose() for replica in self._replicas))

    async def model(self) -> str:
        """The one model every replica serves, checked on every replica that answers at first use."""
        await self._check_models()
        assert self._model is not None
        return self._model

    async def score(self, prompt: ChatPrompt, options: RequestOptions) -> ScoredPrompt:
        """Prompt log-probabilities from the least busy replica; retried on others when it fails."""
        await self._check_models()
        return await self._call("POST /chat/completions", lambda backend: backend.score(prompt, options))

    async def generate(self, messages: list[Message], *, max_tokens: int = 128) -> str:
        await self._check_models()
        return await self._call("POST /chat/completions",
                                lambda backend: backend.generate(messages, max_tokens=max_tokens))

    async def _check_models(self) -> None:
        """Read every replica's model list; retry while none answers; fail on replicas that disagree."""
        if self._checked:
            return
        async with self._starting:
            if self._checked:
                return
            for attempt in range(1, self._retry.attempts + 1):
                answers = await asyncio.gather(*(replica.backend.served_models() for replica in self._replicas),
                                               return_exceptions=True)
                served = self._served(answers)
                if served:
                    break
                if attempt < self._retry.attempts:
                    await asyncio.sleep(self._delay(attempt))
            else:
                raise self._exhausted("GET /models", self._retry.attempts)
            model = self._model or next(iter(served.values()))[0]
            if any(model not in models for models in served.values()):
                listing = ", ".join(f"{replica.url} serves {', '.join(map(repr, models))}"
                                    for replica, models in served.items())
                raise ConfigError(f"replicas serve different models: {listing}; every replica must serve {model!r}")
            self._model = model
            for replica in self._replicas:
                if replica not in served:
                    self._eject(replica)
            self._checked = True

    def _served(self, answers: list[list[str] | BaseException]) -> dict[_Replica, list[str]]:
        """The model lists of the replicas that answered; a 4xx or unreadable list is raised, naming its URL."""
        served: dict[_Replica, list[str]] = {}
        for replica, answer in zip(self._replicas, answers, strict=True):
            if isinstance(answer, TransientBackendError):
                replica.last_error = _located(replica.url, answer)
            elif isinstance(answer, BackendError):
                raise type(answer)(_located(replica.url, answer), status=answer.status) from answer
            elif isinstance(answer, BaseException):
                raise answer
            else:
                served[replica] = answer
        return served

    async def _call(self, what: str, send: Callable[[VllmBackend], Awaitable[T]]) -> T:
        """``send`` on one replica at a time until one answers, within the retry budget."""
        tried: set[_Replica] = set()
        attempt = 0
        while True:
            replica = await self._acquire(tried, wait=self._delay(attempt + 1))
            if replica is None:  # no replica in rotation for a whole backoff delay
                attempt += 1
                if attempt >= self._retry.attempts:
                    raise self._exhausted(what, attempt)
                continue
            try:
                result = await send(replica.backend)
            except TransientBackendError as exc:
                await self._release(replica, failure=exc)
                attempt += 1
                if attempt >= self._retry.attempts:
                    raise self._exhausted(what, attempt) from exc
                tried.add(replica)
                if not self._untried(tried):
                    tried.clear()
                    if self._in_rotation():  # else the next acquire waits for a replica to rejoin
                        await asyncio.sleep(self._delay(attempt, exc.retry_after))
                continue
            except BaseException:
                await self._release(replica)
                raise
            await self._release(replica, answered=True)
            return result

    def _in_rotation(self) -> list[_Replica]:
        return [replica for replica in self._replicas if replica.in_rotation]

    def _untried(self, tried: set[_Replica]) -> list[_Replica]:
        return [replica for replica in self._in_rotation() if replica not in tried]

    async def _acquire(self, tried: set[_Replica], *, wait: float) -> _Replica | None:
        """A slot on the replica in rotation with the fewest in flight (one this request has not failed on,
        if any is in rotation); ``None`` if no replica is in rotation for ``wait`` seconds."""
        async with self._changed:
            deadline = asyncio.get_running_loop().time() + wait
            while True:
                eligible = self._untried(tried) or self._in_rotation()
                free = [replica for replica in eligible if replica.in_flight < replica.limit]
                if free:
                    count = len(self._replicas)
                    chosen = min(free, key=lambda r: (r.in_flight, (self._replicas.index(r) - self._turn) % count))
                    self._turn = (self._replicas.index(chosen) + 1) % count
                    chosen.in_flight += 1
                    return chosen
                if eligible:
                    await self._changed.wait()
                    continue
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return None
                try:
                    async with asyncio.timeout(remaining):
                        await self._changed.wait()
                except TimeoutError:
                    return None

    async def _release(self, replica: _Replica, *, answered: bool = False,
                       failure: TransientBackendError | None = None) -> None:
        async with self._changed:
            replica.in_flight -= 1
            if answered:
                replica.answered += 1
                replica.failures = replica.ejections = 0
            if failure is not None:
                replica.failures += 1
                replica.last_error = _located(replica.url, failure)
                if replica.in_rotation and replica.failures >= self._policy.eject_after:
                    self._eject(replica)
            self._changed.notify_all()

    def _eject(self, replica: _Replica) -> None:
        """Take ``replica`` out of rotation and probe it with backoff until it may rejoin."""
        replica.in_rotation = False
        replica.ejections += 1
        delay = min(self._policy.probe_max, self._policy.probe_initial * 2 ** (replica.ejections - 1))
        LOG.warning("replica %s out of rotation (%s); probing it in %.1f s", replica.url, replica.last_error, delay)
        if replica.probe is None or replica.probe.done():
            replica.probe = asyncio.get_running_loop().create_task(self._probe(replica, delay))

    async def _probe(self, replica: _Replica, delay: float) -> None:
        """Probe ``/models`` until the replica answers and lists the fleet's model, then put it back."""
        while True:
            await asyncio.sleep(delay)
            delay = min(self._policy.probe_max, delay * 2)
            try:
                served = await replica.backend.served_models()
            except BackendError as exc:
                replica.last_error = _located(replica.url, exc)
                continue
            if self._model not in served:
                replica.last_error = f"{replica.url} serves {', '.join(map(repr, served))}, not {self._model!r}"
                LOG.warning("replica %s kept out of rotation: it serves %s, not %r", replica.url,
                            ", ".join(map(repr, served)), self._model)
                continue
            async with self._changed:
                replica.in_rotation = True
                replica.failures = 0
                self._changed.notify_all()
            LOG.warning("replica %s back in rotation", replica.url)
            return

    def _delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with jitter before attempt ``attempt + 1``, or what Retry-After asks."""
        policy = self._retry
        if retry_after is not None:
            return min(policy.max_delay, retry_after)
        return min(policy.max_delay, policy.initial_delay * 2 ** (attempt - 1) + random.uniform(0, policy.jitter))

    def _exhausted(self, what: str, attempts: int) -> TransientBackendError:
        reasons = "; ".join(replica.last_error or f"{replica.url}: no answer" for replica in self._replicas)
        return TransientBackendError(f"no replica answered {what} after {attempts} attempts: {reasons}")


def _located(url: str, error: BaseException) -> str:
    """The error's message, led by the replica's URL unless it already names it."""
    message = str(error)
    return message if url in message else f"{url}: {message}"
