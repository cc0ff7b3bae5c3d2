"""``memscore score``: score conversation files into the DuckDB store and print their top memories."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.progress import Progress

from memscore_core.backends.factory import backend_name, joined_base_url, open_backend, request_capacity
from memscore_core.cli.consoles import stderr_console
from memscore_core.cli.inputs import InputFormatOption, MemoryKeyArgOption, MemoryToolOption, input_options
from memscore_core.cli.query import DataPathOption, DbOption
from memscore_core.cli.render import print_conversation_tops, print_top_memories
from memscore_core.cli.strategy_options import (
    DEFAULT_MASKS,
    DEFAULT_QUANTILE,
    AblationOption,
    FloorQuantileOption,
    MasksOption,
    NoiseFloorOption,
    StrategyOption,
    scoring_config,
    strategy_names,
)
from memscore_core.engine import ScoringConfig, pool_sender, request_concurrency
from memscore_core.lifecycle import RunSummary, run_scoring
from memscore_core.loading import LoadResult, load_conversations
from memscore_core.pool import RequestPool
from memscore_core.result import ConversationScore, content_hash
from memscore_core.runner import direct_scorer
from memscore_core.settings import Settings
from memscore_core.store import Store

stderr = stderr_console()


def score(
    paths: Annotated[list[Path], typer.Argument(help="Conversation files (.jsonl/.json), directories or globs.")],
    db: DbOption = None,
    data_path: DataPathOption = None,
    rescore: Annotated[bool, typer.Option(help="Score again even when a result for this model and config exists.")]
    = False,
    base_url: Annotated[list[str] | None, typer.Option(help="vLLM-compatible server, e.g. http://host:8000/v1; "
                                                       "repeat it (or list several, comma-separated) for replicas "
                                                       "of one model. Default: the embedded local model.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name (default: the server's first model).")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key.")] = None,
    strategy: StrategyOption = "exact",
    chunk_tokens: Annotated[int | None, typer.Option(min=1, help="Chunk budget in tokens (≈4 bytes each).")] = None,
    window: Annotated[int | None, typer.Option(min=1, help="Score only the N responses after each memory.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Requests in flight, per server replica.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per scored conversation on stdout.")]
    = False,
    cache: Annotated[bool, typer.Option(help="Reuse answers to identical requests from the on-disk cache.")] = True,
    input_format: InputFormatOption = "auto",
    memory_tool: MemoryToolOption = None,
    memory_key_arg: MemoryKeyArgOption = "key",
    masks: MasksOption = DEFAULT_MASKS,
    noise_floor: NoiseFloorOption = None,
    floor_quantile: FloorQuantileOption = DEFAULT_QUANTILE,
    ablation: AblationOption = "remove",
) -> None:
    """Score each memory's importance to each assistant response; results go to the DuckDB store."""
    settings = Settings.with_overrides(base_url=joined_base_url(base_url), model=model, api_key_env=api_key_env, db=db,
                                       data_path=data_path, chunk_tokens=chunk_tokens, concurrency=concurrency)
    if not cache:
        settings = settings.model_copy(update={"request_cache": None})
    config = scoring_config(strategy_names(strategy)[0], chunk_tokens=settings.chunk_tokens, window=window,
                            masks=masks, noise_floor=noise_floor, floor_quantile=floor_quantile, ablation=ablation)
    loaded = load_conversations(paths, input_options(input_format, memory_tool, memory_key_arg))
    for error in loaded.errors:
        stderr.print(f"[red]error:[/red] {error}", highlight=False, markup=True)
    if not (loaded.conversations or loaded.errors):
        stderr.print("[red]error:[/red] no conversation files found", highlight=False)
        raise typer.Exit(1)
    store = Store(settings.db, data_path=settings.data_path)
    summary = asyncio.run(_run(settings, config, loaded, store, rescore))
    for outcome in summary.failed:
        stderr.print(f"[red]error:[/red] {outcome.loaded.file}:{outcome.loaded.line}: conversation "
                     f"{outcome.loaded.conversation.id!r}: {outcome.error}", highlight=False)
    scores = [outcome.score for outcome in summary.outcomes if outcome.score is not None]
    if as_json:
        for result in _every_result(loaded, scores, store, summary.model, config):
            sys.stdout.write(orjson.dumps(result.model_dump()).decode() + "\n")
    else:
        print_conversation_tops(scores)
        print_top_memories(store.top_memories(limit=10), title=f"Top memories in {store.name}")
    stderr.print(f"scored {summary.scored}, skipped {summary.skipped} already scored"
                 f"{' (--rescore to score again)' if summary.skipped else ''}, invalid {summary.invalid}, "
                 f"failed {len(summary.failed)}; {summary.requests} requests, {summary.prompt_tokens} prompt tokens; "
                 f"run {summary.run_id} in {store.name}", highlight=False)
    if loaded.errors or summary.failed:
        raise typer.Exit(1)


def _every_result(loaded: LoadResult, fresh: list[ConversationScore], store: Store, model: str,
                  config: ScoringConfig) -> list[ConversationScore]:
    """Each valid conversation's result in input order: this run's, or the stored one it skipped."""
    scored = {score.conversation_id: score for score in fresh}
    keys = {item.conversation.id: (content_hash(item.conversation), model, config.hash())
            for item in loaded.conversations if item.conversation.id not in scored}
    with store:
        stored = store.results(list(keys.values()))
    results = []
    for item in loaded.conversations:
        key = keys.get(item.conversation.id)
        result = scored.get(item.conversation.id) or (stored[key].to_score() if key in stored else None)
        if result is not None:
            results.append(result)
    return results


async def _run(settings: Settings, config: ScoringConfig, loaded: LoadResult, store: Store,
               rescore: bool) -> RunSummary:
    backend = open_backend(settings)
    try:
        model = await backend.model()
        with Progress(console=stderr, transient=True) as progress:
            task = progress.add_task("scoring", total=len(loaded.conversations))

            async def advance(*_: object) -> None:
                progress.advance(task)

            async with RequestPool(backend, request_concurrency(config, request_capacity(settings))) as pool:
                return await run_scoring(loaded, store, config, direct_scorer(pool_sender(pool), config, model),
                                         model=model, backend_name=backend_name(settings), rescore=rescore,
                                         hungry=pool.hungry, on_outcome=advance)
    finally:
        await backend.aclose()
