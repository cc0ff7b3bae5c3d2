"""``memscore top`` and ``memscore show``: read the DuckDB store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from memscore_core.cli.consoles import stderr_console
from memscore_core.cli.render import print_result, print_top_memories
from memscore_core.settings import Settings
from memscore_core.store import Store

DbOption = Annotated[Path | None, typer.Option(help="DuckDB file \\[default: data/memscore.duckdb].")]


def open_store(db: Path | None) -> Store:
    """The store at ``db`` (or the configured default); exits with a clear message if it does not exist."""
    path = db or Settings().db
    if not path.exists():
        stderr_console().print(
            f"[red]error:[/red] {path}: no such database (run `memscore score` first)", highlight=False)
        raise typer.Exit(1)
    return Store(path)


def top(
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1, help="How many memories.")] = 20,
    prefix: Annotated[str, typer.Option(help="Only memory keys starting with this.")] = "",
    conversation: Annotated[str | None, typer.Option(help="Only this conversation's memories.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list instead of a table.")] = False,
) -> None:
    """The most important memories over the latest result of every conversation."""
    rows = open_store(db).top_memories(limit=limit, prefix=prefix, conversation_id=conversation)
    if as_json:
        sys.stdout.write(orjson.dumps([row.model_dump(mode="json") for row in rows]).decode() + "\n")
    else:
        print_top_memories(rows, title="Top memories")


def show(
    conversation_id: Annotated[str, typer.Argument(help="Conversation id.")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="The stored matrix as JSON.")] = False,
) -> None:
    """One conversation's latest memories × responses matrix and each response's top memories."""
    result = open_store(db).latest_result(conversation_id)
    if result is None:
        stderr_console().print(f"[red]error:[/red] no scores for conversation {conversation_id!r}", highlight=False)
        raise typer.Exit(1)
    if as_json:
        sys.stdout.write(orjson.dumps(result.model_dump(mode="json")).decode() + "\n")
    else:
        print_result(result)
