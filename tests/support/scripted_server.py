"""A real HTTP server on loopback that answers each request with the next scripted reply.

For the failures a healthy server does not produce on demand: a 429 with ``Retry-After``, a 401, a
body that trickles in slower than the client's deadline. It records when each request arrived.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.support.threaded_server import serve_in_thread


@dataclass(frozen=True)
class Reply:
    """One scripted answer; with ``trickle`` seconds, the body is sent a byte at a time that far apart."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float | None = None


@dataclass
class ScriptedServer:
    replies: list[Reply]
    port: int = 0
    arrivals: list[float] = field(default_factory=list)

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
                self.arrivals.append(time.monotonic())
                reply = self.replies[min(len(self.arrivals), len(self.replies)) - 1]
                headers = {"content-type": "application/json", "content-length": str(len(reply.body)),
                           **reply.headers}
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
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()


@contextmanager
def scripted_server(*replies: Reply) -> Iterator[ScriptedServer]:
    """Serve ``replies`` in order on a loopback port (the last one repeats), in a background thread."""
    server = ScriptedServer(list(replies))
    with serve_in_thread(server._handle) as server.port:
        yield server
