"""A fault-injecting HTTP proxy on loopback: a share of scoring requests fail the ways real servers do.

Faults (cycled, on every ``every``-th POST): HTTP 503, a dropped connection, a truncated body and a
stall past the client's timeout. Everything else is forwarded unchanged. Runs in a background thread.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support.threaded_server import serve_in_thread

FAULTS = ("503", "drop", "truncate", "stall")


class FaultProxy:
    def __init__(self, upstream: str, *, every: int = 5, stall_seconds: float = 6.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.every = every
        self.stall_seconds = stall_seconds
        self.seen = Counter[str]()
        self._posts = 0
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
                body = await reader.readexactly(length) if length else b""
                fault = self._fault(method)
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
                    forwarded = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
                    response = await client.request(method, self.upstream + path, content=body, headers=forwarded)
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

    def _fault(self, method: str) -> str | None:
        if method != "POST":
            return None
        self._posts += 1
        if self._posts % self.every:
            return None
        return FAULTS[(self._posts // self.every - 1) % len(FAULTS)]


@contextmanager
def fault_proxy(upstream: str, port: int = 0, **options: float) -> Iterator[FaultProxy]:
    """Serve a :class:`FaultProxy` for ``upstream`` (``http://host:port``) on loopback ``port`` (0: a free one)."""
    proxy = FaultProxy(upstream, **options)  # type: ignore[arg-type]
    with serve_in_thread(proxy._handle, port) as proxy.port:
        yield proxy
