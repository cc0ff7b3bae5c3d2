"""Rich tables the commands print."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from memscore_core.cli.consoles import stdout_console
from memscore_core.model.result import ConversationScore, NoiseFloorMethod
from memscore_core.store import MemoryImportance, StoredResult
from memscore_core.store.records import EXTRA_SEED_COLUMN

SCREENED_LEGEND = "~ screened estimate, not exact"
"""The line under a matrix that holds screened cells."""


def print_conversation_tops(scores: Sequence[ConversationScore], limit: int = 5) -> None:
    """Each conversation's most important memories (exact cells; a screened result adds its screened cells)."""
    console = stdout_console()
    for result in scores:
        console.print(f"[bold]{result.conversation_id}[/bold]: top memories ({result.requests} requests, "
                      f"{result.prompt_tokens} prompt tokens)", highlight=False)
        screened = result.screened
        table = Table()
        table.add_column("memory key")
        table.add_column("importance", justify="right")
        table.add_column("responses it helped", justify="right")
        if screened is not None:
            table.add_column("screened cells", justify="right")
        exact = [any(value is not None for value in row) for row in result.matrix]
        ranked = sorted(range(len(result.memory_keys)), key=lambda m: (exact[m], result.memory_weights[m]),
                        reverse=True)
        for m in ranked[:limit]:
            helped = sum(1 for value in result.matrix[m] if value is not None and value > 0.01)
            cells = [result.memory_keys[m], _importance(result.memory_weights[m], exact[m]), str(helped)]
            if screened is not None:
                cells.append(str(sum(1 for value, seen in zip(result.matrix[m], screened[m], strict=False)
                                     if value is None and seen is not None)))
            table.add_row(*cells)
        if not result.memory_keys:
            table.add_row("(no memories)", "", "", *([""] if screened is not None else []))
        console.print(table)


def print_top_memories(rows: Sequence[MemoryImportance], title: str) -> None:
    """Memory keys by importance across conversations: importance, mean and max sum exact cells only; "exact" and
    "screened" count each memory's exact and screened cells."""
    table = Table(title=title, title_justify="left")
    for name, justify in [("memory key", "left"), ("conversations", "right"), ("importance", "right"),
                          ("mean", "right"), ("max", "right"), ("exact", "right"), ("screened", "right"),
                          ("last scored", "left")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(row.memory_key, str(row.conversations), _number(row.importance, 3), _number(row.mean, 3),
                      _number(row.max, 3), str(row.cells), str(row.screened),
                      row.last_scored.strftime("%Y-%m-%d %H:%M:%S"))
    stdout_console().print(table)


def print_result(result: StoredResult, limit: int = 3, *, ablation: str = "remove") -> None:
    """One conversation's stored matrix: exact cells as numbers, screened estimates as ``~1.23`` (dim italic),
    unmeasured cells as ``—``; then each response with its top memories (exact cells only). ``ablation``: how
    its run took memories out (``replace`` is said in the header)."""
    console = stdout_console()
    replaced = "  memories replaced by fillers" if ablation == "replace" else ""
    console.print(f"[bold]{result.conversation_id}[/bold]  model {result.model}  strategy {result.strategy}"
                  f"{replaced}  scored {result.scored_at:%Y-%m-%d %H:%M:%S}  ({result.requests} requests)",
                  highlight=False)
    if result.noise_floor is not None:
        console.print(f"noise floor {result.noise_floor:.3f} nats ({floor_method(result.noise_floor_method)})",
                      highlight=False)
    table = Table(title_justify="left")
    table.add_column("memory key")
    for label in result.column_labels():
        table.add_column(label, justify="right")
    table.add_column("importance", justify="right")
    for m, (key, row, weight) in enumerate(zip(result.memory_keys, result.matrix, result.memory_weights,
                                               strict=True)):
        table.add_row(key, *[_cell(value, result.screened_cell(m, j)) for j, value in enumerate(row)],
                      _importance(weight, any(value is not None for value in row)))
    if result.fit_r2 is not None:
        table.add_row("[dim]fit R²[/dim]", *["" if r2 is None else f"{r2:.2f}" for r2 in result.fit_r2], "")
    console.print(table, highlight=False)
    exact, screened = result.cell_counts()
    if screened:
        console.print(f"{SCREENED_LEGEND} ({screened} cells screened, {exact} exact; importance sums exact cells)",
                      highlight=False)
    for j, (idx, label) in enumerate(zip(result.response_entry_indices, result.column_labels(), strict=True)):
        column = [(key, value) for key, row in zip(result.memory_keys, result.matrix, strict=True)
                  if (value := row[j]) is not None and value > 0.01]
        top = ", ".join(f"{key} {value:.2f}" for key, value in sorted(column, key=lambda kv: -kv[1])[:limit])
        entry = result.entry(idx)
        text = entry.text().replace("\n", " ") if entry else EXTRA_SEED_COLUMN
        seen = sum(result.screened_cell(m, j) is not None for m in range(len(result.matrix)))
        note = f"  [dim]({seen} cells screened)[/dim]" if seen else ""
        console.print(f"{label} [dim]{text[:100]}[/dim]  ← {top or 'no memory'}{note}", highlight=False)


def floor_method(method: NoiseFloorMethod | None) -> str:
    """How a noise floor was obtained, in words."""
    if method is None:
        return "not recorded"
    if method.method == "fixed":
        return "fixed"
    return f"{method.method}: {method.quantile} quantile of {method.samples} null samples, {method.scope}"


def _cell(exact: float | None, screened: float | None) -> str:
    if exact is not None:
        return f"{exact:.2f}"
    return "—" if screened is None else f"[dim italic]~{screened:.2f}[/dim italic]"


def _importance(weight: float, exact: bool) -> str:
    """A row sum, or ``—`` for a row without an exact cell (its importance was not measured)."""
    return f"{weight:.3f}" if exact else "—"


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
