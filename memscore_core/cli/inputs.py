"""The input options every command that reads conversation files shares: format and memory rules."""

from __future__ import annotations

from typing import Annotated, get_args

import typer

from memscore_core.formats import InputFormat, InputOptions

InputFormatOption = Annotated[str, typer.Option(
    "--input-format", help="auto (told by each record's content), memscore, openai or letta.")]
MemoryToolOption = Annotated[list[str] | None, typer.Option(
    "--memory-tool", help="The results of calls to this tool are memories (repeatable).")]
MemoryKeyArgOption = Annotated[str, typer.Option(
    "--memory-key-arg", help="The memory tool's argument that names the memory (else NAME:<call id>).")]


def input_options(input_format: str, memory_tools: list[str] | None, memory_key_arg: str) -> InputOptions:
    """The options as the loader takes them; an unknown format is a usage error (exit 2)."""
    if input_format not in get_args(InputFormat):
        raise typer.BadParameter("must be auto, memscore, openai or letta", param_hint="--input-format")
    return InputOptions.model_validate({"input_format": input_format, "memory_tools": tuple(memory_tools or ()),
                                        "memory_key_arg": memory_key_arg})
