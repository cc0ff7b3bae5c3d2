"""``memscore score``: score conversation files into the DuckDB store and print their top memories."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import orjson
import typer
from rich.progress import Progress

from memscore_core.backends.factory import joined_base_url
from memscore_core.cli.consoles import stderr_console
from memscore_core.cli.inputs import InputFormatOption, MemoryKeyArgOption, MemoryToolOption, input_options
from memscore_core.cli.models import ModelDirOption, embedded_model_dir
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
from memscore_core.config import ScoringConfig
from memscore_core.formats import InputOptions
from memscore_core.formats.loading import LoadResult, expand_paths
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.incremental import SourceReading
from memscore_core.scoring.opening import open_scorer
from memscore_core.scoring.run import RunSummary, run_scoring
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
    model_dir: ModelDirOption = None,
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
    full_scan: Annotated[bool, typer.Option(help="Read every file whole, not only new files and appended tails "
                                                 "(--json and --rescore read every file too).")] = False,
) -> None:
    """Score each memory's importance to each assistant response; results go to the DuckDB store.

    Only new files and what was appended to JSONL files since the last run are read (--full-scan reads all)."""
    settings = Settings.with_overrides(base_url=joined_base_url(base_url), model=model, api_key_env=api_key_env, db=db,
                                       data_path=data_path, chunk_tokens=chunk_tokens, concurrency=concurrency,
                                       model_dir=None if base_url else embedded_model_dir(model_dir))
    if not cache:
        settings = settings.model_copy(update={"request_cache": None})
    config = scoring_config(strategy_names(strategy)[0], chunk_tokens=settings.chunk_tokens, window=window,
                            masks=masks, noise_floor=noise_floor, floor_quantile=floor_quantile, ablation=ablation)
    if not expand_paths(paths):
        _no_files()
    store = Store(settings.db, data_path=settings.data_path)
    options = input_options(input_format, memory_tool, memory_key_arg)
    loaded, summary = asyncio.run(_run(settings, config, paths, options, store, rescore,
                                       full_scan=full_scan or rescore or as_json))
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
                 f"{_read_note(loaded)}"
                 f"run {summary.run_id} in {store.name}", highlight=False)
    if loaded.errors or summary.failed:
        raise typer.Exit(1)


def _every_result(loaded: LoadResult, fresh: list[ConversationScore], store: Store, model: str,
                  config: ScoringConfig) -> list[ConversationScore]:
    """Each valid conversation's result in input order: this run's, or the stored one it skipped."""
    scored = {score.conversation_id: score for score in fresh}
    keys = {item.conversation.id: (item.content_hash, model, config.hash())
            for item in loaded.conversations if item.conversation.id not in scored}
    with store:
        stored = store.scores(list(keys.values()))
    results = []
    for item in loaded.conversations:
        key = keys.get(item.conversation.id)
        result = stored.get(key) if key is not None else scored.get(item.conversation.id)
        if result is not None:
            results.append(result)
    return results


def _no_files() -> NoReturn:
    stderr.print("[red]error:[/red] no conversation files found", highlight=False)
    raise typer.Exit(1)


def _read_note(loaded: LoadResult) -> str:
    return f"{loaded.unread} conversations read by earlier runs; " if loaded.unread else ""


async def _run(settings: Settings, config: ScoringConfig, paths: list[Path], options: InputOptions, store: Store,
               rescore: bool, *, full_scan: bool) -> tuple[LoadResult, RunSummary]:
    """Read what is new in ``paths``, score it, then record what was read (once its results are stored)."""
    async with open_scorer(config, settings) as scorer:
        reading = SourceReading.open(store, model=scorer.model, config=config, options=options, full_scan=full_scan)
        read = await asyncio.to_thread(reading.read, paths, options)
        loaded = read.loaded
        for error in loaded.errors:
            stderr.print(f"[red]error:[/red] {error}", highlight=False, markup=True)
        if read.found_nothing:
            _no_files()
        with Progress(console=stderr, transient=True) as progress:
            task = progress.add_task("scoring", total=len(loaded.conversations))

            async def advance(*_: object) -> None:
                progress.advance(task)

            summary = await run_scoring(loaded, store, config, scorer.score, model=scorer.model,
                                        backend_name=scorer.backend, rescore=rescore, hungry=scorer.hungry,
                                        on_outcome=advance)
        await asyncio.to_thread(reading.settle, read, loaded, summary)
        return loaded, summary
