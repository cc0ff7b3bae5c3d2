"""Conversations and results as the column lists :mod:`memscore_core.store.write_queries` inserts: the scoring
writer's one result and a synthetic corpus's thousands go through the same code, memory summary included."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from memscore_core.errors import StoreError
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.store import write_queries as w
from memscore_core.store.queries import listed
from memscore_core.store.records import ResultKey

Connection = duckdb.DuckDBPyConnection


Row = dict[str, Any]


@dataclass
class ResultRows:
    """Results to insert at once: per result its head, per cell and per response column a row."""

    heads: list[Row] = field(default_factory=list)
    cells: list[Row] = field(default_factory=list)
    columns: list[Row] = field(default_factory=list)
    keys: list[ResultKey] = field(default_factory=list)
    _queued: set[ResultKey] = field(default_factory=set)

    def add(self, score: ConversationScore, *, config_hash: str, run_id: str, scored_at: datetime) -> None:
        """Queue ``score``; refused if its shape is inconsistent or its key is queued already."""
        check_shape(score)
        key = (score.content_hash, score.model, config_hash)
        if key in self._queued:
            raise StoreError(f"conversation {score.conversation_id!r}: its result is written twice in one batch")
        r = len(self.keys)
        self.keys.append(key)
        self._queued.add(key)
        method = score.noise_floor_method
        self.heads.append({
            "r": r, "content_hash": key[0], "model": key[1], "config_hash": key[2], "run_id": run_id,
            "conversation_id": score.conversation_id, "strategy": score.strategy, "scored_at": scored_at,
            "requests": score.requests, "prompt_tokens": score.prompt_tokens, "chunks": json.dumps(score.chunks),
            "chunk_strategies": json.dumps(score.chunk_strategies) if score.chunk_strategies else None,
            "noise_floor": score.noise_floor,
            "noise_floor_method": None if method is None else json.dumps(method.model_dump(mode="json"))})
        _add_cells(self.cells, r, score)
        fit = score.fit_r2 if score.fit_r2 is not None else [None] * len(score.response_entry_indices)
        self.columns += [{"r": r, "column_idx": j, "response_entry_idx": entry, "score": score.response_scores[j],
                          "drop_all": score.drop_all[j], "tokens": score.response_tokens[j], "fit_r2": fit[j]}
                         for j, entry in enumerate(score.response_entry_indices)]

    def insert(self, con: Connection) -> None:
        """Insert every queued result, its cells, responses and memory summary (none of their keys stored yet)."""
        if not self.keys:
            return
        heads = listed(self.heads)
        con.execute(w.INSERT_RESULTS, [heads])
        if self.cells:
            cells = [heads, listed(self.cells)]
            con.execute(w.INSERT_SCORES, cells)
            con.execute(w.INSERT_MEMORY_SUMMARY, cells)
        if self.columns:
            con.execute(w.INSERT_RESPONSES, [heads, listed(self.columns)])

    def replace(self, con: Connection) -> None:
        """Delete the stored results with these keys (their cells, responses and summary), then :meth:`insert`."""
        wanted = [listed([key[i] for key in self.keys]) for i in range(3)]
        stored = con.execute(w.STORED_RESULTS, wanted).fetchall()
        if stored:
            keys = [listed([key[i] for key in stored]) for i in range(3)]
            for statement in w.DELETE_RESULTS:
                con.execute(statement, keys)
        self.insert(con)


@dataclass
class ConversationRows:
    """Conversations to record at once, each (id, content hash) once."""

    heads: list[Row] = field(default_factory=list)
    entries: list[list[Row]] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    _queued: set[tuple[str, str]] = field(default_factory=set)

    def add(self, conversation: Conversation, content_hash: str, *, source_file: str | None,
            source_format: str | None, ingested_at: datetime) -> None:
        pair = (conversation.id, content_hash)
        if pair in self._queued:
            return
        self._queued.add(pair)
        self.pairs.append(pair)
        self.heads.append({
            "conversation_id": pair[0], "content_hash": pair[1], "source_file": source_file,
            "ingested_at": ingested_at, "meta": json.dumps(conversation.meta),
            "system_prompt": conversation.system_prompt, "context": conversation.context,
            "tools": None if conversation.tools is None else json.dumps(conversation.tools),
            "system_memories": json.dumps([memory.model_dump() for memory in conversation.system_memories])
            if conversation.system_memories else None, "source_format": source_format})
        self.entries.append([{
            "conversation_id": pair[0], "content_hash": pair[1], "entry_idx": idx, "role": e.role,
            "memory_key": e.memory_key, "content": e.content, "reasoning": e.reasoning,
            "tool_call_id": e.tool_call_id, "name": e.name,
            "tool_calls": None if e.tool_calls is None else json.dumps([c.model_dump() for c in e.tool_calls]),
            "ingested_at": ingested_at}
            for idx, e in enumerate(conversation.entries)])

    def insert_new(self, con: Connection) -> bool:
        """Insert the conversations not stored yet (a stored one is kept as first written); whether any was."""
        wanted = [listed([pair[i] for pair in self.pairs]) for i in range(2)]
        stored = {tuple(row) for row in con.execute(w.STORED_CONVERSATIONS, wanted).fetchall()} if self.pairs else set()
        keep = [i for i, pair in enumerate(self.pairs) if pair not in stored]
        if not keep:
            return False
        con.execute(w.INSERT_CONVERSATIONS, [listed([self.heads[i] for i in keep])])
        entries = [row for i in keep for row in self.entries[i]]
        if entries:
            con.execute(w.INSERT_ENTRIES, [listed(entries)])
        return True


def check_shape(score: ConversationScore) -> None:
    """Refuse a result whose columns disagree in length or whose rows are longer than its columns."""
    columns = len(score.response_entry_indices)
    lengths = {"response_tokens": len(score.response_tokens), "response_scores": len(score.response_scores),
               "drop_all": len(score.drop_all)}
    if score.fit_r2 is not None:
        lengths["fit_r2"] = len(score.fit_r2)
    wrong = {name: n for name, n in lengths.items() if n != columns}
    rows = len(score.memory_keys)
    if (wrong or len(score.memory_entry_indices) != rows or len(score.matrix) != rows
            or any(len(row) > columns for row in score.matrix)):
        raise StoreError(f"conversation {score.conversation_id!r}: the result's shape is inconsistent "
                         f"({rows} memories, {columns} response columns, {wrong or 'matrix rows too long'})")


def _add_cells(cells: list[Row], r: int, score: ConversationScore) -> None:
    """Append the scores table's cells of result ``r`` (every cell of every row, NULL where not scored)."""
    chunk_of = {entry: c for c, chunk in enumerate(score.chunks) for entry in chunk}
    for m, row in enumerate(score.matrix):
        signed = score.signed_matrix[m] if m < len(score.signed_matrix) else []
        screened = score.screened[m] if score.screened is not None and m < len(score.screened) else []
        for j, value in enumerate(row):
            entry = score.response_entry_indices[j]
            strategy = score.strategy
            if entry is not None and entry in chunk_of and chunk_of[entry] < len(score.chunk_strategies):
                strategy = score.chunk_strategies[chunk_of[entry]]
            seen = screened[j] if j < len(screened) else None
            cells.append({"r": r, "memory_key": score.memory_keys[m], "memory_idx": m,
                          "memory_entry_idx": score.memory_entry_indices[m], "column_idx": j,
                          "response_entry_idx": entry, "divergence": value,
                          "signed": signed[j] if j < len(signed) else None, "tokens": score.response_tokens[j],
                          "method": "screened" if value is None and seen is not None else strategy,
                          "screened": seen})
