"""``memscore eval``: score conversations that carry ground truth and report attribution quality."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from memscore_core.backends.factory import joined_base_url, open_backend, request_capacity
from memscore_core.cli.consoles import stderr_console, stdout_console
from memscore_core.cli.inputs import InputFormatOption, MemoryKeyArgOption, MemoryToolOption, input_options
from memscore_core.engine import ScoringConfig, pooled_sender
from memscore_core.evaluation import evaluate
from memscore_core.loading import LoadedConversation, load_conversations
from memscore_core.runner import Outcome, direct_scorer, score_batch
from memscore_core.settings import Settings


def eval_command(
    paths: Annotated[list[Path], typer.Argument(help="Conversations with meta.uses_memories on answers.")],
    base_url: Annotated[list[str] | None, typer.Option(help="vLLM-compatible server (default: embedded); repeat "
                                                       "it (or comma-separate) for replicas of one model.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    strategy: Annotated[str, typer.Option(help="exact or seed.")] = "exact",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    input_format: InputFormatOption = "auto",
    memory_tool: MemoryToolOption = None,
    memory_key_arg: MemoryKeyArgOption = "key",
) -> None:
    """Precision@1, two-memory recall, used/unused divergence, noise floor and redundancy."""
    settings = Settings.with_overrides(base_url=joined_base_url(base_url), model=model)
    loaded = load_conversations(paths, input_options(input_format, memory_tool, memory_key_arg))
    if loaded.errors:
        for error in loaded.errors:
            stderr_console().print(f"error: {error}", highlight=False, markup=False)
        raise typer.Exit(1)
    config = ScoringConfig(strategy=strategy, chunk_tokens=settings.chunk_tokens)  # type: ignore[arg-type]
    outcomes = asyncio.run(_score_all(settings, config, loaded.conversations))
    pairs = [(o.loaded.conversation, o.score) for o in outcomes if o.score is not None]
    report = evaluate(pairs)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        table = Table(title=f"evaluation of {len(pairs)} conversations", title_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in report.items():
            table.add_row(key, "—" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value)))
        stdout_console().print(table)
    if len(pairs) != len(loaded.conversations):
        raise typer.Exit(1)


async def _score_all(settings: Settings, config: ScoringConfig,
                     conversations: list[LoadedConversation]) -> list[Outcome]:
    backend = open_backend(settings)
    try:
        model = await backend.model()
        async with pooled_sender(backend, config, request_capacity(settings)) as send:
            return [outcome async for outcome in score_batch(conversations, direct_scorer(send, config, model), config)]
    finally:
        await backend.aclose()
