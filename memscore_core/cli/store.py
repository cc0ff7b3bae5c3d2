"""``memscore store stats`` and ``memscore store maintain``: a store's files, snapshots, rows and bytes; upkeep."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import orjson
import typer
from pydantic import BaseModel
from rich.table import Table

from memscore_core.cli.consoles import stderr_console, stdout_console
from memscore_core.cli.query import DataPathOption, DbOption, open_store
from memscore_core.settings import Settings
from memscore_core.store.upkeep import StoreStats, maintain, store_stats

store_app = typer.Typer(help="Inspect and tidy the store (a DuckDB file or a DuckLake).", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object instead of a table.")]


@store_app.command("stats")
def stats(db: DbOption = None, data_path: DataPathOption = None, as_json: JsonOption = False) -> None:
    """Rows, data files and bytes per table; snapshots on a DuckLake."""
    with open_store(db, data_path) as store:
        figures = store_stats(store)
    if as_json:
        _print_json(figures)
    else:
        print_stats(figures, title=f"{figures.store} ({figures.kind})")


@store_app.command("maintain")
def maintain_command(
    db: DbOption = None,
    data_path: DataPathOption = None,
    retention_hours: Annotated[float | None, typer.Option(min=0, help="DuckLake: keep snapshots this recent (time "
                                                          "travel, readers still on them) \\[default: "
                                                          "MEMSCORE_SNAPSHOT_RETENTION_HOURS, 24].")] = None,
    as_json: JsonOption = False,
) -> None:
    """Tidy the store while others may write: a DuckLake's inlined rows flushed, adjacent files merged, old
    snapshots expired and their files deleted; a DuckDB file checkpointed."""
    hours = retention_hours if retention_hours is not None else Settings().snapshot_retention_hours
    report = maintain(open_store(db, data_path), retention=timedelta(hours=hours))
    if as_json:
        _print_json(report)
        return
    print_stats(report.after, title=f"{report.after.store} ({report.after.kind})")
    before, after = report.before, report.after
    snapshots = f", snapshots {before.snapshots} → {after.snapshots}" if after.snapshots is not None else ""
    stderr_console().print(f"{', '.join(report.steps)} in {report.seconds:.1f} s: files {before.files} → "
                           f"{after.files}, bytes {before.bytes} → {after.bytes}{snapshots}", highlight=False)


def print_stats(figures: StoreStats, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for name, justify in [("table", "left"), ("rows", "right"), ("files", "right"), ("bytes", "right")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in figures.tables:
        table.add_row(row.table, str(row.rows), str(row.files), str(row.bytes))
    table.add_row("[bold]all[/bold]", str(sum(r.rows for r in figures.tables)), str(figures.files), str(figures.bytes))
    stdout_console().print(table)
    if figures.snapshots is not None:
        stdout_console().print(f"snapshots: {figures.snapshots}", highlight=False)


def _print_json(model: BaseModel) -> None:
    sys.stdout.write(orjson.dumps(model.model_dump(mode="json")).decode() + "\n")
