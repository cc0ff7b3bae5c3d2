"""Benchmark corpora of controlled shape: conversations × chunks × responses, memories where a topic starts.

Every message has the same UTF-8 length, so ``BenchShape.chunk_tokens()`` cuts each conversation
exactly after the last answer of each designed chunk.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, Field

from memscore_core.model.conversation import Conversation, Entry
from memscore_core.synth.facts import invented_word

SYSTEM_PROMPT = "You are a helpful assistant with a long-term memory."


class BenchShape(BaseModel):
    """The shape of a benchmark corpus."""

    conversations: int = Field(default=4, ge=1)
    memories: int = Field(default=8, ge=0)
    chunks: int = Field(default=4, ge=1)
    responses_per_chunk: int = Field(default=24, ge=1)
    message_bytes: int = Field(default=80, ge=24)
    seed: int = 7

    def memories_in(self, chunk: int) -> int:
        return self.memories // self.chunks + (1 if chunk < self.memories % self.chunks else 0)

    def chunk_tokens(self) -> int:
        """The ``chunk_tokens`` that closes each chunk at its last answer (budget = chunk − half a message)."""
        largest = max(self.memories_in(c) for c in range(self.chunks)) + 2 * self.responses_per_chunk
        budget = largest * self.message_bytes - self.message_bytes // 2
        return (budget + len(SYSTEM_PROMPT.encode()) + 3) // 4


def _text(rng: random.Random, size: int, lead: str = "") -> str:
    words = lead
    while len(words) < size:
        words += invented_word(rng) + " "
    return words[: size - 1].rstrip().ljust(size - 1, "a") + "."


def bench_conversation(shape: BenchShape, index: int) -> Conversation:
    """Chunks of user/assistant exchanges; each chunk's memories come first, where its topic begins."""
    rng = random.Random(f"{shape.seed}-{index}")
    entries: list[Entry] = []
    for chunk in range(shape.chunks):
        for m in range(shape.memories_in(chunk)):
            entries.append(Entry(role="user", memory_key=f"bench/{chunk}/{m}",
                                 content=_text(rng, shape.message_bytes, "Recalled memory: ")))
        for _ in range(shape.responses_per_chunk):
            entries.append(Entry(role="user", content=_text(rng, shape.message_bytes)))
            entries.append(Entry(role="assistant", content=_text(rng, shape.message_bytes)))
    return Conversation(id=f"bench-{index:03d}", system_prompt=SYSTEM_PROMPT, entries=entries)


def bench_corpus(shape: BenchShape) -> list[Conversation]:
    return [bench_conversation(shape, index) for index in range(shape.conversations)]


def predicted_token_ratio(memories: int, chunks: int, chunks_with_memory: int, window_fraction: float = 1.0) -> float:
    """exact ÷ seed prompt tokens for equal chunks: seed re-sends every chunk per memory, exact one chunk.

    seed = (M + 1)·C chunk prompts; exact = C baselines + (M + C_mem)·f chunk prompts, where ``f`` is the
    fraction of a chunk an ablation sends (1 without a window).
    """
    return (chunks + (memories + chunks_with_memory) * window_fraction) / ((memories + 1) * chunks)
