"""Rich tables the commands print."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from memscore_core.cli.consoles import stdout_console
from memscore_core.result import ConversationScore
from memscore_core.store import MemoryImportance, StoredResult
from memscore_core.store.records import EXTRA_SEED_COLUMN


def print_conversation_tops(scores: Sequence[ConversationScore], limit: int = 5) -> None:
    """Each conversation's most important memories."""
    console = stdout_console()
    for result in scores:
        console.print(f"[bold]{result.conversation_id}[/bold]: top memories ({result.requests} requests, "
                      f"{result.prompt_tokens} prompt tokens)", highlight=False)
        table = Table()
        table.add_column("memory key")
        table.add_column("importance", justify="right")
        table.add_column("responses it helped", justify="right")
        ranked = sorted(range(len(result.memory_keys)), key=lambda m: result.memory_weights[m], reverse=True)
        for m in ranked[:limit]:
            helped = sum(1 for value in result.matrix[m] if value is not None and value > 0.01)
            table.add_row(result.memory_keys[m], f"{result.memory_weights[m]:.3f}", str(helped))
        if not result.memory_keys:
            table.add_row("(no memories)", "", "")
        console.print(table)


def print_top_memories(rows: Sequence[MemoryImportance], title: str) -> None:
    """Memory keys by importance across conversations."""
    table = Table(title=title, title_justify="left")
    for name, justify in [("memory key", "left"), ("conversations", "right"), ("importance", "right"),
                          ("mean", "right"), ("max", "right"), ("last scored", "left")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(row.memory_key, str(row.conversations), f"{row.importance:.3f}", f"{row.mean:.3f}",
                      f"{row.max:.3f}", row.last_scored.strftime("%Y-%m-%d %H:%M:%S"))
    stdout_console().print(table)


def print_result(result: StoredResult, limit: int = 3) -> None:
    """One conversation's stored matrix: each response with its top memories."""
    console = stdout_console()
    console.print(f"[bold]{result.conversation_id}[/bold]  model {result.model}  strategy {result.strategy}  "
                  f"scored {result.scored_at:%Y-%m-%d %H:%M:%S}  ({result.requests} requests)", highlight=False)
    table = Table(title_justify="left")
    table.add_column("memory key")
    for label in result.column_labels():
        table.add_column(label, justify="right")
    table.add_column("importance", justify="right")
    for key, row, weight in zip(result.memory_keys, result.matrix, result.memory_weights, strict=True):
        table.add_row(key, *["—" if v is None else f"{v:.2f}" for v in row], f"{weight:.3f}")
    console.print(table)
    for j, (idx, label) in enumerate(zip(result.response_entry_indices, result.column_labels(), strict=True)):
        column = [(key, value) for key, row in zip(result.memory_keys, result.matrix, strict=True)
                  if (value := row[j]) is not None and value > 0.01]
        top = ", ".join(f"{key} {value:.2f}" for key, value in sorted(column, key=lambda kv: -kv[1])[:limit])
        entry = result.entry(idx)
        text = entry.text().replace("\n", " ") if entry else EXTRA_SEED_COLUMN
        console.print(f"{label} [dim]{text[:100]}[/dim]  ← {top or 'no memory'}", highlight=False)
