"""A real HTTP server on loopback that answers each request with the next scripted reply.

For the failures a healthy server does not produce on demand: a 429 with ``Retry-After``, a 401, a
body that trickles in slower than the client's deadline, an answer that takes a while. It records when
each request arrived and the most requests it held at once. Given ``models``, it answers ``GET
.../models`` with that list itself (not from the script, and not counted as an arrival).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson

from tests.support.threaded_server import serve_in_thread


@dataclass(frozen=True)
class Reply:
    """One scripted answer; with ``trickle`` seconds, the body is sent a byte at a time that far apart;
    with ``delay`` seconds, the whole answer waits that long first."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float | None = None
    delay: float = 0.0


def models_body(*names: str) -> bytes:
    """A ``/v1/models`` answer listing ``names``, in vLLM's shape."""
    return orjson.dumps({"object": "list", "data": [{"id": name, "object": "model"} for name in names]})


@dataclass
class ScriptedServer:
    replies: list[Reply]
    models: bytes | None = None
    port: int = 0
    arrivals: list[float] = field(default_factory=list)
    model_checks: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                if self.models is not None and head.split(b" ", 2)[1].endswith(b"/models"):
                    self.model_checks += 1
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                 + f"content-length: {len(self.models)}\r\n\r\n".encode() + self.models)
                    await writer.drain()
                    continue
                self.arrivals.append(time.monotonic())
                reply = self.replies[min(len(self.arrivals), len(self.replies)) - 1]
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                try:
                    await self._answer(writer, reply)
                finally:
                    self.in_flight -= 1
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        await asyncio.sleep(reply.delay)
        headers = {"content-type": "application/json", "content-length": str(len(reply.body)), **reply.headers}
        writer.write(f"HTTP/1.1 {reply.status} X\r\n".encode()
                     + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n")
        if reply.trickle is None:
            writer.write(reply.body)
        else:
            for byte in reply.body:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(reply.trickle)
        await writer.drain()


@contextmanager
def scripted_server(*replies: Reply, models: bytes | None = None) -> Iterator[ScriptedServer]:
    """Serve ``replies`` in order on a loopback port (the last one repeats), in a background thread."""
    server = ScriptedServer(list(replies), models=models)
    with serve_in_thread(server._handle) as server.port:
        yield server
