"""Conversation models: the input format memscore scores.

A conversation is a system prompt, optional identity text (``context``), memories kept inside the system
prompt (``system_memories``), the tools the agent could call (``tools``) and an ordered list of entries.
An entry that carries ``memory_key`` is a *memory*; assistant entries are *responses*. An assistant entry
may call tools (``tool_calls``, OpenAI's shape) with or without text content.

The system message is the system prompt with each system memory's block in place: at its slot
``{{memory:KEY}}`` where the system prompt has one, else after the prompt, each block after a blank line.
Removing a system memory removes exactly its block.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant", "tool"]
BLOCK_SEPARATOR = "\n\n"


def memory_slot(key: str) -> str:
    """Where a system memory's block goes in the system prompt: ``{{memory:KEY}}``."""
    return "{{memory:" + key + "}}"


class ToolFunction(BaseModel):
    """The function a tool call invokes; ``arguments`` is JSON text, as OpenAI sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    arguments: str = "{}"

    @field_validator("arguments")
    @classmethod
    def _json_object(cls, value: str) -> str:
        try:
            parsed = json.loads(value, parse_constant=_reject_constant)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError("arguments must be JSON text of an object")
        return value


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

    def api_message(self) -> dict[str, Any]:
        """The OpenAI-style chat message for this entry (null content is sent as ``""``, as vLLM reads it)."""
        message: dict[str, Any] = {"role": self.role, "content": self.rendered_content()}
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        if self.tool_calls:
            message["tool_calls"] = [call.model_dump() for call in self.tool_calls]
        if self.name is not None:
            message["name"] = self.name
        return message

    def without_calls(self, call_ids: Collection[str]) -> Entry:
        """This entry with the tool calls ``call_ids`` removed (for rendering an ablated prompt)."""
        kept = [call for call in self.tool_calls or () if call.id not in call_ids]
        return self.model_copy(update={"tool_calls": kept or None})

    def has_text(self) -> bool:
        """Whether the entry says anything besides its tool calls (content or reasoning)."""
        return bool(self.content or self.reasoning)

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

    @model_validator(mode="after")
    def _distinct_system_memories(self) -> Conversation:
        keys = [memory.key for memory in self.system_memories]
        for position, key in enumerate(keys):
            if key in keys[:position]:
                raise ValueError(f"system memory key {key!r} is used twice")
            if self.system_prompt.count(memory_slot(key)) > 1:
                raise ValueError(f"the slot {memory_slot(key)} appears more than once in system_prompt")
        return self

    def system_message(self, without: Collection[int] = (), replaced: Mapping[int, str] | None = None) -> str:
        """The system prompt with every system memory's block in place except those at ``without`` (cut) and
        those at ``replaced`` (its text instead)."""
        if not self.system_memories:
            return self.system_prompt
        replaced = replaced or {}
        blocks = {memory_slot(memory.key): replaced.get(i, "" if i in without else memory.content)
                  for i, memory in enumerate(self.system_memories)}
        pattern = re.compile("|".join(re.escape(slot) for slot in blocks))
        text = pattern.sub(lambda match: blocks[match.group(0)], self.system_prompt)
        appended = [content for slot, content in blocks.items() if slot not in self.system_prompt]
        return BLOCK_SEPARATOR.join(part for part in [text, *appended] if part)

    def prefix_messages(self, without_system: Collection[int] = (),
                        replaced_system: Mapping[int, str] | None = None, *,
                        system_always: bool = False) -> list[dict[str, Any]]:
        """System message (its memories but ``without_system``, ``replaced_system`` by their text), then the
        context when non-empty (a user message). A conversation with neither a system prompt nor system memories
        sends no system message: its chat template renders what the agent's model saw (SmolLM2's and Qwen2.5's
        insert their default system prompt). ``system_always``: send it, empty, all the same (the seed did)."""
        prefix: list[dict[str, Any]] = []
        if system_always or self.system_prompt or self.system_memories:
            prefix.append({"role": "system", "content": self.system_message(without_system, replaced_system)})
        if self.context:
            prefix.append({"role": "user", "content": self.context})
        return prefix

    def caller(self, entry: int) -> int | None:
        """The assistant entry whose tool call the tool result at ``entry`` answers (the nearest before it)."""
        call_id = self.entries[entry].tool_call_id
        if call_id is None:
            return None
        for position in range(entry - 1, -1, -1):
            calls = self.entries[position].tool_calls or ()
            if any(call.id == call_id for call in calls):
                return position
        return None

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


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _reject_non_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and Infinity are not valid JSON numbers")
    if isinstance(value, dict):
        for item in value.values():
            _reject_non_finite(item)
    elif isinstance(value, list):
        for item in value:
            _reject_non_finite(item)
