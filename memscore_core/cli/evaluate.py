"""``memscore eval``: score conversations that carry ground truth and report attribution quality."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from memscore_core.backends.factory import joined_base_url, open_backend, request_capacity
from memscore_core.bench.strategies import StrategyComparison, StrategyRow, compare_strategies
from memscore_core.cli.consoles import stderr_console, stdout_console
from memscore_core.cli.inputs import InputFormatOption, MemoryKeyArgOption, MemoryToolOption, input_options
from memscore_core.cli.models import ModelDirOption, embedded_model_dir
from memscore_core.cli.strategy_options import (
    DEFAULT_MASKS,
    DEFAULT_QUANTILE,
    AblationOption,
    FloorQuantileOption,
    MasksOption,
    NoiseFloorOption,
    scoring_config,
    strategy_names,
)
from memscore_core.config import ScoringConfig
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation
from memscore_core.settings import Settings


def eval_command(
    paths: Annotated[list[Path], typer.Argument(help="Conversations with meta.uses_memories on answers.")],
    base_url: Annotated[list[str] | None, typer.Option(help="vLLM-compatible server (default: embedded); repeat "
                                                       "it (or comma-separate) for replicas of one model.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    model_dir: ModelDirOption = None,
    strategy: Annotated[str, typer.Option(help="One strategy, or several comma-separated to compare them side by "
                                               "side on the same conversations (e.g. exact,hierarchical,surrogate).")]
    = "exact",
    chunk_tokens: Annotated[int | None, typer.Option(min=1, help="Chunk budget in tokens (what `memscore synth "
                                                                 "--memories` says to score with).")] = None,
    masks: MasksOption = DEFAULT_MASKS,
    noise_floor: NoiseFloorOption = None,
    floor_quantile: FloorQuantileOption = DEFAULT_QUANTILE,
    ablation: AblationOption = "remove",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (a list of them for several "
                                                         "strategies).")] = False,
    input_format: InputFormatOption = "auto",
    memory_tool: MemoryToolOption = None,
    memory_key_arg: MemoryKeyArgOption = "key",
) -> None:
    """Precision@1, two-memory recall, used/unused divergence, noise floor and redundancy, with each strategy's
    cost (requests, prompt tokens, wall) and, beside exact, its top-1 agreement with exact."""
    settings = Settings.with_overrides(base_url=joined_base_url(base_url), model=model, chunk_tokens=chunk_tokens,
                                       model_dir=None if base_url else embedded_model_dir(model_dir))
    names = strategy_names(strategy, several=True)
    configs = {name: scoring_config(name, chunk_tokens=settings.chunk_tokens, masks=masks, noise_floor=noise_floor,
                                    floor_quantile=floor_quantile, ablation=ablation) for name in names}
    loaded = load_conversations(paths, input_options(input_format, memory_tool, memory_key_arg))
    if loaded.errors:
        for error in loaded.errors:
            stderr_console().print(f"error: {error}", highlight=False, markup=False)
        raise typer.Exit(1)
    comparison = asyncio.run(_compare(settings, configs, [item.conversation for item in loaded.conversations]))
    reports = [strategy_report(row) for row in comparison.rows]
    if as_json:
        typer.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        print_reports(reports, len(loaded.conversations))
    if any(row.failed for row in comparison.rows):
        raise typer.Exit(1)


def strategy_report(row: StrategyRow) -> dict[str, Any]:
    """One strategy's evaluation: quality (precision@1 and two-memory recall on each cell's best value, with the
    answers they are over; every other statistic on exact cells only), then its cost and how its cells were
    obtained."""
    return {"strategy": row.name, "ablation": row.config.ablation, **row.quality, "n_single": row.n_single,
            "precision_at_1": row.precision_at_1, "n_two_memory": row.n_two_memory,
            "recall_two_memory": row.recall_two_memory, "requests": row.requests, "prompt_tokens": row.prompt_tokens,
            "wall_s": row.wall_s, "tokens_vs_exact": row.tokens_vs_exact, "requests_vs_exact": row.requests_vs_exact,
            "top1_agreement_with_exact": row.top1_agreement,
            "top1_agreement_within_floor": row.top1_agreement_within_floor,
            "agreement_responses": row.agreement_responses, "agreement_unreachable": row.agreement_unreachable,
            "exact_cells": row.exact_cells, "estimated_cells": row.estimated_cells,
            "chunk_strategies": row.chunk_strategies, "failed": row.failed}


def print_reports(reports: list[dict[str, Any]], conversations: int) -> None:
    """One column per strategy, one row per metric."""
    table = Table(title=f"evaluation of {conversations} conversations", title_justify="left")
    table.add_column("metric")
    for report in reports:
        table.add_column(report["strategy"], justify="right")
    for key in reports[0]:
        if key != "strategy":
            table.add_row(key, *(_cell(report[key]) for report in reports))
    stdout_console().print(table)


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return ", ".join(f"{name} {count}" for name, count in value.items())
    return str(value)


async def _compare(settings: Settings, configs: dict[str, ScoringConfig],
                   conversations: list[Conversation]) -> StrategyComparison:
    backend = open_backend(settings)
    try:
        return await compare_strategies(conversations, backend, configs, concurrency=request_capacity(settings))
    finally:
        await backend.aclose()
