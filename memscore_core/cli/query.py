"""``memscore top`` and ``memscore show``: read the store (a DuckDB file or a DuckLake)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from memscore_core.cli.consoles import stderr_console
from memscore_core.cli.render import print_result, print_top_memories
from memscore_core.downstream.report import run_config
from memscore_core.errors import StoreError
from memscore_core.settings import Settings
from memscore_core.store import Store
from memscore_core.store.targets import parse_target

DbOption = Annotated[str | None, typer.Option(
    help="DuckDB file, or ducklake:postgres:CONNINFO / ducklake:sqlite:PATH \\[default: data/memscore.duckdb].")]
DataPathOption = Annotated[str | None, typer.Option(
    help="Where a DuckLake store keeps its Parquet files (MEMSCORE_DATA_PATH).")]


def open_store(db: str | None, data_path: str | None = None) -> Store:
    """The store at ``db`` (or the configured default); exits with a clear message if it does not exist or
    cannot be opened."""
    settings = Settings.with_overrides(db=db, data_path=data_path)
    target = parse_target(settings.db)
    if not target.is_lake and not Path(target.location).exists():
        stderr_console().print(
            f"[red]error:[/red] {target.display}: no such database (run `memscore score` first)", highlight=False)
        raise typer.Exit(1)
    try:
        return Store(settings.db, data_path=settings.data_path)
    except StoreError as exc:
        stderr_console().print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc


def top(
    db: DbOption = None,
    data_path: DataPathOption = None,
    limit: Annotated[int, typer.Option(min=1, help="How many memories.")] = 20,
    prefix: Annotated[str, typer.Option(help="Only memory keys starting with this.")] = "",
    conversation: Annotated[str | None, typer.Option(help="Only this conversation's memories.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list instead of a table.")] = False,
) -> None:
    """The most important memories over the latest result of every conversation: importance sums exact cells;
    "screened" counts each memory's screened estimates, which never count."""
    with open_store(db, data_path) as store:
        rows = store.top_memories(limit=limit, prefix=prefix, conversation_id=conversation)
    if as_json:
        sys.stdout.write(orjson.dumps([row.model_dump(mode="json") for row in rows]).decode() + "\n")
    else:
        print_top_memories(rows, title="Top memories")


def show(
    conversation_id: Annotated[str, typer.Argument(help="Conversation id.")],
    db: DbOption = None,
    data_path: DataPathOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="The stored result as JSON (with screened, fit_r2).")]
    = False,
) -> None:
    """One conversation's latest memories × responses matrix (screened estimates as ~1.23) and each response's
    top memories."""
    with open_store(db, data_path) as store:
        result = store.latest_result(conversation_id)
        config = run_config(store, result) if result is not None and not as_json else None
    if result is None:
        stderr_console().print(f"[red]error:[/red] no scores for conversation {conversation_id!r}", highlight=False)
        raise typer.Exit(1)
    if as_json:
        sys.stdout.write(orjson.dumps(result.model_dump(mode="json")).decode() + "\n")
    else:
        print_result(result, ablation=(config or {}).get("ablation", "remove"))
