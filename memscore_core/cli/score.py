"""``memscore score``: score conversation files and print top memories or JSON."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from memscore_core.backends.factory import open_backend
from memscore_core.engine import ScoringConfig
from memscore_core.loading import LoadedConversation, load_conversations
from memscore_core.result import ConversationScore
from memscore_core.runner import Outcome, score_batch
from memscore_core.settings import Settings

stderr = Console(stderr=True)


def score(
    paths: Annotated[list[Path], typer.Argument(help="Conversation files (.jsonl/.json), directories or globs.")],
    base_url: Annotated[str | None, typer.Option(help="vLLM-compatible server, e.g. http://host:8000/v1. "
                                                 "Default: the embedded local model.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name (default: the server's first model).")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key.")] = None,
    strategy: Annotated[str, typer.Option(help="exact (default) or seed (the original algorithm).")] = "exact",
    chunk_tokens: Annotated[int | None, typer.Option(help="Chunk budget in tokens (≈4 bytes each).")] = None,
    window: Annotated[int | None, typer.Option(help="Score only the N responses after each memory.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight at once.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per conversation on stdout.")] = False,
    cache: Annotated[bool, typer.Option(help="Reuse answers to identical requests from the on-disk cache.")] = True,
) -> None:
    """Score each memory's importance to each assistant response."""
    overrides = {"base_url": base_url, "model": model, "api_key_env": api_key_env,
                 "chunk_tokens": chunk_tokens, "concurrency": concurrency}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    if not cache:
        settings = settings.model_copy(update={"request_cache": None})
    if strategy not in ("exact", "seed"):
        raise typer.BadParameter("must be 'exact' or 'seed'", param_hint="--strategy")
    config = ScoringConfig(strategy=strategy, chunk_tokens=settings.chunk_tokens, window=window)
    loaded = load_conversations(paths)
    for error in loaded.errors:
        stderr.print(f"[red]error:[/red] {error}", highlight=False, markup=True)
    outcomes = asyncio.run(score_loaded(settings, config, loaded.conversations))
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    for outcome in failed:
        stderr.print(f"[red]error:[/red] {outcome.loaded.file}:{outcome.loaded.line}: conversation "
                     f"{outcome.loaded.conversation.id!r}: {outcome.error}", highlight=False)
    scores = [outcome.score for outcome in outcomes if outcome.score is not None]
    if as_json:
        for result in scores:
            sys.stdout.write(orjson.dumps(result.model_dump()).decode() + "\n")
    else:
        _print_tables(scores)
    if loaded.errors or failed or not (loaded.conversations or loaded.errors):
        if not (loaded.conversations or loaded.errors):
            stderr.print("[red]error:[/red] no conversation files found", highlight=False)
        raise typer.Exit(1)


async def score_loaded(settings: Settings, config: ScoringConfig,
                       conversations: list[LoadedConversation]) -> list[Outcome]:
    """Score ``conversations`` with a progress bar on stderr."""
    outcomes = []
    backend = open_backend(settings)
    try:
        with Progress(console=stderr, transient=True) as progress:
            task = progress.add_task("scoring", total=len(conversations))
            async for outcome in score_batch(conversations, backend, config, concurrency=settings.concurrency):
                outcomes.append(outcome)
                progress.advance(task)
    finally:
        await backend.aclose()
    return outcomes


def _print_tables(scores: list[ConversationScore], limit: int = 5) -> None:
    console = Console()
    for result in scores:
        table = Table(title=f"{result.conversation_id}: top memories ({result.requests} requests, "
                            f"{result.prompt_tokens} prompt tokens)", title_justify="left")
        table.add_column("memory key")
        table.add_column("importance", justify="right")
        table.add_column("responses it helped", justify="right")
        for key, weight in result.top_memories(limit):
            row = result.matrix[result.memory_keys.index(key)]
            helped = sum(1 for value in row if value is not None and value > 0.01)
            table.add_row(key, f"{weight:.3f}", str(helped))
        if not result.memory_keys:
            table.add_row("(no memories)", "", "")
        console.print(table)
