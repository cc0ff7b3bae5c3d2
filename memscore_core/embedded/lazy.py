"""The embedded model, started only when a request needs it.

Importing torch and transformers and loading the weights takes seconds; a run with nothing to score asks
the model nothing. :class:`LazyEmbeddedTransport` is the in-process transport of the embedded server,
built on the first request; :func:`embedded_model_name` is the name that server will answer to, known
without loading anything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx


def embedded_model_name(model_dir: Path) -> str:
    """The name the embedded server serves the model at ``model_dir`` as: its directory's name."""
    return Path(model_dir).resolve().name


class LazyEmbeddedTransport(httpx.AsyncBaseTransport):
    """``embedded_transport(model_dir, threads, lanes=lanes)``, loaded (in a worker thread) when the first request
    arrives."""

    def __init__(self, model_dir: Path, threads: int | None = None, lanes: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.threads, self.lanes = threads, lanes
        self._transport: httpx.AsyncBaseTransport | None = None
        self._starting = asyncio.Lock()

    @property
    def started(self) -> bool:
        """Whether the model has been loaded for a request."""
        return self._transport is not None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await (await self._started()).handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()

    async def _started(self) -> httpx.AsyncBaseTransport:
        async with self._starting:
            if self._transport is None:
                self._transport = await asyncio.to_thread(self._start)
            return self._transport

    def _start(self) -> httpx.AsyncBaseTransport:
        from memscore_core.embedded.serve import embedded_transport  # imports torch: only when asked

        return embedded_transport(model_dir=self.model_dir, threads=self.threads, lanes=self.lanes)
