"""Store calls of the downstream paths: candidates and review, export traceability, memory weights."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from memscore_core.errors import StoreError
from memscore_core.model.conversation import Conversation
from memscore_core.store import queries as q
from memscore_core.store.records import rebuild_conversation
from memscore_core.store.store import Store

Status = Literal["pending", "approved", "rejected"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SOURCES_PER_PART = 4000
"""Candidates an export reads (and holds) at a time."""


class Candidate(BaseModel):
    """A response whose dependence on memories makes it a fine-tuning candidate."""

    candidate_id: int
    conversation_id: str
    content_hash: str
    model: str
    config_hash: str
    response_entry_idx: int
    dependence: float
    status: Status

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Candidate:
        return cls(**dict(zip(cls.model_fields, row[:len(cls.model_fields)], strict=True)))


class ExportSource(BaseModel):
    """Everything one exported example is built from: the conversation as it was scored (system memories,
    tools and tool calls included), the candidate response's top memories (exact cells), and how many of the
    response's cells are exact and how many screened estimates."""

    candidate: Candidate
    run_id: str
    scored_at: datetime
    conversation: Conversation
    top_memories: list[tuple[str, float]]
    exact_cells: int = 0
    screened_cells: int = 0


class WeightRow(BaseModel):
    memory_key: str
    weight: float
    n_scored: int
    last_scored_at: datetime


def refresh_candidates(store: Store, *, threshold: float, auto_approve: float | None = None) -> int:
    """Add responses of the latest results whose dependence ≥ ``threshold``; reviewed ones keep their status.

    Those ≥ ``auto_approve`` enter as approved. Returns the number of candidates added. New candidates are
    numbered after the highest id so far; refreshes are keyed writes, so concurrent ones never reuse an id.
    """
    def refresh(con: Any) -> int:
        before = _count(con, "candidates")
        con.execute(q.REFRESH_CANDIDATES, [auto_approve, auto_approve, _now(), threshold])
        return _count(con, "candidates") - before

    return store.write(refresh)


def list_candidates(store: Store, *, status: Status | None = None, min_dependence: float = 0.0) -> list[Candidate]:
    rows = store.read(lambda con: con.execute(q.LIST_CANDIDATES, [status, status, min_dependence]).fetchall())
    return [Candidate.from_row(row) for row in rows]


def set_status(store: Store, candidate_ids: Sequence[int], status: Status) -> None:
    """Approve or reject candidates; an unknown id changes nothing and raises."""
    def review(con: Any) -> None:
        for candidate_id in candidate_ids:
            row = con.execute(q.CANDIDATE_EXISTS, [candidate_id]).fetchone()
            if not row or not row[0]:
                raise StoreError(f"no candidate with id {candidate_id}")
            con.execute(q.SET_CANDIDATE_STATUS, [status, _now(), candidate_id])

    store.write(review)


def export_sources(store: Store, *, threshold: float, approved_only: bool, top: int = 3) -> list[ExportSource]:
    """The candidates to export (of the latest results only), each with its conversation and top memories."""
    return [source for part in iter_export_sources(store, threshold=threshold, approved_only=approved_only, top=top)
            for source in part]


def iter_export_sources(store: Store, *, threshold: float, approved_only: bool, top: int = 3,
                        per_part: int = SOURCES_PER_PART) -> Iterator[list[ExportSource]]:
    """:func:`export_sources` in parts of ``per_part`` candidates, in example order: four queries per part, so
    an export holds one part's conversations at a time."""
    with store.connect() as con:
        selected = con.execute(q.SELECT_FOR_EXPORT, [threshold, approved_only]).fetchall()
    for start in range(0, len(selected), per_part):
        part = selected[start:start + per_part]
        with store.connect() as con:
            yield _sources(con, part, top)


def _sources(con: Any, selected: Sequence[Sequence[Any]], top: int) -> list[ExportSource]:
    candidates = [Candidate.from_row(row) for row in selected]
    pairs = list(dict.fromkeys((c.conversation_id, c.content_hash) for c in candidates))
    pair_lists = [q.listed([pair[i] for pair in pairs]) for i in range(2)]
    heads = {tuple(row[:2]): row[2:] for row in con.execute(q.CONVERSATIONS_BY_PAIRS, pair_lists).fetchall()}
    entries: dict[Any, list[Any]] = {}
    for row in con.execute(q.ENTRIES_BY_PAIRS, pair_lists).fetchall():
        entries.setdefault(tuple(row[:2]), []).append(row[2:])
    responses = [q.listed([getattr(c, name) for c in candidates])
                 for name in ("content_hash", "model", "config_hash", "response_entry_idx")]
    tops: dict[Any, list[tuple[str, float]]] = {}
    for row in con.execute(q.TOP_MEMORIES_OF_RESPONSES, [*responses, top]).fetchall():
        tops.setdefault(tuple(row[:4]), []).append((row[4], float(row[5])))
    counts = {tuple(row[:4]): (row[4], row[5]) for row in con.execute(q.CELLS_OF_RESPONSES, responses).fetchall()}
    conversations = {pair: rebuild_conversation(pair[0], heads[pair], entries.get(pair, []))
                     for pair in pairs if pair in heads}
    sources = []
    for c, row in zip(candidates, selected, strict=True):
        conversation = conversations.get((c.conversation_id, c.content_hash))
        if conversation is None:
            raise StoreError(f"conversation {c.conversation_id!r} ({c.content_hash[:12]}) is scored but not stored")
        response = (c.content_hash, c.model, c.config_hash, c.response_entry_idx)
        exact, screened = counts.get(response, (0, 0))
        sources.append(ExportSource(candidate=c, run_id=row[8], scored_at=row[9], conversation=conversation,
                                    top_memories=tops.get(response, []), exact_cells=exact,
                                    screened_cells=screened))
    return sources


def record_export(store: Store, *, export_id: str, name: str, fmt: str, directory: str, selection: dict[str, Any],
                  candidates: Sequence[Candidate]) -> None:
    """Register an export and the candidate behind each of its examples."""
    head = [export_id, name, fmt, directory, json.dumps(selection), len(candidates), _now()]
    items = [export_id, q.listed(range(len(candidates)))] + [
        q.listed([getattr(c, name) for c in candidates]) for name in (
            "candidate_id", "conversation_id", "content_hash", "model", "config_hash", "response_entry_idx",
            "dependence")]

    def insert(con: Any) -> None:
        con.execute(q.INSERT_EXPORT, head)
        if candidates:
            con.execute(q.INSERT_EXPORT_ITEMS, items)

    store.write(insert, keyed=False)


def memory_observations(store: Store) -> list[tuple[str, str, float, datetime]]:
    """(key, conversation, importance per scored response, scored_at) not yet folded into the weights. The time is
    read as microseconds since the epoch: DuckDB makes each TIMESTAMPTZ a zoned datetime in Python (40 s of 48 for
    10^6 observations)."""
    rows = store.read(lambda con: con.execute(q.MEMORY_OBSERVATIONS).fetchall())
    return [(r[0], r[1], float(r[2] or 0.0), EPOCH + timedelta(microseconds=r[3])) for r in rows]


def memory_weights(store: Store) -> list[WeightRow]:
    rows = store.read(lambda con: con.execute(q.MEMORY_WEIGHTS).fetchall())
    return [WeightRow(memory_key=r[0], weight=r[1], n_scored=r[2], last_scored_at=r[3]) for r in rows]


def save_memory_weights(store: Store, rows: Sequence[WeightRow]) -> None:
    if not rows:
        return
    keys = [r.memory_key for r in rows]
    values = [q.listed(keys), q.listed([r.weight for r in rows]), q.listed([r.n_scored for r in rows]),
              q.listed([r.last_scored_at.isoformat() for r in rows]), _now()]

    def replace(con: Any) -> None:
        con.execute(q.DELETE_MEMORY_WEIGHTS, [q.listed(keys)])
        con.execute(q.INSERT_MEMORY_WEIGHTS, values)

    store.write(replace)


def stale_memories(store: Store, *, scored_before: datetime) -> list[WeightRow]:
    """Memories last scored before ``scored_before``, oldest first."""
    rows = store.read(lambda con: con.execute(q.STALE_MEMORIES, [scored_before]).fetchall())
    return [WeightRow(memory_key=r[0], weight=r[1], n_scored=r[2], last_scored_at=r[3]) for r in rows]


def _count(con: Any, table: str) -> int:
    row = con.execute(q.count_rows(table)).fetchone()
    return int(row[0]) if row else 0


def _now() -> datetime:
    return datetime.now(UTC)
