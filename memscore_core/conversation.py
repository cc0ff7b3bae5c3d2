"""Conversation models: the input format memscore scores.

A conversation is a system prompt, optional identity text (``context``) and an ordered list of
entries. An entry that carries ``memory_key`` is a *memory*; assistant entries are *responses*.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["system", "user", "assistant", "tool"]


class Entry(BaseModel):
    """One message of a conversation; a memory when it carries ``memory_key``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    content: str
    memory_key: str | None = Field(default=None, min_length=1)
    reasoning: str | None = None
    tool_call_id: str | None = None
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
            return f"<think>{self.reasoning}</think>{self.content}"
        return self.content

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


class Conversation(BaseModel):
    """A conversation to score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    system_prompt: str = ""
    context: str = ""
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
    def memory_indices(self) -> list[int]:
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
