"""How ``memscore bench`` prints each mode's report and the targets it measured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from memscore_core.bench.many_memories import ManyMemoryReport, ManyShapesReport
from memscore_core.bench.models import ModelsReport
from memscore_core.bench.orchestrated import OrchestratedReport
from memscore_core.bench.replicas import ReplicaReport
from memscore_core.bench.run import BenchReport
from memscore_core.bench.targets import Target
from memscore_core.cli.consoles import stdout_console

if TYPE_CHECKING:
    from memscore_core.bench.corpus_bench import CorpusBenchReport
    from memscore_core.bench.rerun_json import RerunReport
    from memscore_core.bench.ui_pages import UiPageReport


def print_ui_report(report: UiPageReport) -> None:
    built = "" if report.build_s is None else f", built in {report.build_s:.1f} s"
    built += "" if report.refresh_s is None else f", candidates refreshed in {report.refresh_s:.1f} s"
    table = Table(title=f"memscore ui pages over {report.store}: {report.conversations:,} conversations, "
                        f"{report.cells:,} cells{built}", title_justify="left")
    for column in ("page", "status", "cold s", "median s", "worst s", "KiB", "url"):
        table.add_column(column, justify="left" if column in ("page", "url") else "right")
    for row in report.pages:
        table.add_row(row.page, str(row.status), f"{row.cold_s:.3f}", f"{row.median_s:.3f}", f"{row.worst_s:.3f}",
                      f"{row.kilobytes:.0f}", row.url)
    stdout_console().print(table)


def print_corpus_report(report: CorpusBenchReport) -> None:
    table = Table(title="Store commands by corpus size (seconds / peak RSS MB)", title_justify="left")
    for column in ("store", "conversations", "cells", "build s", *report.sizes[0].timings):
        table.add_column(column, justify="left" if column == "store" else "right")
    for size in report.sizes:
        table.add_row(size.kind, str(size.conversations), str(size.cells), f"{size.build_seconds:.0f}",
                      *[f"{t.seconds:.2f} / {t.peak_rss_mb:.0f}" for t in size.timings.values()])
    console = stdout_console()
    console.print(table)
    for kind, exponents in report.growth.items():
        console.print(f"{kind}: growth exponents " + ", ".join(f"{k} {v}" for k, v in exponents.items()),
                      highlight=False)


def print_rerun_report(report: RerunReport) -> None:
    table = Table(title="memscore score --json over an archive already scored (a process per size, imports included)",
                  title_justify="left")
    for column in ("conversations", "files", "wall s", "CPU s", "printed"):
        table.add_column(column, justify="right")
    for t in report.timings:
        table.add_row(f"{t.conversations:,}", str(t.files), f"{t.seconds:.2f}", f"{t.cpu_seconds:.2f}",
                      f"{t.printed:,}")
    stdout_console().print(table)


def print_models_report(report: ModelsReport) -> None:
    kind = "synthetic" if report.memories is None else f"{report.shape} {report.memories}-memory"
    table = Table(title=f"memscore bench models — {report.conversations} {kind} conversations (seed "
                        f"{report.seed}), {report.together} at a time: exact on the embedded server beside a "
                        "brute-force loop over the same prompts (one forward pass each), alternating",
                  title_justify="left")
    for column in ("model", "parameters", "cores", "lanes × threads", "lanes busy", "loop threads", "prompts",
                   "prompt tokens", "memscore wall s", "loop wall s", "memscore tok/s", "loop tok/s",
                   "memscore CPU s", "loop CPU s", "computed ÷ prompt tokens", "load", "wall ÷ loop"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in report.rows:
        ours, loop = row.memscore, row.loop
        table.add_row(row.model, f"{row.parameters / 1e6:.1f} M", str(row.cores), f"{row.lanes} × {row.lane_threads}",
                      f"{row.lanes_busy:.2f}", str(row.loop_threads), str(ours.prompts), f"{ours.prompt_tokens:,}",
                      f"{ours.wall_s:.1f}", f"{loop.wall_s:.1f}", f"{ours.tokens_per_s:,.0f}",
                      f"{loop.tokens_per_s:,.0f}", f"{ours.cpu_s:.1f}", f"{loop.cpu_s:.1f}",
                      _ratio(row.computed_tokens / ours.prompt_tokens if ours.prompt_tokens else None),
                      f"{row.load[0]:.1f}–{row.load[1]:.1f}", _ratio(row.wall_vs_loop))
    stdout_console().print(table)


def print_many_shapes_report(report: ManyShapesReport) -> None:
    """One table per shape."""
    for shape in report.shapes:
        print_many_memory_report(shape)


def print_many_memory_report(report: ManyMemoryReport) -> None:
    table = Table(title=f"memscore bench many-memories {report.memories} — {report.shape_label()}: "
                        f"{report.conversations} conversations × {report.chunks} chunks of {report.memories} memories "
                        f"({report.used} used), {report.server}", title_justify="left")
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


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def print_orchestrated_report(report: OrchestratedReport) -> None:
    table = Table(title=f"memscore bench orchestrated — {report.conversations} synthetic conversations, one "
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
    table = Table(title=f"memscore bench replicas — emulated GPU servers of {report.slots} slots at "
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
