"""An on-disk cache of answered requests, keyed by request content, so a rerun resends nothing.

The key is the SHA-256 of the model name, the messages and the scoring options: never the server
URL or the API key. Entries are written atomically (temporary file + rename), so a run killed at
any point leaves only complete entries behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from memscore_core.backends.base import PromptBackend
from memscore_core.backends.vllm import RequestOptions
from memscore_core.parsing import ScoredPrompt
from memscore_core.prompt import ChatPrompt, Message
from memscore_core.result import canonical_json


def request_key(model: str, prompt: ChatPrompt, options: RequestOptions) -> str:
    """Content key of one scoring request (a prompt without tools keys as it always has)."""
    payload: dict[str, Any] = {"model": model, "messages": prompt.messages, "options": asdict(options)}
    if prompt.tools is not None:
        payload["tools"] = prompt.tools
    return hashlib.sha256(canonical_json(payload)).hexdigest()


class CachedBackend:
    """Wraps a backend; answers repeated requests from ``directory``."""

    def __init__(self, backend: PromptBackend, directory: Path) -> None:
        self._backend = backend
        self.directory = directory
        self.hits = 0
        self.misses = 0

    async def model(self) -> str:
        return await self._backend.model()

    async def generate(self, messages: list[Message], *, max_tokens: int = 128) -> str:
        """Generation is not cached: it is not part of scoring."""
        return await self._backend.generate(messages, max_tokens=max_tokens)

    async def aclose(self) -> None:
        await self._backend.aclose()

    async def __aenter__(self) -> CachedBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def score(self, prompt: ChatPrompt, options: RequestOptions) -> ScoredPrompt:
        path = self._path(request_key(await self.model(), prompt, options))
        cached = _read(path)
        if cached is not None:
            self.hits += 1
            return cached
        scored = await self._backend.score(prompt, options)
        self.misses += 1
        _write(path, scored)
        return scored

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npz"


def _read(path: Path) -> ScoredPrompt | None:
    try:
        with np.load(path) as data:
            tokens = orjson.loads(bytes(data["tokens"]))
            return ScoredPrompt(data["token_ids"], data["logprobs"], tokens, int(data["prompt_tokens"]))
    except (OSError, ValueError, KeyError, orjson.JSONDecodeError):
        return None


def _write(path: Path, scored: ScoredPrompt) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, token_ids=scored.token_ids, logprobs=scored.logprobs,
                     tokens=np.frombuffer(orjson.dumps(scored.tokens), dtype=np.uint8),
                     prompt_tokens=np.int64(scored.prompt_tokens))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
