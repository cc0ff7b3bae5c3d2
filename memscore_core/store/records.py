"""Typed rows read back from the store."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from memscore_core.result import ConversationScore


class MemoryImportance(BaseModel):
    """One row of the ``memory_importance`` view."""

    memory_key: str
    conversations: int
    importance: float
    mean: float
    max: float
    last_scored: datetime


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

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> StoredRun:
        names = list(cls.model_fields)
        values = dict(zip(names, row, strict=True))
        values["config"] = json.loads(values["config"])
        return cls(**values)


class StoredEntry(BaseModel):
    entry_idx: int
    role: str
    memory_key: str | None
    content: str
    reasoning: str | None


class StoredResult(BaseModel):
    """The latest result of one conversation, rebuilt as a memories × responses matrix."""

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
    memory_keys: list[str]
    memory_entry_indices: list[int]
    response_entry_indices: list[int]
    response_tokens: list[int]
    response_scores: list[float]
    drop_all: list[float | None]
    matrix: list[list[float | None]]
    signed_matrix: list[list[float | None]]
    entries: list[StoredEntry]

    @classmethod
    def from_rows(cls, conversation_id: str, head: tuple[Any, ...], cells: list[tuple[Any, ...]],
                  responses: list[tuple[Any, ...]], entries: list[tuple[Any, ...]]) -> StoredResult:
        response_idx = [row[0] for row in responses]
        memories = {row[0] for row in entries if row[2] is not None}
        memory_idx = sorted(memories)
        column = {idx: j for j, idx in enumerate(response_idx)}
        row_of = {idx: m for m, idx in enumerate(memory_idx)}
        matrix: list[list[float | None]] = [[None] * len(response_idx) for _ in memory_idx]
        signed: list[list[float | None]] = [[None] * len(response_idx) for _ in memory_idx]
        for _key, m_idx, r_idx, divergence, signed_sum, _tokens in cells:
            matrix[row_of[m_idx]][column[r_idx]] = divergence
            signed[row_of[m_idx]][column[r_idx]] = signed_sum
        by_idx = {row[0]: row for row in entries}
        return cls(conversation_id=conversation_id, content_hash=head[0], model=head[1], config_hash=head[2],
                   run_id=head[3], strategy=head[4], scored_at=head[5], requests=head[6], prompt_tokens=head[7],
                   chunks=json.loads(head[8]), memory_keys=[by_idx[i][2] for i in memory_idx],
                   memory_entry_indices=memory_idx, response_entry_indices=response_idx,
                   response_tokens=[row[3] for row in responses], response_scores=[row[1] for row in responses],
                   drop_all=[row[2] for row in responses], matrix=matrix, signed_matrix=signed,
                   entries=[StoredEntry(entry_idx=r[0], role=r[1], memory_key=r[2], content=r[3], reasoning=r[4])
                            for r in entries])

    @property
    def memory_weights(self) -> list[float]:
        return [sum(v for v in row if v is not None) for row in self.matrix]

    def to_score(self) -> ConversationScore:
        """The result as the scoring engine returned it (unscored cells are ``None``)."""
        return ConversationScore(
            conversation_id=self.conversation_id, content_hash=self.content_hash, strategy=self.strategy,
            model=self.model, memory_keys=self.memory_keys,
            memory_entry_indices=list[int | None](self.memory_entry_indices),
            response_entry_indices=list[int | None](self.response_entry_indices), response_tokens=self.response_tokens,
            matrix=self.matrix, signed_matrix=self.signed_matrix, memory_weights=self.memory_weights,
            response_scores=self.response_scores, drop_all=self.drop_all, requests=self.requests,
            prompt_tokens=self.prompt_tokens, chunks=self.chunks)
