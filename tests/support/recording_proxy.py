"""A proxy that records every scoring request a model server receives, for tests on several hosts.

Run as ``python -m tests.support.recording_proxy --listen HOST:PORT --upstream URL --log FILE``. Each POST
to ``/v1/chat/completions`` is forwarded unchanged and logged as one JSON line: memscore's request-cache key
of the body, when it arrived and when its answer went back (or ``null`` if the client was gone).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from memscore_core.backends.cache import request_key
from memscore_core.model.prompt import ChatPrompt, RequestOptions
from tests.support.proxy_requests import read_request


def body_key(body: dict[str, Any]) -> str:
    """The request cache key of a prompt-logprobs chat request body, as the client computed it."""
    options = RequestOptions(top_k=body["prompt_logprobs"], add_generation_prompt=body.get("add_generation_prompt"),
                             return_token_ids=bool(body.get("return_token_ids", False)))
    return request_key(body["model"], ChatPrompt(body["messages"], body.get("tools")), options)


class RecordingProxy:
    def __init__(self, upstream: str, log: Path) -> None:
        self.upstream = upstream.rstrip("/")
        self.log = log.open("ab", buffering=0)
        self.client = httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=256))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                record = self._record(request.method, request.path, request.body)
                response = await self.client.request(request.method, self.upstream + request.path,
                                                     content=request.body, headers=request.forwarded_headers())
                writer.write(f"HTTP/1.1 {response.status_code} X\r\ncontent-type: "
                             f"{response.headers.get('content-type', 'application/json')}\r\n"
                             f"content-length: {len(response.content)}\r\n\r\n".encode() + response.content)
                await writer.drain()
                if record is not None:
                    self.log.write(orjson.dumps({**record, "answered": time.time(),
                                                 "status": response.status_code}) + b"\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, httpx.TransportError):
            return
        finally:
            writer.close()

    def _record(self, method: str, path: str, body: bytes) -> dict[str, Any] | None:
        if method != "POST" or not path.endswith("/chat/completions"):
            return None
        record = {"key": body_key(orjson.loads(body)), "received": time.time()}
        self.log.write(orjson.dumps({**record, "answered": None, "status": None}) + b"\n")
        return record


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    proxy = RecordingProxy(args.upstream, args.log)
    server = await asyncio.start_server(proxy.handle, host, int(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
