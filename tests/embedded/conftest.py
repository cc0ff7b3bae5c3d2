"""The capture model (the tiny Qwen2 that produced the real vLLM captures) behind the local app."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.model import LocalModel

DATA = Path(__file__).resolve().parents[1] / "data"
CAPTURE_MODEL = DATA / "capture-model"
CAPTURES = DATA / "vllm-0.32-captures"


@pytest.fixture(scope="session")
def capture_model() -> LocalModel:
    return LocalModel(CAPTURE_MODEL, name="capture-model")


def call(model: LocalModel, method: str, path: str, body: Any = None, *, options: ServerOptions | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    """One request to the app over httpx's ASGI transport."""
    options = options or ServerOptions()
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_app(model, options))
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            return await client.request(method, path, json=body, headers=headers)
    return asyncio.run(send())
