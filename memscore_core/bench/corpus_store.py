"""A store of many scored conversations, built directly (no model): the corpus the store benchmarks read.

Each conversation has ``memories`` memory entries and ``responses`` user/assistant turns (10 × 10 = 100
cells by default: 10^5 conversations are 10^7 cells), memory keys drawn from a shared vocabulary (so
``top`` aggregates across conversations), results dated evenly over a year. Conversations are real
:class:`~memscore_core.model.conversation.Conversation` records with their real content hashes, so
:func:`corpus_conversation` also writes the archive a scoring run would read.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from memscore_core.model.conversation import Conversation
from memscore_core.model.result import content_hash
from memscore_core.store import Store
from memscore_core.store.bulk import CorpusPart, entry_columns, write_corpus_part

MEMORIES = 10
RESPONSES = 10
KEYS = 5000
"""Distinct memory keys over the whole corpus."""
PART = 5000
"""Conversations written per transaction."""
MODEL = "corpus-model"
CONFIG_HASH = "corpus-config"
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)


def corpus_conversation(index: int, *, seed: int = 0, memories: int = MEMORIES,
                        responses: int = RESPONSES) -> Conversation:
    """Conversation ``index`` of the corpus: memories first, then ``responses`` question/answer turns."""
    rng = random.Random(seed * 1_000_003 + index)
    keys = rng.sample(range(KEYS), memories)
    entries: list[dict[str, str]] = [
        {"role": "user", "content": f"Remember: fact {key} says {rng.randrange(10 ** 6)}.",
         "memory_key": f"topic-{key % 50:02d}/fact-{key:04d}"} for key in keys]
    for turn in range(responses):
        asked = keys[rng.randrange(memories)] if memories else 0
        entries.append({"role": "user", "content": f"Turn {turn}: what does fact {asked} say?"})
        entries.append({"role": "assistant", "content": f"Fact {asked} says something about turn {turn}."})
    return Conversation.model_validate({"id": f"corpus-{seed}-{index:07d}", "entries": entries})


def build_corpus_store(target: str, conversations: int, *, seed: int = 0, data_path: str | None = None,
                       memories: int = MEMORIES, responses: int = RESPONSES) -> None:
    """Write ``conversations`` scored conversations into the store at ``target`` (a DuckDB file or a
    ``ducklake:`` target, with ``data_path`` for a new lake), :data:`PART` per transaction."""
    store = Store(target, data_path=data_path)
    step = timedelta(days=365) / max(conversations, 1)
    with store:
        for start in range(0, conversations, PART):
            indices = range(start, min(conversations, start + PART))
            built = [corpus_conversation(i, seed=seed, memories=memories, responses=responses) for i in indices]
            hashes = [content_hash(conversation) for conversation in built]
            rows = [(conversation.id, digest, idx, entry.role, entry.memory_key, entry.content or "")
                    for conversation, digest in zip(built, hashes, strict=True)
                    for idx, entry in enumerate(conversation.entries)]
            write_corpus_part(store, CorpusPart(
                run_id=f"corpus-{seed}-{start:07d}", model=MODEL, config_hash=CONFIG_HASH, memories=memories,
                responses=responses, conversation_ids=[c.id for c in built], content_hashes=hashes,
                scored_at=[YEAR_START + step * i for i in indices], entries=entry_columns(rows)))


def write_archive(directory: Path, conversations: int, *, seed: int = 0, per_file: int = 100) -> list[Path]:
    """The corpus as JSONL files of ``per_file`` conversations each (what an hourly run reads)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, conversations, per_file):
        path = directory / f"part-{start // per_file:05d}.jsonl"
        path.write_text("".join(corpus_conversation(i, seed=seed).model_dump_json(exclude_defaults=True) + "\n"
                                for i in range(start, min(conversations, start + per_file))), encoding="utf-8")
        files.append(path)
    return files
