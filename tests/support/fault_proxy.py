"""A fault-injecting HTTP proxy on loopback: a share of scoring requests fail the ways real servers do.

Faults (cycled, on every ``every``-th POST): HTTP 503, a dropped connection, a truncated body and a
stall past the client's timeout. Everything else is forwarded unchanged. Runs in a background thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

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
def fault_proxy(upstream: str, **options: float) -> Iterator[FaultProxy]:
    """Serve a :class:`FaultProxy` for ``upstream`` (``http://host:port``) on a loopback port."""
    proxy = FaultProxy(upstream, **options)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    started = threading.Event()
    done: asyncio.Future[None] = loop.create_future()

    async def serve() -> None:
        server = await asyncio.start_server(proxy._handle, "127.0.0.1", 0)
        proxy.port = server.sockets[0].getsockname()[1]
        started.set()
        async with server:
            await done

    def run() -> None:
        loop.run_until_complete(serve())
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(done.set_result, None)
        thread.join(30)
