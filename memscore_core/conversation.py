"""Conversation models: the input format memscore scores.

A conversation is a system prompt, optional identity text (``context``), memories kept inside the system
prompt (``system_memories``), the tools the agent could call (``tools``) and an ordered list of entries.
An entry that carries ``memory_key`` is a *memory*; assistant entries are *responses*. An assistant entry
may call tools (``tool_calls``, OpenAI's shape) with or without text content.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant", "tool"]


class ToolFunction(BaseModel):
    """The function a tool call invokes; ``arguments`` is JSON text, as OpenAI sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    arguments: str = "{}"


class ToolCall(BaseModel):
    """One tool call of an assistant turn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: ToolFunction


class SystemMemory(BaseModel):
    """A memory kept inside the system prompt (e.g. a core-memory block); ablated by removing its block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1)
    content: str


@dataclass(frozen=True)
class MemoryRef:
    """Where one memory lives: an entry (``entry``) or a system-prompt block (``system``)."""

    key: str
    entry: int | None = None
    system: int | None = None


class Entry(BaseModel):
    """One message of a conversation; a memory when it carries ``memory_key``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    content: str | None
    memory_key: str | None = Field(default=None, min_length=1)
    reasoning: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCall] | None = None
    name: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_memory(self) -> bool:
        return self.memory_key is not None

    @property
    def is_response(self) -> bool:
        return self.role == "assistant"

    def rendered_content(self) -> str:
        """The message text as sent to the server: reasoning becomes a leading think block."""
        if self.reasoning:
            return f"<think>{self.reasoning}</think>{self.content or ''}"
        return self.content or ""

    def api_message(self) -> dict[str, str]:
        """The OpenAI-style chat message for this entry."""
        message = {"role": self.role, "content": self.rendered_content()}
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message

    @field_validator("meta")
    @classmethod
    def _finite_meta(cls, value: dict[str, Any]) -> dict[str, Any]:
        _reject_non_finite(value)
        return value

    @model_validator(mode="after")
    def _calls_only_from_assistant(self) -> Entry:
        if self.tool_calls is not None and self.role != "assistant":
            raise ValueError("only an assistant entry may carry tool_calls")
        if self.content is None and not self.tool_calls:
            raise ValueError("content may be null only on an assistant entry with tool_calls")
        return self


class Conversation(BaseModel):
    """A conversation to score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    system_prompt: str = ""
    context: str = ""
    system_memories: list[SystemMemory] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    entries: list[Entry] = Field(min_length=1)
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("meta")
    @classmethod
    def _finite_meta(cls, value: dict[str, Any]) -> dict[str, Any]:
        _reject_non_finite(value)
        return value

    def prefix_messages(self) -> list[dict[str, str]]:
        """System message, then the context message when non-empty (sent as a user message)."""
        prefix = [{"role": "system", "content": self.system_prompt}]
        if self.context:
            prefix.append({"role": "user", "content": self.context})
        return prefix

    @property
    def memories(self) -> list[MemoryRef]:
        """Every memory in score-matrix row order: system-prompt blocks first, then entries in order."""
        refs = [MemoryRef(memory.key, system=i) for i, memory in enumerate(self.system_memories)]
        return refs + [MemoryRef(entry.memory_key, entry=i) for i, entry in enumerate(self.entries)
                       if entry.memory_key is not None]

    @property
    def memory_indices(self) -> list[int]:
        """Entry indices of the memories that are entries."""
        return [i for i, entry in enumerate(self.entries) if entry.is_memory]

    @property
    def response_indices(self) -> list[int]:
        return [i for i, entry in enumerate(self.entries) if entry.is_response]


def _reject_non_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and Infinity are not valid JSON numbers")
    if isinstance(value, dict):
        for item in value.values():
            _reject_non_finite(item)
    elif isinstance(value, list):
        for item in value:
            _reject_non_finite(item)
