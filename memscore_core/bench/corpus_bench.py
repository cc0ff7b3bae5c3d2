"""``memscore bench corpus 1000,10000,100000``: the store's commands over corpora of growing size, side by side.

For each size, a DuckDB file and a DuckLake (SQLite catalog, maintained once after the build) are built with
:func:`~memscore_core.bench.corpus_store.build_corpus_store`; each timed command then runs in a process of its
own (``python -m memscore_core.bench.corpus_bench COMMAND TARGET``), which reports the seconds of the command
itself (opening the store included, interpreter start and imports not) and its peak RSS (``VmHWM``: the
kernel's ``ru_maxrss`` of a forked child keeps the parent's peak). One function per command in
:data:`COMMANDS`: add one there to time another command.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from memscore_core.bench.corpus_store import build_corpus_store, corpus_conversation
from memscore_core.bench.targets import Target
from memscore_core.store import Store


def _top(target: str, work: Path) -> None:
    with Store(target) as store:
        store.top_memories(limit=20)


def _show(target: str, work: Path) -> None:
    """What ``memscore show`` reads: the latest result and its run's configuration (``report.run_config``, without
    importing matplotlib with it: imports are not timed)."""
    with Store(target) as store:
        result = store.latest_result(corpus_conversation(7).id)
        assert result is not None
        store.run(result.run_id)


def _weights(target: str, work: Path) -> None:
    from memscore_core.downstream.memory_graph import update_memory_weights

    with Store(target) as store:
        update_memory_weights(store, work / "weights.json")


def _export_sft(target: str, work: Path) -> None:
    from memscore_core.downstream.export import ExportOptions, export_dataset

    with Store(target) as store:
        asyncio.run(export_dataset(store, ExportOptions(format="sft", name="bench"), work / "exports"))


def _maintain(target: str, work: Path) -> None:
    from memscore_core.store.upkeep import maintain

    maintain(Store(target))


COMMANDS: dict[str, Callable[[str, Path], None]] = {
    "top": _top, "show": _show, "weights": _weights, "weights-again": _weights, "export-sft": _export_sft,
    "store-maintain": _maintain}
"""Timed commands, in the order they run (``weights-again`` folds nothing new: the hourly case)."""


QUERY_SECONDS = {"duckdb": 1.0, "ducklake": 3.0}
"""``top``, ``show`` and the hourly ``weights`` (nothing new to fold), at most, per kind of store (issue 23: at 10^7
cells on a DuckDB file; on a DuckLake after upkeep)."""
QUERIES = ("top", "show", "weights-again")


class Timing(BaseModel):
    seconds: float
    peak_rss_mb: float


class SizeReport(BaseModel):
    """One corpus size on one kind of store."""

    conversations: int
    cells: int
    kind: str
    build_seconds: float
    timings: dict[str, Timing]


class CorpusBenchReport(BaseModel):
    sizes: list[SizeReport]
    growth: dict[str, dict[str, float]]
    """Per kind and command: the exponent k in time ∝ conversations^k between the two largest sizes."""


def run_corpus_bench(sizes: list[int], root: Path, *, kinds: tuple[str, ...] = ("duckdb", "ducklake")
                     ) -> CorpusBenchReport:
    """Build each size on each kind of store under ``root`` and time every command of :data:`COMMANDS`."""
    reports = []
    for size in sizes:
        for kind in kinds:
            target = str(root / f"corpus-{size}.duckdb") if kind == "duckdb" else \
                f"ducklake:sqlite:{root / f'corpus-{size}.sqlite'}"
            started = time.monotonic()
            build_corpus_store(target, size)
            if kind == "ducklake":
                timed(["store-maintain"], target, root / f"work-{kind}-{size}-build")
            built = time.monotonic() - started
            timings = timed(list(COMMANDS), target, root / f"work-{kind}-{size}")
            reports.append(SizeReport(conversations=size, cells=size * 100, kind=kind, build_seconds=built,
                                      timings=timings))
    return CorpusBenchReport(sizes=reports, growth=growth(reports))


def timed(commands: list[str], target: str, work: Path) -> dict[str, Timing]:
    """Each command in a process of its own: its seconds and peak RSS."""
    work.mkdir(parents=True, exist_ok=True)
    found = {}
    for name in commands:
        done = subprocess.run([sys.executable, "-m", "memscore_core.bench.corpus_bench", name, target, str(work)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"bench command {name} on {target} exited {done.returncode}: {done.stderr[-3000:]}")
        found[name] = Timing(**json.loads(done.stdout))
    return found


def growth(reports: list[SizeReport]) -> dict[str, dict[str, float]]:
    exponents: dict[str, dict[str, float]] = {}
    for kind in {r.kind for r in reports}:
        mine = sorted((r for r in reports if r.kind == kind), key=lambda r: r.conversations)
        if len(mine) < 2:
            continue
        small, large = mine[-2], mine[-1]
        ratio = math.log(large.conversations / small.conversations)
        exponents[kind] = {name: round(math.log(max(large.timings[name].seconds, 1e-3)
                                                / max(small.timings[name].seconds, 1e-3)) / ratio, 2)
                           for name in large.timings}
    return exponents


def check_corpus_targets(report: CorpusBenchReport) -> list[Target]:
    """Each query command of :data:`QUERIES` at each size and kind within :data:`QUERY_SECONDS`."""
    return [Target(name=f"{size.kind} {name} (s) at {size.conversations:,} conversations",
                   measured=size.timings[name].seconds, required=QUERY_SECONDS[size.kind], at_most=True)
            for size in report.sizes for name in QUERIES if name in size.timings]


def main() -> None:
    """``python -m memscore_core.bench.corpus_bench COMMAND TARGET WORKDIR``: run one command, print its seconds."""
    name, target, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    started = time.perf_counter()
    COMMANDS[name](target, work)
    seconds = time.perf_counter() - started
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


if __name__ == "__main__":
    main()
