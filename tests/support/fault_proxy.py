"""A fault-injecting HTTP proxy on loopback: a share of scoring requests fail the ways real servers do.

Faults (cycled, on every ``every``-th POST): HTTP 503, a dropped connection, a truncated body and a
stall past the client's timeout. Everything else is forwarded unchanged. Runs in a background thread.

A request body is faulted at most once: its retry is always answered. The faults are then a test of the client's
retries, never a draw against its retry budget (at one fault in five POSTs, a request meets five in a row about
once in 3,000 requests).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support.proxy_requests import read_request
from tests.support.threaded_server import serve_in_thread

FAULTS = ("503", "drop", "truncate", "stall")


class FaultProxy:
    def __init__(self, upstream: str, *, every: int = 5, stall_seconds: float = 6.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.every = every
        self.stall_seconds = stall_seconds
        self.seen = Counter[str]()
        self._posts = 0
        self._faulted: set[bytes] = set()
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                fault = self._fault(request.method, request.body)
                self.seen[fault or "ok"] += 1
                if fault == "drop":
                    return
                if fault == "503":
                    writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    await writer.drain()
                    return
                if fault == "stall":
                    await asyncio.sleep(self.stall_seconds)
                    return
                async with httpx.AsyncClient(timeout=300) as client:
                    response = await client.request(request.method, self.upstream + request.path,
                                                    content=request.body, headers=request.forwarded_headers())
                content = response.content
                if fault == "truncate":
                    content = content[: len(content) // 2]
                writer.write(f"HTTP/1.1 {response.status_code} X\r\ncontent-type: application/json\r\n"
                             f"content-length: {len(content)}\r\n\r\n".encode() + content)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    def _fault(self, method: str, body: bytes) -> str | None:
        if method != "POST" or body in self._faulted:
            return None
        self._posts += 1
        if self._posts % self.every:
            return None
        self._faulted.add(body)
        return FAULTS[(self._posts // self.every - 1) % len(FAULTS)]


@contextmanager
def fault_proxy(upstream: str, port: int = 0, **options: float) -> Iterator[FaultProxy]:
    """Serve a :class:`FaultProxy` for ``upstream`` (``http://host:port``) on loopback ``port`` (0: a free one)."""
    proxy = FaultProxy(upstream, **options)  # type: ignore[arg-type]
    with serve_in_thread(proxy._handle, port) as proxy.port:
        yield proxy
