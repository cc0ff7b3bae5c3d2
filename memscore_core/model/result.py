"""The result of scoring one conversation, and the identities that key it in the store."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memscore_core.model.conversation import Conversation


class NoiseFloorMethod(BaseModel):
    """How a conversation's noise floor was obtained.

    ``filler``: the ``quantile`` of ``samples`` null divergences, each a response's clipped divergence when a
    content-free ``filler`` entry is removed (one filler per screened chunk), raised to at least ``minimum``;
    ``fixed``: given in the scoring configuration (``samples`` 0).
    """

    model_config = ConfigDict(frozen=True)

    method: Literal["filler", "fixed"]
    scope: Literal["conversation"] = "conversation"
    samples: int = 0
    quantile: float | None = None
    minimum: float | None = None
    filler: str | None = None


class ConversationScore(BaseModel):
    """Divergence of every response when each memory is removed.

    ``matrix[m][j]`` is the clipped divergence ``Σ max(0, base − without)`` of response ``j`` when
    memory ``m`` is removed; ``signed_matrix`` the unclipped sum. ``None`` marks a cell that was not
    scored (outside the window). ``drop_all[j]`` is the clipped divergence of response ``j`` with all
    memories of its chunk removed (``None`` when not computed).

    Rows follow ``Conversation.memories``: ``memory_entry_indices[m]`` is ``None`` for a system-prompt
    memory. ``response_entry_indices[j]`` is ``None`` for a column with no assistant entry (the seed's
    walker can find more responses than there are assistant entries). ``screened[m][j]``, when present,
    is the value a screening strategy saw for the group holding memory ``m`` where the cell itself was
    not scored exactly; ``fit_r2[j]`` the held-out fit quality of a surrogate strategy per response;
    ``chunk_strategies[c]`` the strategy that scored chunk ``c``; ``noise_floor`` the divergence a screening
    strategy took for noise (in nats, clipped like ``matrix``) and ``noise_floor_method`` how it was obtained.
    """

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    content_hash: str
    strategy: str
    model: str
    memory_keys: list[str]
    memory_entry_indices: list[int | None]
    response_entry_indices: list[int | None]
    response_tokens: list[int]
    matrix: list[list[float | None]]
    signed_matrix: list[list[float | None]]
    memory_weights: list[float]
    response_scores: list[float]
    drop_all: list[float | None]
    requests: int
    prompt_tokens: int
    chunks: list[list[int]] = Field(default_factory=list, description="entry indices of each chunk")
    screened: list[list[float | None]] | None = None
    fit_r2: list[float | None] | None = None
    chunk_strategies: list[str] = Field(default_factory=list)
    noise_floor: float | None = None
    noise_floor_method: NoiseFloorMethod | None = None

    def important_memories_for_entry(self, entry_idx: int, threshold: float = 0.01) -> list[tuple[str, float]]:
        """(memory key, divergence) for the response at ``entry_idx``, above ``threshold``, descending."""
        if entry_idx not in self.response_entry_indices:
            return []
        column = self.response_entry_indices.index(entry_idx)
        scored = [(key, row[column]) for key, row in zip(self.memory_keys, self.matrix, strict=True)
                  if column < len(row) and row[column] is not None]
        kept = [(key, float(score)) for key, score in scored if score is not None and score > threshold]
        return sorted(kept, key=lambda item: item[1], reverse=True)


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no whitespace) for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(conversation: Conversation) -> str:
    """SHA-256 of the conversation's identity and everything that is scored: id, prompts, entries; not ``meta``."""
    dumped = conversation.model_dump(exclude={"meta": True, "entries": {"__all__": {"meta"}}})
    scored: dict[str, Any] = {
        "id": conversation.id,
        "system_prompt": conversation.system_prompt,
        "context": conversation.context,
        "entries": [_scored_fields(entry) for entry in dumped["entries"]],
    }
    if conversation.system_memories:
        scored["system_memories"] = dumped["system_memories"]
    if conversation.tools is not None:
        scored["tools"] = conversation.tools
    return hashlib.sha256(canonical_json(scored)).hexdigest()


_ORIGINAL_ENTRY_FIELDS = {"role", "content", "memory_key", "reasoning", "tool_call_id"}


def _scored_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """An entry's scored fields (its dump, less ``meta``); fields added since the first release enter only when set,
    so that the hash of a conversation that does not use them is what it always was."""
    return {name: value for name, value in fields.items() if name in _ORIGINAL_ENTRY_FIELDS or value is not None}


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the result-affecting scoring configuration."""
    return hashlib.sha256(canonical_json(config)).hexdigest()
