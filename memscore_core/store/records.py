"""Typed rows read back from the store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from memscore_core.model.conversation import Conversation, Entry
from memscore_core.model.result import ConversationScore, NoiseFloorMethod

ResultKey = tuple[str, str, str]
"""A result's identity: (content hash, model, config hash)."""


class MemoryImportance(BaseModel):
    """One row of the ``memory_importance`` view: ``importance``, ``mean`` and ``max`` sum exact cells only (None
    for a memory with screened cells alone); ``cells`` counts its exact cells, ``screened`` its screened ones."""

    memory_key: str
    conversations: int
    importance: float | None
    mean: float | None
    max: float | None
    last_scored: datetime
    cells: int = 0
    screened: int = 0


class StoredRun(BaseModel):
    """One row of ``scoring_runs``."""

    run_id: str
    flow_run_id: str | None
    model: str
    backend: str
    strategy: str
    config: dict[str, Any]
    config_hash: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    requests: int | None
    prompt_tokens: int | None
    noise_floor: float | None = None
    noise_floor_method: dict[str, Any] | None = None
    parent_run_id: str | None = None
    host: str | None = None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> StoredRun:
        names = list(cls.model_fields)
        values = dict(zip(names, row, strict=True))
        values["config"] = json.loads(values["config"])
        values["noise_floor_method"] = _json(values["noise_floor_method"])
        return cls(**values)


class StoredEntry(BaseModel):
    """One stored entry of a conversation, as it was scored."""

    entry_idx: int
    role: str
    memory_key: str | None
    content: str | None
    reasoning: str | None
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    name: str | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredEntry:
        return cls(entry_idx=row[0], role=row[1], memory_key=row[2], content=row[3], reasoning=row[4],
                   tool_call_id=row[5], tool_calls=_json(row[6]), name=row[7])

    def entry(self) -> Entry:
        return Entry.model_validate({"role": self.role, "content": self.content, "memory_key": self.memory_key,
                                     "reasoning": self.reasoning, "tool_call_id": self.tool_call_id,
                                     "tool_calls": self.tool_calls, "name": self.name})

    def text(self) -> str:
        """What the entry says, for display: its content, else its tool calls."""
        if self.content:
            return self.content
        calls = [f"{call['function']['name']}({call['function']['arguments']})" for call in self.tool_calls or ()]
        return " ".join(calls)


def rebuild_conversation(conversation_id: str, head: Sequence[Any], entries: Sequence[Sequence[Any]]
                         ) -> Conversation:
    """A stored conversation from its ``conversations`` row (prompts, meta, tools, system memories) and entries."""
    system_prompt, context, meta, tools, system_memories = head[:5]
    return Conversation.model_validate({
        "id": conversation_id, "system_prompt": system_prompt or "", "context": context or "",
        "meta": _json(meta) or {}, "tools": _json(tools), "system_memories": _json(system_memories) or [],
        "entries": [StoredEntry.from_row(row).entry() for row in entries]})


EXTRA_SEED_COLUMN = "(a response the seed's walker found past the last assistant entry)"
"""What ``show`` and ``report`` print for a seed column whose response_entry_idx is NULL."""


def column_label(entry_idx: int | None, column: int) -> str:
    """How a result column is named: ``r<entry>``, or ``seed+<column>`` for a seed column past the last
    assistant entry (its response_entry_idx is NULL)."""
    return f"r{entry_idx}" if entry_idx is not None else f"seed+{column}"


class StoredResult(BaseModel):
    """The latest result of one conversation, rebuilt as a memories × responses matrix.

    Rows follow the conversation's memories (system-prompt memories first, ``memory_entry_indices`` None);
    columns follow the result's responses (``response_entry_indices`` None for a seed column past the
    last assistant entry). ``screened`` and ``fit_r2`` are None when the result stored none; ``noise_floor``
    and ``noise_floor_method`` when its strategy screened nothing.
    """

    conversation_id: str
    content_hash: str
    model: str
    config_hash: str
    run_id: str
    strategy: str
    scored_at: datetime
    requests: int
    prompt_tokens: int
    chunks: list[list[int]]
    chunk_strategies: list[str] = Field(default_factory=list)
    memory_keys: list[str]
    memory_entry_indices: list[int | None]
    response_entry_indices: list[int | None]
    response_tokens: list[int]
    response_scores: list[float]
    drop_all: list[float | None]
    fit_r2: list[float | None] | None = None
    matrix: list[list[float | None]]
    signed_matrix: list[list[float | None]]
    screened: list[list[float | None]] | None = None
    noise_floor: float | None = None
    noise_floor_method: NoiseFloorMethod | None = None
    entries: list[StoredEntry]

    @classmethod
    def from_rows(cls, conversation_id: str, head: Sequence[Any], cells: Sequence[Sequence[Any]],
                  responses: Sequence[Sequence[Any]], conversation: Sequence[Any] | None,
                  entries: Sequence[Sequence[Any]]) -> StoredResult:
        stored = [StoredEntry.from_row(row) for row in entries]
        rows: dict[int, tuple[str, int | None]] = {}
        system = _json(conversation[4]) if conversation is not None else None
        for memory in system or ():
            rows[len(rows)] = (memory["key"], None)
        for entry in stored:
            if entry.memory_key is not None:
                rows[len(rows)] = (entry.memory_key, entry.entry_idx)
        order, matrix, signed, screened = _matrices(rows, cells, len(responses))
        fit = [row[5] for row in responses]
        return cls(conversation_id=conversation_id, content_hash=head[0], model=head[1], config_hash=head[2],
                   run_id=head[3], strategy=head[4], scored_at=head[5], requests=head[6], prompt_tokens=head[7],
                   chunks=json.loads(head[8]), chunk_strategies=_json(head[9]) or [],
                   memory_keys=[rows[m][0] for m in order], memory_entry_indices=[rows[m][1] for m in order],
                   response_entry_indices=[row[1] for row in responses],
                   response_tokens=[row[4] for row in responses], response_scores=[row[2] for row in responses],
                   drop_all=[row[3] for row in responses], fit_r2=fit if any(v is not None for v in fit) else None,
                   matrix=matrix, signed_matrix=signed,
                   screened=screened if any(v is not None for row in screened for v in row) else None,
                   noise_floor=head[11], noise_floor_method=_json(head[12]), entries=stored)

    @property
    def memory_weights(self) -> list[float]:
        """Row sums over exact cells."""
        return [sum(v for v in row if v is not None) for row in self.matrix]

    def screened_cell(self, m: int, j: int) -> float | None:
        """The estimate of cell (m, j) where it is not exact, else None."""
        if self.screened is None or self.matrix[m][j] is not None:
            return None
        return self.screened[m][j]

    def cell_counts(self) -> tuple[int, int]:
        """(exact cells, screened cells) of the whole matrix."""
        exact = sum(v is not None for row in self.matrix for v in row)
        screened = sum(self.screened_cell(m, j) is not None
                       for m, row in enumerate(self.matrix) for j in range(len(row)))
        return exact, screened

    def column_labels(self) -> list[str]:
        return [column_label(idx, j) for j, idx in enumerate(self.response_entry_indices)]

    def entry(self, entry_idx: int | None) -> StoredEntry | None:
        """The stored entry at ``entry_idx`` (None for a seed column past the last assistant entry)."""
        return None if entry_idx is None or entry_idx >= len(self.entries) else self.entries[entry_idx]

    def to_score(self) -> ConversationScore:
        """The result as the scoring engine returned it (unscored cells are ``None``)."""
        return ConversationScore(
            conversation_id=self.conversation_id, content_hash=self.content_hash, strategy=self.strategy,
            model=self.model, memory_keys=self.memory_keys, memory_entry_indices=self.memory_entry_indices,
            response_entry_indices=self.response_entry_indices, response_tokens=self.response_tokens,
            matrix=self.matrix, signed_matrix=self.signed_matrix, memory_weights=self.memory_weights,
            response_scores=self.response_scores, drop_all=self.drop_all, requests=self.requests,
            prompt_tokens=self.prompt_tokens, chunks=self.chunks, screened=self.screened, fit_r2=self.fit_r2,
            chunk_strategies=self.chunk_strategies, noise_floor=self.noise_floor,
            noise_floor_method=self.noise_floor_method)


def score_from_rows(conversation_id: str, head: Sequence[Any], cells: Sequence[Sequence[Any]],
                    responses: Sequence[Sequence[Any]]) -> ConversationScore:
    """A stored result as the scoring engine returned it (:meth:`StoredResult.to_score`), from its ``results``
    row, cells and responses alone: every memory row has a cell in every column, so the entries are not needed
    (a result without columns has no cells: read it with :meth:`StoredResult.from_rows`)."""
    rows: dict[int, tuple[str, int | None]] = {}
    order, matrix, signed, screened = _matrices(rows, cells, len(responses))
    fit = [row[5] for row in responses]
    return ConversationScore(
        conversation_id=conversation_id, content_hash=head[0], strategy=head[4], model=head[1],
        memory_keys=[rows[m][0] for m in order], memory_entry_indices=[rows[m][1] for m in order],
        response_entry_indices=[row[1] for row in responses], response_tokens=[row[4] for row in responses],
        matrix=matrix, signed_matrix=signed, memory_weights=[sum(v for v in row if v is not None) for row in matrix],
        response_scores=[row[2] for row in responses], drop_all=[row[3] for row in responses], requests=head[6],
        prompt_tokens=head[7], chunks=json.loads(head[8]),
        screened=screened if any(v is not None for row in screened for v in row) else None,
        fit_r2=fit if any(v is not None for v in fit) else None, chunk_strategies=_json(head[9]) or [],
        noise_floor=head[11], noise_floor_method=_json(head[12]))


def _matrices(rows: dict[int, tuple[str, int | None]], cells: Sequence[Sequence[Any]], width: int
              ) -> tuple[list[int], list[list[float | None]], list[list[float | None]], list[list[float | None]]]:
    """The memory rows in order (``rows`` and every row with a cell) and the exact, signed and screened matrices of
    ``cells`` (memory idx, column, key, entry idx, divergence, signed, screened); ``rows`` gains the cells' rows."""
    for m_idx, _column, key, entry_idx, *_ in cells:
        rows[m_idx] = (key, entry_idx)
    order = sorted(rows)
    matrix: list[list[float | None]] = [[None] * width for _ in order]
    signed: list[list[float | None]] = [[None] * width for _ in order]
    screened: list[list[float | None]] = [[None] * width for _ in order]
    position = {m_idx: m for m, m_idx in enumerate(order)}
    for m_idx, column, _key, _entry, divergence, signed_sum, seen in cells:
        matrix[position[m_idx]][column] = divergence
        signed[position[m_idx]][column] = signed_sum
        screened[position[m_idx]][column] = seen
    return order, matrix, signed, screened


def results_from_rows(heads: Sequence[Sequence[Any]], cells: Sequence[Sequence[Any]],
                      responses: Sequence[Sequence[Any]], conversations: Sequence[Sequence[Any]],
                      entries: Sequence[Sequence[Any]]) -> dict[ResultKey, StoredResult]:
    """Many results rebuilt from batched reads: ``cells`` and ``responses`` lead with the result key,
    ``conversations`` and ``entries`` with (conversation id, content hash)."""
    cells_of: dict[Any, list[Sequence[Any]]] = {}
    for row in cells:
        cells_of.setdefault(tuple(row[:3]), []).append(row[3:])
    responses_of: dict[Any, list[Sequence[Any]]] = {}
    for row in responses:
        responses_of.setdefault(tuple(row[:3]), []).append(row[3:])
    conversation_of = {tuple(row[:2]): row[2:] for row in conversations}
    entries_of: dict[Any, list[Sequence[Any]]] = {}
    for row in entries:
        entries_of.setdefault(tuple(row[:2]), []).append(row[2:])
    found = {}
    for head in heads:
        key: ResultKey = (head[0], head[1], head[2])
        pair = (head[10], head[0])
        found[key] = StoredResult.from_rows(head[10], head, cells_of.get(key, []), responses_of.get(key, []),
                                            conversation_of.get(pair), entries_of.get(pair, []))
    return found


def _json(value: Any) -> Any:
    """A JSON column's value (DuckDB returns JSON as text)."""
    return json.loads(value) if isinstance(value, str) else value
