"""Conversations and results as the column lists :mod:`memscore_core.store.write_queries` inserts: the scoring
writer's one result and a synthetic corpus's thousands go through the same code, memory summary included."""

from __future__ import annotations

import json
from collections.abc import Sequence
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


def _lists(count: int) -> list[list[Any]]:
    return [[] for _ in range(count)]


@dataclass
class ResultRows:
    """Results to insert at once: per result its head, per cell and per response column a row of lists."""

    heads: list[list[Any]] = field(default_factory=lambda: _lists(8))
    rest: list[list[Any]] = field(default_factory=lambda: _lists(7))
    cells: list[list[Any]] = field(default_factory=lambda: _lists(11))
    columns: list[list[Any]] = field(default_factory=lambda: _lists(7))
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
        for column, value in zip(self.heads, (r, *key, run_id, score.conversation_id, score.strategy, scored_at),
                                 strict=True):
            column.append(value)
        for column, value in zip(self.rest, (
                r, score.requests, score.prompt_tokens, json.dumps(score.chunks),
                json.dumps(score.chunk_strategies) if score.chunk_strategies else None, score.noise_floor,
                None if method is None else json.dumps(method.model_dump(mode="json"))), strict=True):
            column.append(value)
        _add_cells(self.cells, r, score)
        fit = score.fit_r2 if score.fit_r2 is not None else [None] * len(score.response_entry_indices)
        for j, entry in enumerate(score.response_entry_indices):
            for column, value in zip(self.columns, (r, j, entry, score.response_scores[j], score.drop_all[j],
                                                    score.response_tokens[j], fit[j]), strict=True):
                column.append(value)

    def insert(self, con: Connection) -> None:
        """Insert every queued result, its cells, responses and memory summary (none of their keys stored yet)."""
        if not self.keys:
            return
        heads = [listed(column) for column in self.heads]
        con.execute(w.INSERT_RESULTS, heads + [listed(column) for column in self.rest])
        if self.cells[0]:
            cells = heads + [listed(column) for column in self.cells]
            con.execute(w.INSERT_SCORES, cells)
            con.execute(w.INSERT_MEMORY_SUMMARY, cells)
        if self.columns[0]:
            con.execute(w.INSERT_RESPONSES, heads + [listed(column) for column in self.columns])

    def replace(self, con: Connection) -> None:
        """Delete the stored results with these keys (their cells, responses and summary), then :meth:`insert`."""
        wanted = [listed([key[i] for key in self.keys]) for i in range(3)]
        for stored in con.execute(w.STORED_RESULTS, wanted).fetchall():
            for statement in w.DELETE_RESULT:
                con.execute(statement, list(stored))
        self.insert(con)


@dataclass
class ConversationRows:
    """Conversations to record at once, each (id, content hash) once."""

    heads: list[list[Any]] = field(default_factory=lambda: _lists(10))
    entries: list[list[Any]] = field(default_factory=lambda: _lists(10))
    pairs: list[tuple[str, str]] = field(default_factory=list)
    _entry_of: list[int] = field(default_factory=list)
    _queued: set[tuple[str, str]] = field(default_factory=set)

    def add(self, conversation: Conversation, content_hash: str, *, source_file: str | None,
            source_format: str | None, ingested_at: datetime) -> None:
        pair = (conversation.id, content_hash)
        if pair in self._queued:
            return
        self._queued.add(pair)
        self.pairs.append(pair)
        tools = None if conversation.tools is None else json.dumps(conversation.tools)
        system = (json.dumps([memory.model_dump() for memory in conversation.system_memories])
                  if conversation.system_memories else None)
        head: tuple[Any, ...] = (*pair, source_file, ingested_at, json.dumps(conversation.meta),
                                 conversation.system_prompt, conversation.context, tools, system, source_format)
        for column, value in zip(self.heads, head, strict=True):
            column.append(value)
        for idx, e in enumerate(conversation.entries):
            self._entry_of.append(len(self.pairs) - 1)
            calls = None if e.tool_calls is None else json.dumps([c.model_dump() for c in e.tool_calls])
            row: tuple[Any, ...] = (*pair, idx, e.role, e.memory_key, e.content, e.reasoning, e.tool_call_id, calls,
                                    e.name)
            for column, value in zip(self.entries, row, strict=True):
                column.append(value)

    def insert_new(self, con: Connection) -> bool:
        """Insert the conversations not stored yet (a stored one is kept as first written); whether any was."""
        wanted = [listed([pair[i] for pair in self.pairs]) for i in range(2)]
        stored = {tuple(row) for row in con.execute(w.STORED_CONVERSATIONS, wanted).fetchall()} if self.pairs else set()
        keep = [i for i, pair in enumerate(self.pairs) if pair not in stored]
        if not keep:
            return False
        new = set(keep)
        con.execute(w.INSERT_CONVERSATIONS, [listed([column[i] for i in keep]) for column in self.heads])
        rows = [i for i, owner in enumerate(self._entry_of) if owner in new]
        if rows:
            con.execute(w.INSERT_ENTRIES, [listed([column[i] for i in rows]) for column in self.entries])
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


def _add_cells(columns: Sequence[list[Any]], r: int, score: ConversationScore) -> None:
    """Append the scores table's cells of result ``r`` (every cell of every row, NULL where not scored)."""
    chunk_of = {entry: c for c, chunk in enumerate(score.chunks) for entry in chunk}
    (rs, keys, memory_idx, memory_entries, column_idx, response_entries, divergence, signed_column, tokens, methods,
     screened_column) = columns
    for m, row in enumerate(score.matrix):
        signed = score.signed_matrix[m] if m < len(score.signed_matrix) else []
        screened = score.screened[m] if score.screened is not None and m < len(score.screened) else []
        for j, value in enumerate(row):
            entry = score.response_entry_indices[j]
            strategy = score.strategy
            if entry is not None and entry in chunk_of and chunk_of[entry] < len(score.chunk_strategies):
                strategy = score.chunk_strategies[chunk_of[entry]]
            seen = screened[j] if j < len(screened) else None
            rs.append(r)
            keys.append(score.memory_keys[m])
            memory_idx.append(m)
            memory_entries.append(score.memory_entry_indices[m])
            column_idx.append(j)
            response_entries.append(entry)
            divergence.append(value)
            signed_column.append(signed[j] if j < len(signed) else None)
            tokens.append(score.response_tokens[j])
            methods.append("screened" if value is None and seen is not None else strategy)
            screened_column.append(seen)
