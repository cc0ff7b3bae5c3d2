"""Stores of many scored conversations, built without a model: what the corpus and UI benchmarks read.

Conversation ``i`` has ``memories`` memory entries then ``responses`` user/assistant turns (10 × 10 = 100 cells
by default: 10^5 conversations are 10^7 cells). Its memory keys come from a shared vocabulary of ``keys``
(``topic-07/fact-0123``, so ``top`` aggregates across conversations; keys with a small number matter more),
its cells are deterministic in (seed, i), every ``screened_every``-th cell is a screened estimate, and its
result is dated ``i % days`` days (and ``i`` seconds) before ``end``, under ``models[i % len(models)]`` and
``strategies[i % len(strategies)]``. Conversations are real :class:`~memscore_core.model.conversation.Conversation`
records with their real content hashes (so :func:`write_archive` writes the archive a scoring run would read), and
results are written through :meth:`Store.write_results`, the scoring writer's own code (memory summary included),
:data:`PART` conversations per transaction, oldest result first (as a store that only grows is written: what the
point reads' pruning by time relies on, migration 0010).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field

from memscore_core.errors import StoreError
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore, content_hash
from memscore_core.store import Store

MEMORIES = 10
RESPONSES = 10
KEYS = 5000
"""Distinct memory keys over the whole corpus."""
PART = 2000
"""Conversations written per transaction."""
MODEL = "corpus-model"
CONFIG_HASH = "corpus-config"
END = datetime(2026, 12, 31, 12, tzinfo=UTC)


class CorpusShape(BaseModel):
    """How many conversations of which shape, and how their results spread over models, strategies and days."""

    conversations: int = Field(ge=1)
    memories: int = Field(default=MEMORIES, ge=1)
    responses: int = Field(default=RESPONSES, ge=1)
    keys: int = Field(default=KEYS, ge=1)
    days: int = Field(default=365, ge=1)
    models: list[str] = Field(default_factory=lambda: [MODEL], min_length=1)
    strategies: list[str] = Field(default_factory=lambda: ["exact"], min_length=1)
    screened_every: int = Field(default=0, ge=0, description="every n-th cell is screened (0: none)")
    config_hash: str = CONFIG_HASH
    seed: int = 0
    end: datetime = END


def corpus_conversation(index: int, *, seed: int = 0, memories: int = MEMORIES, responses: int = RESPONSES,
                        keys: int = KEYS) -> Conversation:
    """Conversation ``index`` of the corpus: memories first, then ``responses`` question/answer turns."""
    rng = random.Random(seed * 1_000_003 + index)
    chosen = rng.sample(range(keys), min(memories, keys))
    entries: list[dict[str, str]] = [
        {"role": "user", "content": f"Remember: fact {key} says {rng.randrange(10 ** 6)}.",
         "memory_key": f"topic-{key % 50:02d}/fact-{key:04d}"} for key in chosen]
    for turn in range(responses):
        asked = chosen[rng.randrange(len(chosen))]
        entries.append({"role": "user", "content": f"Turn {turn}: what does fact {asked} say?"})
        entries.append({"role": "assistant", "content": f"Fact {asked} says something about turn {turn}."})
    return Conversation.model_validate({"id": f"corpus-{seed}-{index:07d}", "entries": entries})


def corpus_score(index: int, conversation: Conversation, digest: str, shape: CorpusShape) -> ConversationScore:
    """The synthetic result of conversation ``index``: divergences skewed towards few large cells, larger for keys
    with a small number; every ``screened_every``-th cell screened (its estimate half the value)."""
    rng = random.Random(shape.seed * 7_000_003 + index)
    keys = [entry.memory_key for entry in conversation.entries if entry.memory_key is not None]
    memory_entries = list(range(len(keys)))
    responses = [i for i, entry in enumerate(conversation.entries) if entry.role == "assistant"]
    matrix: list[list[float | None]] = []
    screened: list[list[float | None]] = []
    for m, key in enumerate(keys):
        weight = 1 + 20 / (1 + int(key.rpartition("-")[2]) % 200)
        row: list[float | None] = []
        estimates: list[float | None] = []
        for j in range(len(responses)):
            value = round(12 * rng.random() ** 8 * weight, 6)
            hidden = shape.screened_every > 0 and (index * 31 + m * 7 + j) % shape.screened_every == 0
            row.append(None if hidden else value)
            estimates.append(value / 2 if hidden else None)
        matrix.append(row)
        screened.append(estimates)
    sums = [sum(v for v in column if v is not None) for column in zip(*matrix, strict=True)]
    return ConversationScore.model_construct(
        conversation_id=conversation.id, content_hash=digest, strategy=shape.strategies[index % len(shape.strategies)],
        model=shape.models[index % len(shape.models)], memory_keys=keys, memory_entry_indices=memory_entries,
        response_entry_indices=responses, response_tokens=[8 + (index + j) % 40 for j in range(len(responses))],
        matrix=matrix, signed_matrix=[[None if v is None else round(v - 0.01, 6) for v in row] for row in matrix],
        memory_weights=[sum(v for v in row if v is not None) for row in matrix], response_scores=sums,
        drop_all=[0.4 * total for total in sums], requests=len(keys) + 2, prompt_tokens=(len(keys) + 2) * 400,
        chunks=[list(range(len(conversation.entries)))], chunk_strategies=[],
        screened=screened if shape.screened_every else None, fit_r2=None, noise_floor=None, noise_floor_method=None)


def build_corpus(store: Store, shape: CorpusShape) -> None:
    """Write ``shape.conversations`` scored conversations into ``store``, which must hold no result yet:
    :data:`PART` per transaction, one scoring run per part, model and strategy."""
    if store.count("results"):
        raise StoreError(f"{store.name} already holds results: a synthetic corpus is built into a new store")
    order = sorted(range(shape.conversations), key=lambda i: (scored_at(i, shape), i))
    with store:
        for start in range(0, shape.conversations, PART):
            _write_part(store, shape, order[start:start + PART])


def scored_at(index: int, shape: CorpusShape) -> datetime:
    """When conversation ``index``'s result is dated: ``index % days`` days and ``index`` seconds before the end."""
    return shape.end - timedelta(days=index % shape.days, seconds=index % 86400)


def build_corpus_store(target: str, conversations: int, *, seed: int = 0, data_path: str | None = None,
                       memories: int = MEMORIES, responses: int = RESPONSES) -> None:
    """:func:`build_corpus` at ``target`` (a DuckDB file or a ``ducklake:`` target, with ``data_path`` for a new
    lake), one model and strategy, no screened cells, dated over a year."""
    build_corpus(Store(target, data_path=data_path),
                 CorpusShape(conversations=conversations, seed=seed, memories=memories, responses=responses))


def _write_part(store: Store, shape: CorpusShape, indices: list[int]) -> None:
    built = [corpus_conversation(i, seed=shape.seed, memories=shape.memories, responses=shape.responses,
                                 keys=shape.keys) for i in indices]
    hashes = [content_hash(conversation) for conversation in built]
    position = {i: p for p, i in enumerate(indices)}
    groups: dict[tuple[str, str], list[int]] = {}
    for i in indices:
        groups.setdefault((shape.models[i % len(shape.models)], shape.strategies[i % len(shape.strategies)]),
                          []).append(i)
    runs = {group: store.record_run_start(model=group[0], backend="corpus-builder", strategy=group[1], config={},
                                          config_hash=shape.config_hash, host="corpus-builder") for group in groups}

    def write(_: object) -> None:
        store.upsert_conversations(list(zip(built, hashes, strict=True)), source_file="corpus.jsonl")
        for group, members in groups.items():
            at = [scored_at(i, shape) for i in members]
            scores = [corpus_score(i, built[position[i]], hashes[position[i]], shape) for i in members]
            store.write_results(runs[group], scores, shape.config_hash, scored_at=at)

    store.write(write, keyed=False)
    for group, members in groups.items():
        store.record_run_finish(runs[group], status="completed", requests=len(members), prompt_tokens=0)


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
