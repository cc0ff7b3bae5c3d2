"""``memscore convert --to memscore``: write conversations of any input format in memscore's own schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from memscore_core.cli.consoles import stderr_console
from memscore_core.cli.inputs import InputFormatOption, MemoryKeyArgOption, MemoryToolOption, input_options
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation

stderr = stderr_console()


def memscore_record(conversation: Conversation) -> bytes:
    """One line of memscore's ``.jsonl``: the conversation without fields left at their defaults."""
    return orjson.dumps(conversation.model_dump(mode="json", exclude_defaults=True)) + b"\n"


def convert(
    paths: Annotated[list[Path], typer.Argument(help="Conversation files (.jsonl/.json/.af), directories or globs.")],
    out: Annotated[Path, typer.Option("--out", help="The .jsonl file to write.")],
    to: Annotated[str, typer.Option("--to", help="The format to write: memscore.")] = "memscore",
    input_format: InputFormatOption = "auto",
    memory_tool: MemoryToolOption = None,
    memory_key_arg: MemoryKeyArgOption = "key",
) -> None:
    """Convert OpenAI chat logs and Letta agent files (or memscore's own) to memscore's schema, one per line.

    Scoring the result gives the same numbers as scoring the originals with the same memory rules.
    """
    if to != "memscore":
        raise typer.BadParameter("only memscore can be written", param_hint="--to")
    loaded = load_conversations(paths, input_options(input_format, memory_tool, memory_key_arg))
    for error in loaded.errors:
        stderr.print(f"[red]error:[/red] {error}", highlight=False, markup=True)
    if not (loaded.conversations or loaded.errors):
        stderr.print("[red]error:[/red] no conversation files found", highlight=False)
        raise typer.Exit(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"".join(memscore_record(item.conversation) for item in loaded.conversations))
    stderr.print(f"wrote {len(loaded.conversations)} conversations to {out}, invalid {len(loaded.errors)}",
                 highlight=False)
    if loaded.errors:
        raise typer.Exit(1)
