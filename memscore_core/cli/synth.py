"""``memscore synth`` and ``memscore schema``: generate conversations, export the input schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import orjson
import typer

from memscore_core.model.conversation import Conversation
from memscore_core.synth.forms import MemoryKinds
from memscore_core.synth.generator import generate_corpus
from memscore_core.synth.many import Layout, ManyShape, generate_many_corpus

ShapeOption = Annotated[Layout, typer.Option(
    "--shape", help="With --memories: grouped (each chunk opens with its memories, then the answers) or "
                    "interleaved (memories between answers, each answer after the memories it uses).")]
KindsOption = Annotated[MemoryKinds, typer.Option(
    "--kinds", help="With --memories: contacts (every memory a contact fact, a note or a tool result) or mixed "
                    "(also JSON tool results, system blocks and contact cards, and distractors of other kinds).")]


def synth(
    out: Annotated[Path, typer.Argument(help="Output .jsonl file.")],
    n: Annotated[int, typer.Option("--n", help="How many conversations.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same corpus).")] = 0,
    memories: Annotated[int | None, typer.Option(
        min=1, help="Many-memory conversations: memories per chunk (about contacts, all of one form).")] = None,
    used: Annotated[int | None, typer.Option(min=0, help="With --memories: how many of them answers use [4].")] = None,
    chunks: Annotated[int | None, typer.Option(min=1, help="With --memories: chunks per conversation [1].")] = None,
    chunk_tokens: Annotated[int | None, typer.Option(
        min=1, help="With --memories: the chunk budget to fill [one that fits]; written to meta.chunk_tokens.")] = None,
    layout: ShapeOption = "grouped",
    kinds: KindsOption = "contacts",
) -> None:
    """Generate synthetic conversations with ground truth in ``meta``."""
    if memories is None and ((used, chunks, chunk_tokens) != (None, None, None)
                             or (layout, kinds) != ("grouped", "contacts")):
        raise typer.BadParameter("--used, --chunks, --chunk-tokens, --shape and --kinds need --memories",
                                 param_hint="--memories")
    if memories is not None:
        try:
            shape = ManyShape(memories=memories, used=4 if used is None else used, chunks=chunks or 1,
                              chunk_tokens=chunk_tokens, layout=layout, memory_kinds=kinds)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--used") from None
        corpus = generate_many_corpus(n, seed, shape)
    else:
        corpus = generate_corpus(n, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        try:
            for conversation in corpus:
                handle.write(orjson.dumps(conversation.model_dump(mode="json", exclude_none=True)) + b"\n")
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--chunk-tokens") from None
    typer.echo(f"wrote {n} conversations to {out}")
    if memories is not None:
        typer.echo(f"score them with --chunk-tokens {shape.budget_tokens()}")


def schema(
    out: Annotated[Path, typer.Argument(help="Where to write the JSON Schema.")] = Path(
        "data/schema/conversation.schema.json"),
) -> None:
    """Write the conversation JSON Schema."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(Conversation.model_json_schema(), indent=2) + "\n")
    typer.echo(f"wrote {out}")
