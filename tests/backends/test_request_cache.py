"""The request cache: content-keyed answers at a path or an fsspec URL, shared by whoever reads the location."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from memscore_core.backends.cache import CachedBackend, CacheEntries
from memscore_core.model.prompt import ChatPrompt, RequestOptions, ScoredPrompt

PROMPT = ChatPrompt([{"role": "user", "content": "hello"}])


class CountingBackend:
    """Answers every prompt with the same scored tokens and counts what it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    async def model(self) -> str:
        return "m"

    async def score(self, prompt: ChatPrompt, options: RequestOptions) -> ScoredPrompt:
        self.asked += 1
        return ScoredPrompt(np.array([-1, 7, 8]), np.array([np.nan, -0.5, -1.25]), [None, "he", "llo"], 3)

    async def generate(self, messages: object, *, max_tokens: int = 128) -> str:
        return ""

    async def aclose(self) -> None:
        return None


def ask_twice(location: str) -> tuple[int, ScoredPrompt]:
    backend = CountingBackend()

    async def run() -> ScoredPrompt:
        await CachedBackend(backend, location).score(PROMPT, RequestOptions())
        return await CachedBackend(backend, location).score(PROMPT, RequestOptions())
    answer = asyncio.run(run())
    return backend.asked, answer


@pytest.mark.parametrize("scheme", ["path", "file-url", "memory-url"])
def test_a_second_cache_at_the_same_location_answers_without_asking(tmp_path: Path, scheme: str) -> None:
    location = {"path": str(tmp_path / "cache"), "file-url": f"file://{tmp_path}/cache",
                "memory-url": f"memory://memscore-test-{tmp_path.name}"}[scheme]
    asked, answer = ask_twice(location)
    assert asked == 1
    assert answer.tokens == [None, "he", "llo"] and answer.prompt_tokens == 3
    np.testing.assert_array_equal(answer.logprobs, [np.nan, -0.5, -1.25])


def test_an_entry_cut_short_reads_as_a_miss(tmp_path: Path) -> None:
    entries = CacheEntries(str(tmp_path))
    path = Path(entries.path("ab" * 32))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 truncated")
    assert entries.read("ab" * 32) is None


def test_local_entries_leave_no_temporary_files(tmp_path: Path) -> None:
    ask_twice(str(tmp_path))
    assert [p.suffix for p in tmp_path.rglob("*") if p.is_file()] == [".npz"]
