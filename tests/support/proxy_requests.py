"""What the test proxies share: read one HTTP/1.1 request off a connection, and the headers to forward."""

from __future__ import annotations

import asyncio
from typing import NamedTuple


class ProxiedRequest(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def forwarded_headers(self) -> dict[str, str]:
        """The headers to send upstream: all but ``host`` and ``content-length``, which the client sets."""
        return {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}


async def read_request(reader: asyncio.StreamReader) -> ProxiedRequest:
    """The next request on ``reader`` (``asyncio.IncompleteReadError`` when the client has gone)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
    body = await reader.readexactly(length) if length else b""
    return ProxiedRequest(method, path, headers, body)
