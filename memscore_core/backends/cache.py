"""A cache of answered requests, keyed by request content, so a rerun resends nothing.

The key is the SHA-256 of the model name, the messages and the scoring options: never the server
URL or the API key. The cache lives at a path or at any fsspec URL (``s3://…``, ``gs://…``,
``memory://…``), so workers on several hosts can share one. Entries are written whole: on a local or
mounted file system to a temporary name then renamed, on an object store as one object; a run killed
at any point leaves only complete entries behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import orjson
from fsspec.implementations.local import LocalFileSystem

from memscore_core.backends.protocol import PromptBackend
from memscore_core.model.prompt import ChatPrompt, Message, RequestOptions, ScoredPrompt
from memscore_core.model.result import canonical_json


def request_key(model: str, prompt: ChatPrompt, options: RequestOptions) -> str:
    """Content key of one scoring request (a prompt without tools keys as it always has; ``scored_roles`` changes
    no number a request reads, so it is left out)."""
    shown = asdict(options)
    del shown["scored_roles"]
    payload: dict[str, Any] = {"model": model, "messages": prompt.messages, "options": shown}
    if prompt.tools is not None:
        payload["tools"] = prompt.tools
    return hashlib.sha256(canonical_json(payload)).hexdigest()


class CachedBackend:
    """Wraps a backend; answers repeated requests from the cache at ``location`` (a path or an fsspec URL)."""

    def __init__(self, backend: PromptBackend, location: str | Path) -> None:
        self._backend = backend
        self._entries = CacheEntries(str(location))
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
        key = request_key(await self.model(), prompt, options)
        cached = self._entries.read(key)
        if cached is not None:
            self.hits += 1
            return cached
        scored = await self._backend.score(prompt, options)
        self.misses += 1
        self._entries.write(key, scored)
        return scored


class CacheEntries:
    """Scored prompts stored as ``.npz`` files under ``location``, two-character fan-out by key."""

    def __init__(self, location: str) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(location)
        self._local = isinstance(self.fs, LocalFileSystem)

    def path(self, key: str) -> str:
        return f"{self.root.rstrip('/')}/{key[:2]}/{key}.npz"

    def read(self, key: str) -> ScoredPrompt | None:
        """The entry for ``key``; ``None`` when there is none (or it cannot be read)."""
        try:
            raw = self.fs.cat_file(self.path(key))
            with np.load(io.BytesIO(raw)) as data:
                tokens = orjson.loads(bytes(data["tokens"]))
                return ScoredPrompt(data["token_ids"], data["logprobs"], tokens, int(data["prompt_tokens"]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, orjson.JSONDecodeError):
            return None

    def write(self, key: str, scored: ScoredPrompt) -> None:
        """Store ``scored`` under ``key``, whole or not at all."""
        buffer = io.BytesIO()
        np.savez(buffer, token_ids=scored.token_ids, logprobs=scored.logprobs,
                 tokens=np.frombuffer(orjson.dumps(scored.tokens), dtype=np.uint8),
                 prompt_tokens=np.int64(scored.prompt_tokens))
        path = self.path(key)
        if self._local:
            _replace_local(Path(path), buffer.getvalue())
        else:
            self.fs.pipe_file(path, buffer.getvalue())


def _replace_local(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
