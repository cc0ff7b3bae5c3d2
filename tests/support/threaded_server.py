"""Serve an asyncio stream handler on a loopback port from a background thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextmanager
def serve_in_thread(handler: Handler, port: int = 0) -> Iterator[int]:
    """Run ``handler`` for each connection on loopback ``port`` (0: a free one); yields the port; stops on exit."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    done: asyncio.Future[None] = loop.create_future()

    async def serve() -> None:
        nonlocal port
        listener = await asyncio.start_server(handler, "127.0.0.1", port)
        port = listener.sockets[0].getsockname()[1]
        started.set()
        async with listener:
            await done

    def run() -> None:
        asyncio.set_event_loop(loop)
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
        yield port
    finally:
        loop.call_soon_threadsafe(done.set_result, None)
        thread.join(30)
