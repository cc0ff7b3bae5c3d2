"""``memscore bench``: strategies side by side against one server; ratios to ``seed`` from one run (or, with
``--models``, the embedded server beside a brute-force loop on each shipped model)."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from memscore_core.backends.factory import joined_base_url
from memscore_core.bench.corpus import BenchShape
from memscore_core.bench.many_memories import DEFAULT_STRATEGIES, ManyMemoryReport, run_many_memory_bench
from memscore_core.bench.models import ModelsReport, model_dirs, run_models_bench
from memscore_core.bench.orchestrated import OrchestratedReport, orchestrated_targets, run_orchestrated
from memscore_core.bench.replicas import ReplicaReport, run_replica_bench
from memscore_core.bench.run import BenchReport, emulated_server, run_bench
from memscore_core.bench.targets import (
    Target,
    check_many_memory_targets,
    check_models_targets,
    check_replica_targets,
    check_targets,
)
from memscore_core.cli.consoles import stdout_console
from memscore_core.cli.strategy_options import (
    DEFAULT_MASKS,
    DEFAULT_QUANTILE,
    FloorQuantileOption,
    MasksOption,
    ablation_names,
    strategy_names,
)
from memscore_core.config import ScoringConfig
from memscore_core.embedded.loopback import free_port
from memscore_core.settings import Settings
from memscore_core.synth.many import ManyShape

R = TypeVar("R", BenchReport, ReplicaReport, OrchestratedReport, ManyMemoryReport, ModelsReport)


def bench(
    base_url: Annotated[list[str] | None, typer.Option(help="Server to measure (default: the embedded model); "
                                                       "repeat it (or comma-separate) for replicas.")] = None,
    emulate_gpu: Annotated[bool, typer.Option(help="Start `memscore serve --emulate-gpu` and measure it.")] = False,
    prefill_tps: Annotated[float, typer.Option(help="Emulated prefill tokens per second per request.")] = 4000.0,
    slots: Annotated[int, typer.Option(help="Emulated batch slots (requests in flight at once).")] = 8,
    conversations: Annotated[int, typer.Option(help="Conversations in the corpus.")] = 4,
    memories: Annotated[int, typer.Option(help="Memories per conversation.")] = 8,
    chunks: Annotated[int, typer.Option(help="Chunks per conversation.")] = 4,
    responses_per_chunk: Annotated[int, typer.Option(help="Responses per chunk.")] = 24,
    window: Annotated[int | None, typer.Option(min=1, help="Window of the windowed exact strategy \\[default: 4]; "
                                               "with --many-memories, every strategy again with this window.")]
    = None,
    strategies: Annotated[str | None, typer.Option(help="Comma-separated: seed, exact, exact-window \\[default: "
                                                   "all three]; with --many-memories: exact, hierarchical, "
                                                   "surrogate, auto \\[default: all four].")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight (default: --slots).")] = None,
    client: Annotated[bool, typer.Option(help="Also measure client parse + math cost.")] = True,
    replicas: Annotated[str | None, typer.Option(help="Comma-separated replica counts, e.g. 1,2,4: exact's "
                                                 "throughput through that many emulated GPU servers instead of "
                                                 "the strategies (needs --emulate-gpu).")] = None,
    forward_pass: Annotated[bool | None, typer.Option(help="Emulated servers run the model's forward pass "
                                                      "\\[default: yes; no with --replicas, see docs/scaling.md].")]
    = None,
    orchestrated: Annotated[int | None, typer.Option(min=1, help="Score this many synthetic conversations "
                                                     "through `memscore score` and through the score-conversations "
                                                     "flow (a Prefect server it starts), side by side.")] = None,
    many_memories: Annotated[int | None, typer.Option(min=1, help="Compare the strategies on synthetic "
                                                      "conversations with this many memories per chunk (--chunks "
                                                      "chunks, --conversations of them) on the embedded model "
                                                      "(MEMSCORE_MODEL_DIR) or --base-url.")] = None,
    used: Annotated[int, typer.Option(min=0, help="--many-memories: memories asked about per chunk.")] = 4,
    models: Annotated[bool, typer.Option(help="On each shipped model (data/models/*, and MEMSCORE_MODEL_DIR): "
                                         "exact on the embedded server beside a brute-force loop over the same "
                                         "prompts, on --conversations small synthetic conversations.")] = False,
    masks: MasksOption = DEFAULT_MASKS,
    floor_quantile: FloorQuantileOption = DEFAULT_QUANTILE,
    ablation: Annotated[str, typer.Option(help="--many-memories: remove (default) or replace (see `memscore score "
                                          "--help`); comma-separated, every strategy under each, judged "
                                          "against exact under the same.")] = "remove",
    seed: Annotated[int, typer.Option(help="--many-memories, --models: the corpus's seed.")] = 14,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Measure requests, server-reported prompt tokens, wall time, client CPU and peak RSS per strategy.

    With --replicas: throughput per fleet size, its ratio to one replica and each replica's busy fraction.
    With --orchestrated N: the CLI and the flow over the same N conversations, wall and CPU per request.
    With --many-memories M: every strategy's requests, prompt tokens, wall, precision@1, two-memory recall
    and top-1 agreement with exact on the same conversations.
    With --models: per model, prompt tokens per second of exact on the embedded server and of a brute-force
    loop (one forward pass per prompt), and the wall ratio.
    Ends with the performance targets the run measured; exits 1 if any was missed.
    """
    if orchestrated is not None:
        paths = run_orchestrated(Path(tempfile.mkdtemp(prefix="memscore-bench-")), conversations=orchestrated)
        finish(paths, orchestrated_targets(paths), as_json, print_orchestrated_report)
        return
    if models:
        settings = Settings()
        compared_models = run_models_bench(model_dirs(settings.model_dir), conversations=conversations, seed=seed,
                                           concurrency=concurrency or settings.concurrency,
                                           threads=settings.torch_threads)
        finish(compared_models, check_models_targets(compared_models), as_json, print_models_report)
        return
    if many_memories is not None:
        names = strategy_names(strategies or ",".join(DEFAULT_STRATEGIES), several=True)
        shaped = ManyShape(memories=many_memories, used=min(used, many_memories), chunks=chunks)
        compared = run_many_memory_bench(shaped, conversations=conversations, seed=seed, strategies=names,
                                         window=window, masks=masks, floor_quantile=floor_quantile,
                                         ablations=ablation_names(ablation),
                                         model_dir=Settings().model_dir, base_url=joined_base_url(base_url),
                                         concurrency=concurrency or 4)
        finish(compared, check_many_memory_targets(compared), as_json, print_many_memory_report)
        return
    shape = BenchShape(conversations=conversations, memories=memories, chunks=chunks,
                       responses_per_chunk=responses_per_chunk)
    if replicas is not None:
        if not emulate_gpu:
            raise typer.BadParameter("needs --emulate-gpu: the bench starts the replicas itself",
                                     param_hint="--replicas")
        fleet = run_replica_bench(shape, Path(tempfile.mkdtemp(prefix="memscore-bench-")),
                                  counts=replica_counts(replicas), prefill_tps=prefill_tps, slots=slots,
                                  forward_pass=bool(forward_pass))
        finish(fleet, check_replica_targets(fleet), as_json, print_replica_report)
        return
    configs = {"seed": ScoringConfig(strategy="seed", chunk_tokens=shape.chunk_tokens()),
               "exact": ScoringConfig(strategy="exact", chunk_tokens=shape.chunk_tokens()),
               "exact-window": ScoringConfig(strategy="exact", chunk_tokens=shape.chunk_tokens(), window=window or 4)}
    chosen = {name: configs[name] for name in (strategies or "seed,exact,exact-window").split(",") if name}
    workdir = Path(tempfile.mkdtemp(prefix="memscore-bench-"))
    server = emulated_server(workdir, prefill_tps=prefill_tps, slots=slots, port=free_port(),
                             forward_pass=forward_pass is not False) if emulate_gpu \
        else nullcontext(joined_base_url(base_url))
    with server as url:
        report = run_bench(shape, workdir, base_url=url, strategies=chosen, concurrency=concurrency or slots,
                           slots=slots if emulate_gpu else None, with_client=client)
    finish(report, check_targets(report), as_json, print_report)


def finish(report: R, targets: list[Target], as_json: bool, show: Callable[[R], None]) -> None:
    """Print the report and its targets (or one JSON document of both); exit 1 if any target was missed."""
    if as_json:
        document = report.model_dump(mode="json") | {"targets": [target.model_dump() for target in targets]}
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        show(report)
        print_targets(targets)
    if not all(target.met for target in targets):
        raise typer.Exit(1)


def replica_counts(text: str) -> list[int]:
    """``1,2,4`` as replica counts (each at least 1)."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise typer.BadParameter("must be comma-separated replica counts, e.g. 1,2,4", param_hint="--replicas")
    return counts


def print_many_memory_report(report: ManyMemoryReport) -> None:
    table = Table(title=f"memscore bench --many-memories {report.memories} — {report.conversations} conversations × "
                        f"{report.chunks} chunks of {report.memories} memories ({report.used} used), "
                        f"{report.server}", title_justify="left")
    for column in ("strategy", "requests", "prompt tokens", "÷ exact", "wall s", "precision@1", "two-memory recall",
                   "top-1 = exact", "within floor", "judged", "drop-all ≤ floor", "exact cells", "estimated cells",
                   "chunks scored by"):
        table.add_column(column, justify="left" if column in ("strategy", "chunks scored by") else "right")
    for row in report.comparison.rows:
        table.add_row(row.name, str(row.requests), str(row.prompt_tokens), _ratio(row.tokens_vs_exact),
                      f"{row.wall_s:.1f}", _ratio(row.precision_at_1), _ratio(row.recall_two_memory),
                      _ratio(row.top1_agreement), _ratio(row.top1_agreement_within_floor),
                      str(row.agreement_responses), str(row.agreement_unreachable), str(row.exact_cells),
                      str(row.estimated_cells), ", ".join(f"{name} {n}" for name, n in row.chunk_strategies.items()))
    stdout_console().print(table)


def print_models_report(report: ModelsReport) -> None:
    table = Table(title=f"memscore bench --models — {report.conversations} synthetic conversations (seed "
                        f"{report.seed}): exact on the embedded server beside a brute-force loop over the same "
                        "prompts (one forward pass each), alternating", title_justify="left")
    for column in ("model", "parameters", "threads", "prompts", "prompt tokens", "memscore wall s", "loop wall s",
                   "memscore tok/s", "loop tok/s", "memscore CPU s", "loop CPU s", "computed ÷ prompt tokens",
                   "wall ÷ loop"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in report.rows:
        ours, loop = row.memscore, row.loop
        table.add_row(row.model, f"{row.parameters / 1e6:.1f} M", str(row.threads), str(ours.prompts),
                      f"{ours.prompt_tokens:,}", f"{ours.wall_s:.1f}", f"{loop.wall_s:.1f}",
                      f"{ours.tokens_per_s:,.0f}", f"{loop.tokens_per_s:,.0f}", f"{ours.cpu_s:.1f}",
                      f"{loop.cpu_s:.1f}", _ratio(row.computed_tokens / ours.prompt_tokens if ours.prompt_tokens
                                                  else None), _ratio(row.wall_vs_loop))
    stdout_console().print(table)


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def print_orchestrated_report(report: OrchestratedReport) -> None:
    table = Table(title=f"memscore bench --orchestrated — {report.conversations} synthetic conversations, one "
                        "loopback server that answers at once; each path in a fresh process", title_justify="left")
    for column in ("path", "requests", "wall s", "CPU s", "CPU ms / request", "wall ÷ CLI"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for run in (report.cli, report.flow):
        table.add_row("memscore score" if run.path == "cli" else "score-conversations flow", str(run.requests),
                      f"{run.wall_s:.2f}", f"{run.cpu_s:.2f}", f"{run.cpu_ms_per_request:.2f}",
                      f"{run.wall_s / report.cli.wall_s:.2f}")
    console = stdout_console()
    console.print(table)
    console.print(f"Prefect API server CPU during the flow: {report.prefect_server_cpu_s:.2f} s; results identical: "
                  f"{'yes' if report.identical_results else 'NO'}", highlight=False)


def print_replica_report(report: ReplicaReport) -> None:
    table = Table(title=f"memscore bench --replicas — emulated GPU servers of {report.slots} slots at "
                        f"{report.prefill_tps:g} tok/s{'' if report.forward_pass else ' (no forward pass)'}; "
                        f"{report.shape.conversations} conversations × {report.shape.memories} memories × "
                        f"{report.shape.chunks} chunks, exact", title_justify="left")
    for column in ("replicas", "requests", "prompt tokens", "wall s", "tokens/s", "× 1 replica",
                   "busy while work remained (each replica)", "pace (each replica)"):
        table.add_column(column, justify="right")
    for row in report.rows:
        m = row.measurement
        ratio = "—" if row.vs_one_replica is None else f"{row.vs_one_replica:.2f}×"
        busy, pace = (" ".join("—" if value is None else f"{value:.0%}" for value in values)
                      for values in (row.busy, row.pace))
        table.add_row(str(row.replicas), str(m.requests), str(m.prompt_tokens), f"{m.wall_s:.2f}",
                      f"{row.tokens_per_s:,.0f}", ratio, busy, pace)
    stdout_console().print(table)


def print_report(report: BenchReport) -> None:
    table = Table(title=f"memscore bench — {report.server}; {report.shape.conversations} conversations × "
                        f"{report.shape.memories} memories × {report.shape.chunks} chunks "
                        f"(chunk_tokens {report.chunk_tokens})", title_justify="left")
    for column in ("strategy", "requests", "prompt tokens", "wall s", "client CPU s", "parse+math M tok/CPU-s",
                   "peak RSS MB",
                   "saturation", "tokens ÷ seed", "predicted", "speed-up vs seed"):
        table.add_column(column, justify="left" if column == "strategy" else "right")

    def fmt(value: float | None, pattern: str = "{:.3f}") -> str:
        return "—" if value is None else pattern.format(value)

    for row in report.rows:
        m = row.measurement
        rate = m.parse_math_tokens_per_cpu_s
        table.add_row(row.strategy, str(m.requests), str(m.prompt_tokens), f"{m.wall_s:.2f}", f"{m.client_cpu_s:.2f}",
                      fmt(rate / 1e6 if rate else None, "{:.2f}"), f"{m.peak_rss_mb:.0f}",
                      fmt(row.saturation, "{:.0%}"), fmt(row.tokens_vs_seed), fmt(row.predicted_tokens_vs_seed),
                      fmt(row.speedup_vs_seed, "{:.1f}×"))
    console = stdout_console()
    console.print(table)
    if report.client is not None:
        c = report.client
        console.print(f"client parse + math on {c.body} ({c.tokens} tokens): memscore "
                      f"{c.memscore_tokens_per_cpu_s / 1e6:.2f} M tokens/CPU-s, standard library "
                      f"{c.stdlib_tokens_per_cpu_s / 1e6:.2f} M → {c.speedup:.1f}× faster", highlight=False)


def print_targets(targets: list[Target]) -> None:
    """One line per target this run measured; the command exits 1 if any was missed."""
    console = stdout_console()
    for target in targets:
        bound = "≤" if target.at_most else "≥"
        console.print(f"{'met   ' if target.met else 'MISSED'} {target.name}: {_quantity(target.measured)} "
                      f"(target {bound} {_quantity(target.required)})", highlight=False)


def _quantity(value: float) -> str:
    return f"{value / 1e6:.2f} M" if abs(value) >= 1e5 else f"{value:.3g}"
