"""One bounded pool of in-flight requests shared by every conversation of a run.

Requests wait in a priority queue, longest prompt first, and ``concurrency`` workers keep the server
busy while any work remains. Sized to the server's batch (``--concurrency``).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from memscore_core.backends.protocol import PromptBackend
from memscore_core.model.prompt import ChatPrompt, RequestOptions, ScoredPrompt


@dataclass(order=True)
class _Job:
    priority: int
    sequence: int
    prompt: ChatPrompt = field(compare=False)
    options: RequestOptions = field(compare=False)
    future: asyncio.Future[ScoredPrompt] = field(compare=False)


class RequestPool:
    """Send requests through ``concurrency`` workers, longest first; use as an async context manager."""

    def __init__(self, backend: PromptBackend, concurrency: int) -> None:
        self.backend = backend
        self.concurrency = concurrency
        self._queue: asyncio.PriorityQueue[_Job] = asyncio.PriorityQueue()
        self._sequence = itertools.count()
        self._workers: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> RequestPool:
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    def hungry(self) -> bool:
        """Fewer requests wait than the pool runs at once: whoever feeds it may start more work."""
        return self._queue.qsize() < self.concurrency

    async def score(self, prompt: ChatPrompt, options: RequestOptions) -> ScoredPrompt:
        """Queue one request and wait for its answer."""
        if not self._workers:
            raise RuntimeError("RequestPool is not running: use 'async with pool'")
        future: asyncio.Future[ScoredPrompt] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(-prompt.size(), next(self._sequence), prompt, options, future))
        return await future

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            if job.future.cancelled():
                continue
            try:
                result = await self.backend.score(job.prompt, job.options)
            except Exception as exc:  # handed to the waiting caller
                if not job.future.cancelled():
                    job.future.set_exception(exc)
            else:
                if not job.future.cancelled():
                    job.future.set_result(result)
