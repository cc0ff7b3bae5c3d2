"""``memscore review``, ``export``, ``weights`` and ``report``: what users do with scores."""

from __future__ import annotations

import asyncio
import sys
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from memscore_core.backends.factory import joined_base_url, open_backend
from memscore_core.cli.consoles import stderr_console, stdout_console
from memscore_core.cli.query import DataPathOption, DbOption, open_store
from memscore_core.downstream.export import DEFAULT_THRESHOLD, ExportOptions, Manifest, export_dataset
from memscore_core.downstream.memory_graph import update_memory_weights
from memscore_core.downstream.report import figure, png_bytes, render_html, run_config
from memscore_core.settings import Settings
from memscore_core.store import Store
from memscore_core.store.downstream import Status, list_candidates, refresh_candidates, set_status, stale_memories

review = typer.Typer(help="List, approve and reject fine-tuning candidates.", no_args_is_help=True)
stderr = stderr_console()


@review.command("list")
def review_list(
    db: DbOption = None,
    data_path: DataPathOption = None,
    status: Annotated[str | None, typer.Option(help="pending, approved or rejected.")] = None,
    threshold: Annotated[float, typer.Option(help="Minimum dependence (nats per response token).")]
    = DEFAULT_THRESHOLD,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list instead of a table.")] = False,
) -> None:
    """Candidates by dependence (refreshed from the latest scores first)."""
    with open_store(db, data_path) as store:
        refresh_candidates(store, threshold=threshold)
        candidates = list_candidates(store, status=status, min_dependence=threshold)  # type: ignore[arg-type]
    if as_json:
        sys.stdout.write(orjson.dumps([c.model_dump() for c in candidates]).decode() + "\n")
        return
    table = Table(title=f"{len(candidates)} candidates", title_justify="left")
    for column in ("id", "conversation", "response", "dependence", "status"):
        table.add_column(column)
    for c in candidates:
        table.add_row(str(c.candidate_id), c.conversation_id, str(c.response_entry_idx), f"{c.dependence:.3f}",
                      c.status)
    stdout_console().print(table)


def _review(ids: list[int], db: str | None, data_path: str | None, status: Status) -> None:
    with open_store(db, data_path) as store:
        set_status(store, ids, status)
    stderr.print(f"{status} {len(ids)} candidate(s)", highlight=False)


@review.command("approve")
def review_approve(ids: Annotated[list[int], typer.Argument(help="Candidate ids.")], db: DbOption = None,
                   data_path: DataPathOption = None) -> None:
    """Approve candidates for export."""
    _review(ids, db, data_path, "approved")


@review.command("reject")
def review_reject(ids: Annotated[list[int], typer.Argument(help="Candidate ids.")], db: DbOption = None,
                  data_path: DataPathOption = None) -> None:
    """Reject candidates: they are never exported."""
    _review(ids, db, data_path, "rejected")


def export(
    out: Annotated[Path, typer.Option(help="Directory that receives <name>/.")] = Path("data/exports"),
    fmt: Annotated[str, typer.Option("--format", help="sft, dpo or parquet.")] = "sft",
    db: DbOption = None,
    data_path: DataPathOption = None,
    threshold: Annotated[float, typer.Option(help="Minimum dependence (nats per response token).")]
    = DEFAULT_THRESHOLD,
    keep_memories: Annotated[bool, typer.Option(help="Keep memory entries in the prompts.")] = False,
    approved_only: Annotated[bool, typer.Option(help="Only candidates approved in review.")] = False,
    auto_approve: Annotated[float | None, typer.Option(help="Approve new candidates at or above this.")] = None,
    name: Annotated[str | None, typer.Option(help="Export name (default: format and selection hash).")] = None,
    base_url: Annotated[list[str] | None, typer.Option(help="Server that generates DPO rejected answers; repeat it "
                                                       "(or comma-separate) for replicas of one model.")] = None,
) -> None:
    """Write training data (SFT, DPO or Parquet) with a manifest tracing each example to its scores."""
    if fmt not in ("sft", "dpo", "parquet"):
        raise typer.BadParameter("must be sft, dpo or parquet", param_hint="--format")
    options = ExportOptions(format=fmt, threshold=threshold, keep_memories=keep_memories,  # type: ignore[arg-type]
                            approved_only=approved_only, auto_approve=auto_approve, name=name)
    store = open_store(db, data_path)
    with store if fmt != "dpo" else nullcontext():  # DPO asks a model: other writers must not wait on the file
        directory, manifest = asyncio.run(_export(store, options, out, joined_base_url(base_url)))
    stderr.print(f"{manifest.n_examples} examples → {directory}", highlight=False)


async def _export(store: Store, options: ExportOptions, out: Path, base_url: str | None) -> tuple[Path, Manifest]:
    settings = Settings.with_overrides(base_url=base_url)
    backend = open_backend(settings) if options.format == "dpo" else None
    try:
        return await export_dataset(store, options, out, backend)
    finally:
        if backend is not None:
            await backend.aclose()


def weights(
    db: DbOption = None,
    data_path: DataPathOption = None,
    out: Annotated[Path, typer.Option(help="JSON file for the memory graph.")]
    = Path("data/exports/memory_weights.json"),
    alpha_up: Annotated[float, typer.Option(help="Rate when importance rises.")] = 0.5,
    alpha_down: Annotated[float, typer.Option(help="Rate when importance falls.")] = 0.1,
    stale_hours: Annotated[float | None, typer.Option(help="Also list memories not scored for this long.")]
    = None,
) -> None:
    """Fold new scores into memory weights (asymmetric moving average) and write them for the graph store."""
    with open_store(db, data_path) as store:
        rows = update_memory_weights(store, out, alpha_up=alpha_up, alpha_down=alpha_down)
        stale = None if stale_hours is None else stale_memories(
            store, scored_before=datetime.now(UTC) - timedelta(hours=stale_hours))
    stderr.print(f"{len(rows)} memory weights → {out}", highlight=False)
    if stale is not None:
        sys.stdout.write(orjson.dumps([row.model_dump(mode="json") for row in stale]).decode() + "\n")


def report(
    conversation_id: Annotated[str, typer.Argument(help="Conversation id.")],
    out: Annotated[Path, typer.Option(help="Output file (.html, or .png with --png).")] = Path("report.html"),
    png: Annotated[bool, typer.Option(help="Write only the PNG figure.")] = False,
    db: DbOption = None,
    data_path: DataPathOption = None,
) -> None:
    """A self-contained HTML report of one conversation: heatmap, importance bars, responses."""
    with open_store(db, data_path) as store:
        result = store.latest_result(conversation_id)
        config = None if result is None else run_config(store, result)
    if result is None:
        stderr.print(f"[red]error:[/red] no scores for conversation {conversation_id!r}", highlight=False)
        raise typer.Exit(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    if png:
        out.write_bytes(png_bytes(figure(result)))
    else:
        out.write_text(render_html(result, config=config), encoding="utf-8")
    stderr.print(f"report → {out}", highlight=False)
