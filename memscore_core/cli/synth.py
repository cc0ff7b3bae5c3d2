"""``memscore synth`` and ``memscore schema``: generate conversations, export the input schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import orjson
import typer

from memscore_core.conversation import Conversation
from memscore_core.synth.generator import generate_corpus


def synth(
    out: Annotated[Path, typer.Argument(help="Output .jsonl file.")],
    n: Annotated[int, typer.Option("--n", help="How many conversations.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same corpus).")] = 0,
) -> None:
    """Generate synthetic conversations with ground truth in ``meta``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        for conversation in generate_corpus(n, seed):
            handle.write(orjson.dumps(conversation.model_dump(mode="json", exclude_none=True)) + b"\n")
    typer.echo(f"wrote {n} conversations to {out}")


def schema(
    out: Annotated[Path, typer.Argument(help="Where to write the JSON Schema.")] = Path(
        "data/schema/conversation.schema.json"),
) -> None:
    """Write the conversation JSON Schema."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(Conversation.model_json_schema(), indent=2) + "\n")
    typer.echo(f"wrote {out}")
