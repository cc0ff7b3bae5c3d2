"""How input files are read: their format and the rules that mark memories in formats without ``memory_key``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

InputFormat = Literal["auto", "memscore", "openai", "letta"]


class InputOptions(BaseModel):
    """``input_format``: ``auto`` tells each record's format by its content. ``memory_tools``: the results of
    calls to these tools are memories, keyed by the call's argument ``memory_key_arg``, else ``NAME:<call id>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_format: InputFormat = "auto"
    memory_tools: tuple[str, ...] = ()
    memory_key_arg: str = Field(default="key", min_length=1)
