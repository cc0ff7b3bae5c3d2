"""``memscore bench``: strategies side by side against one server (ratios to ``seed`` from one run), and its
other modes as subcommands: ``many-memories``, ``orchestrated``, ``replicas``."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel

from memscore_core.backends.factory import joined_base_url
from memscore_core.bench.corpus import BenchShape
from memscore_core.bench.many_memories import DEFAULT_STRATEGIES, run_many_shapes_bench
from memscore_core.bench.models import model_dirs, run_models_bench
from memscore_core.bench.orchestrated import orchestrated_targets, run_orchestrated
from memscore_core.bench.replicas import run_replica_bench
from memscore_core.bench.run import emulated_server, run_bench
from memscore_core.bench.targets import (
    Target,
    check_many_shapes_targets,
    check_models_targets,
    check_replica_targets,
    check_targets,
)
from memscore_core.cli.bench_reports import (
    print_corpus_report,
    print_many_shapes_report,
    print_models_report,
    print_orchestrated_report,
    print_replica_report,
    print_report,
    print_rerun_report,
    print_targets,
    print_ui_report,
)
from memscore_core.cli.models import ModelDirOption, embedded_model_dir
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
from memscore_core.synth.forms import MEMORY_KINDS, MemoryKinds
from memscore_core.synth.many import LAYOUTS, Layout, ManyShape

C = TypeVar("C", Layout, MemoryKinds)
R = TypeVar("R", bound=BaseModel)

bench = typer.Typer(help="Measure requests, server-reported prompt tokens, wall time, client CPU and peak RSS per "
                         "strategy; each mode ends with the targets it measured and exits 1 if any was missed.")

BaseUrlOption = Annotated[list[str] | None, typer.Option(help="Server to measure (default: the embedded model); "
                                                         "repeat it (or comma-separate) for replicas.")]
ConversationsOption = Annotated[int, typer.Option(help="Conversations in the corpus.")]
ChunksOption = Annotated[int, typer.Option(help="Chunks per conversation.")]
MemoriesOption = Annotated[int, typer.Option(help="Memories per conversation.")]
ResponsesOption = Annotated[int, typer.Option(help="Responses per chunk.")]
SlotsOption = Annotated[int, typer.Option(help="Emulated batch slots (requests in flight at once).")]
PrefillOption = Annotated[float, typer.Option(help="Emulated prefill tokens per second per request.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


@bench.callback(invoke_without_command=True)
def strategies_vs_seed(
    context: typer.Context,
    base_url: BaseUrlOption = None,
    emulate_gpu: Annotated[bool, typer.Option(help="Start `memscore serve --emulate-gpu` and measure it.")] = False,
    prefill_tps: PrefillOption = 4000.0,
    slots: SlotsOption = 8,
    conversations: ConversationsOption = 4,
    memories: MemoriesOption = 8,
    chunks: ChunksOption = 4,
    responses_per_chunk: ResponsesOption = 24,
    window: Annotated[int, typer.Option(min=1, help="Window of the windowed exact strategy.")] = 4,
    strategies: Annotated[str, typer.Option(help="Comma-separated: seed, exact, exact-window.")]
    = "seed,exact,exact-window",
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight (default: --slots).")] = None,
    client: Annotated[bool, typer.Option(help="Also measure client parse + math cost.")] = True,
    forward_pass: Annotated[bool, typer.Option(help="The emulated server runs the model's forward pass.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Without a subcommand: seed, exact and windowed exact side by side on one server, ratios to seed."""
    if context.invoked_subcommand is not None:
        return
    shape = BenchShape(conversations=conversations, memories=memories, chunks=chunks,
                       responses_per_chunk=responses_per_chunk)
    configs = {"seed": ScoringConfig(strategy="seed", chunk_tokens=shape.chunk_tokens()),
               "exact": ScoringConfig(strategy="exact", chunk_tokens=shape.chunk_tokens()),
               "exact-window": ScoringConfig(strategy="exact", chunk_tokens=shape.chunk_tokens(), window=window)}
    chosen = {name: configs[name] for name in strategies.split(",") if name}
    workdir = Path(tempfile.mkdtemp(prefix="memscore-bench-"))
    server = emulated_server(workdir, prefill_tps=prefill_tps, slots=slots, port=free_port(),
                             forward_pass=forward_pass) if emulate_gpu else nullcontext(joined_base_url(base_url))
    with server as url:
        report = run_bench(shape, workdir, base_url=url, strategies=chosen, concurrency=concurrency or slots,
                           slots=slots if emulate_gpu else None, with_client=client)
    finish(report, check_targets(report), as_json, print_report)


@bench.command("many-memories")
def many_memories(
    memories: Annotated[int, typer.Argument(min=1, help="Memories per chunk.")],
    base_url: BaseUrlOption = None,
    conversations: ConversationsOption = 4,
    chunks: ChunksOption = 4,
    used: Annotated[int, typer.Option(min=0, help="Memories asked about per chunk.")] = 4,
    strategies: Annotated[str, typer.Option(help="Comma-separated strategies.")] = ",".join(DEFAULT_STRATEGIES),
    window: Annotated[int | None, typer.Option(min=1, help="Every strategy again with this window.")] = None,
    masks: MasksOption = DEFAULT_MASKS,
    floor_quantile: FloorQuantileOption = DEFAULT_QUANTILE,
    ablation: Annotated[str, typer.Option(help="remove (default) or replace (see `memscore score --help`); "
                                          "comma-separated, every strategy under each, judged against exact "
                                          "under the same.")] = "remove",
    seed: Annotated[int, typer.Option(help="The corpus's seed.")] = 14,
    layouts: Annotated[str, typer.Option("--shape", help="Comma-separated layouts, each a corpus of its own: grouped "
                                         "(each chunk opens with its memories) and interleaved (memories between "
                                         "answers); see `memscore synth --help`.")] = ",".join(LAYOUTS),
    kinds: Annotated[str, typer.Option("--kinds", help="Comma-separated memory kinds, every layout with each: "
                                       "contacts or mixed.")] = "contacts",
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight.")] = 4,
    model_dir: ModelDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """The strategies on synthetic conversations with MEMORIES memories per chunk, in each shape, on the embedded
    model (MEMSCORE_MODEL_DIR) or --base-url: requests, prompt tokens, wall, precision@1, two-memory recall and
    top-1 agreement with exact on the same conversations, with each shape's targets."""
    names = strategy_names(strategies, several=True)
    shapes = [ManyShape(memories=memories, used=min(used, memories), chunks=chunks, layout=layout, memory_kinds=kind)
              for layout in _choices(layouts, LAYOUTS, "--shape") for kind in _choices(kinds, MEMORY_KINDS, "--kinds")]
    compared = run_many_shapes_bench(shapes, conversations=conversations, seed=seed, strategies=names, window=window,
                                     masks=masks, floor_quantile=floor_quantile, ablations=ablation_names(ablation),
                                     model_dir=embedded_model_dir(model_dir), base_url=joined_base_url(base_url),
                                     concurrency=concurrency)
    finish(compared, check_many_shapes_targets(compared), as_json, print_many_shapes_report)


def _choices(text: str, allowed: tuple[C, ...], option: str) -> list[C]:
    """The names in ``text`` (comma-separated, each once, in order); one not in ``allowed`` is a usage error."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise typer.BadParameter(f"must be one or more of {', '.join(allowed)} (comma-separated)", param_hint=option)
    return [allowed[allowed.index(name)] for name in names]


@bench.command("orchestrated")
def orchestrated(
    conversations: Annotated[int, typer.Argument(min=1, help="Synthetic conversations to score.")],
    as_json: JsonOption = False,
) -> None:
    """`memscore score` and the score-conversations flow (a Prefect server it starts) over the same
    CONVERSATIONS, side by side: wall and CPU per request."""
    paths = run_orchestrated(Path(tempfile.mkdtemp(prefix="memscore-bench-")), conversations=conversations)
    finish(paths, orchestrated_targets(paths), as_json, print_orchestrated_report)


@bench.command("replicas")
def replicas(
    counts: Annotated[str, typer.Argument(help="Comma-separated replica counts, e.g. 1,2,4.")],
    prefill_tps: PrefillOption = 4000.0,
    slots: SlotsOption = 8,
    conversations: ConversationsOption = 4,
    memories: MemoriesOption = 8,
    chunks: ChunksOption = 4,
    responses_per_chunk: ResponsesOption = 24,
    forward_pass: Annotated[bool, typer.Option(help="The emulated servers run the model's forward pass "
                                               "(see docs/scaling.md).")] = False,
    as_json: JsonOption = False,
) -> None:
    """exact's throughput through fleets of that many emulated GPU servers: per fleet size, its ratio to one
    replica and each replica's busy fraction."""
    shape = BenchShape(conversations=conversations, memories=memories, chunks=chunks,
                       responses_per_chunk=responses_per_chunk)
    fleet = run_replica_bench(shape, Path(tempfile.mkdtemp(prefix="memscore-bench-")), counts=replica_counts(counts),
                              prefill_tps=prefill_tps, slots=slots, forward_pass=forward_pass)
    finish(fleet, check_replica_targets(fleet), as_json, print_replica_report)


@bench.command("ui")
def ui_pages(
    conversations: Annotated[int, typer.Argument(min=1, help="Synthetic conversations in the store.")],
    db: Annotated[Path | None, typer.Option(help="The store to time (reused if it exists) \\[default: a new one in a "
                                            "temporary directory].")] = None,
    as_json: JsonOption = False,
) -> None:
    """Time each page of `memscore ui` over a store of CONVERSATIONS synthetic conversations (built if missing)."""
    from memscore_core.bench.ui_pages import check_ui_targets, run_ui_page_bench  # the web app: imported when used

    timed = run_ui_page_bench(db or Path(tempfile.mkdtemp(prefix="memscore-bench-")) / "ui.duckdb", conversations)
    finish(timed, check_ui_targets(timed), as_json, print_ui_report)


@bench.command("models")
def models(
    model_dir: Annotated[list[Path] | None, typer.Option(help="Only these model directories (repeat it) "
                                                         "\\[default: every shipped model].")] = None,
    conversations: ConversationsOption = 5,
    seed: Annotated[int, typer.Option(help="The corpus's seed.")] = 14,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Requests in flight (default: MEMSCORE_CONCURRENCY).")]
    = None,
    memories: Annotated[int | None, typer.Option(min=1, help="Many-memory conversations of this many memories per "
                                                 "chunk instead of the synth corpus (memscore synth --memories).")]
    = None,
    shape: Annotated[Layout, typer.Option(help="With --memories: grouped or interleaved (memscore synth --shape).")]
    = "grouped",
    cores: Annotated[str | None, typer.Option(help="Comma-separated numbers of cores to measure on, side by side: "
                                              "memscore's default lanes and the loop's torch threads for that many "
                                              "\\[default: 1 and every usable core].")] = None,
    together: Annotated[int, typer.Option(min=1, help="Conversations scored at a time (memscore sends their "
                                          "requests at once, as `memscore score` does a corpus; the loop runs "
                                          "their prompts), alternating group by group.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """On each shipped model (data/models/*, and MEMSCORE_MODEL_DIR), or each --model-dir: prompt tokens per second of
    exact on the embedded server and of a brute-force loop (one forward pass per prompt) over the same prompts,
    and the wall ratio, on each number of cores; the \u2264 0.5\u00d7 target applies to real models (100M parameters
    and more)."""
    from memscore_core.embedded.cores import embedded_concurrency, usable_cores

    settings = Settings()
    dirs = [embedded_model_dir(path) for path in model_dir] if model_dir else model_dirs(settings.model_dir)
    counts = core_counts(cores) if cores else sorted({1, usable_cores()})
    if not concurrency:
        concurrency = settings.concurrency if "concurrency" in settings.model_fields_set else \
            embedded_concurrency(settings.concurrency, max(counts))
    compared = run_models_bench(dirs, conversations=conversations, seed=seed, concurrency=concurrency,
                                cores=counts, memories=memories, shape=shape, together=together)
    finish(compared, check_models_targets(compared), as_json, print_models_report)


@bench.command("corpus")
def corpus(
    sizes: Annotated[str, typer.Argument(help="Comma-separated corpus sizes, e.g. 1000,10000,100000.")],
    out: Annotated[Path, typer.Option(help="Where the JSON report goes.")] = Path("docs/bench-corpus.json"),
    kinds: Annotated[str, typer.Option(help="Kinds of store, comma-separated: duckdb, ducklake.")]
    = "duckdb,ducklake",
    as_json: JsonOption = False,
) -> None:
    """Build stores of that many scored conversations (DuckDB file and DuckLake) and time top, show, weights,
    export --format sft and store maintain on each, with peak RSS and the growth exponent between sizes."""
    from memscore_core.bench.corpus_bench import check_corpus_targets, run_corpus_bench  # polars: when used

    with tempfile.TemporaryDirectory(prefix="memscore-corpus-") as root:
        report = run_corpus_bench(corpus_sizes(sizes), Path(root), kinds=store_kinds(kinds))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    finish(report, check_corpus_targets(report), as_json, print_corpus_report)


@bench.command("rerun")
def rerun(
    sizes: Annotated[str, typer.Argument(help="Comma-separated archive sizes, e.g. 1000,10000.")] = "1000,10000",
    as_json: JsonOption = False,
) -> None:
    """`memscore score --json` rerun over archives of that many conversations, every one already scored (files of
    100), side by side: wall and CPU seconds of the command and the results it printed; target: 10^4 in ≤ 10 s."""
    from memscore_core.bench.rerun_json import check_rerun_targets, run_rerun_bench

    with tempfile.TemporaryDirectory(prefix="memscore-rerun-") as root:
        report = run_rerun_bench(Path(root), corpus_sizes(sizes))
    finish(report, check_rerun_targets(report), as_json, print_rerun_report)


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


def corpus_sizes(text: str) -> list[int]:
    """``1000,10000`` as corpus sizes (each at least 1)."""
    return _counts(text, "must be comma-separated conversation counts, e.g. 1000,10000", "SIZES")


def store_kinds(text: str) -> tuple[str, ...]:
    """``duckdb,ducklake`` as kinds of store for the corpus bench."""
    kinds = tuple(kind.strip() for kind in text.split(",") if kind.strip())
    if not kinds or any(kind not in ("duckdb", "ducklake") for kind in kinds):
        raise typer.BadParameter("must be duckdb, ducklake or both, comma-separated", param_hint="--kinds")
    return kinds


def core_counts(text: str) -> list[int]:
    """``1,2`` as numbers of cores (each at least 1)."""
    return _counts(text, "must be comma-separated numbers of cores, e.g. 1,2", "--cores")


def replica_counts(text: str) -> list[int]:
    """``1,2,4`` as replica counts (each at least 1)."""
    return _counts(text, "must be comma-separated replica counts, e.g. 1,2,4", "COUNTS")


def _counts(text: str, message: str, hint: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise typer.BadParameter(message, param_hint=hint)
    return counts
