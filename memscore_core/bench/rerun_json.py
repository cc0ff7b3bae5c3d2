"""``memscore score --json`` over an archive whose every conversation is already scored, timed side by side at
several sizes (issue 23's acceptance: 10^4 conversations ≤ 10 s, a constant number of store connections).

For each size, the corpus store's conversations (:mod:`memscore_core.bench.corpus_store`) are written as an
archive of JSONL files and their results stored under the embedded default model and the default configuration,
exactly the key ``memscore score`` looks for; then ``memscore score ARCHIVE --db STORE --json`` runs in a process
of its own (interpreter start and imports included: what a user waits for) and must print every stored result.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from memscore_core.bench.corpus_store import CorpusShape, build_corpus, write_archive
from memscore_core.bench.targets import Target
from memscore_core.config import ScoringConfig
from memscore_core.scoring.opening import open_scorer
from memscore_core.settings import REPO_ROOT, Settings
from memscore_core.store import Store

TARGET_SECONDS = 10.0
TARGET_SIZE = 10_000


class RerunTiming(BaseModel):
    """One archive size: the ``score --json`` rerun's wall and CPU seconds, and the results it printed."""

    conversations: int
    files: int
    seconds: float
    cpu_seconds: float
    printed: int


class RerunReport(BaseModel):
    """Every size's rerun, smallest first."""

    timings: list[RerunTiming]


def run_rerun_bench(root: Path, sizes: Sequence[int] = (1_000, TARGET_SIZE), *, per_file: int = 100) -> RerunReport:
    """:func:`rerun_timings` as a report."""
    return RerunReport(timings=rerun_timings(root, sizes, per_file=per_file))


def check_rerun_targets(report: RerunReport) -> list[Target]:
    """The rerun at :data:`TARGET_SIZE` conversations or more within :data:`TARGET_SECONDS`, and every size printing
    every stored result."""
    targets = [Target(name=f"score --json rerun of {t.conversations:,} conversations, seconds", measured=t.seconds,
                      required=TARGET_SECONDS, at_most=True) for t in report.timings if t.conversations >= TARGET_SIZE]
    return targets + [Target(name=f"results printed of {t.conversations:,}", measured=t.printed,
                             required=t.conversations) for t in report.timings]


async def _default_model() -> str:
    """The model name ``memscore score`` records on the embedded default (no weights are loaded for it)."""
    async with open_scorer(ScoringConfig(), Settings()) as scorer:
        return scorer.model


def rerun_timings(root: Path, sizes: Sequence[int] = (1_000, TARGET_SIZE), *,
                  per_file: int = 100) -> list[RerunTiming]:
    """Each size's :class:`RerunTiming`, archives and DuckDB stores under ``root``."""
    model = asyncio.run(_default_model())
    return [_timing(root / f"rerun-{size}", size, per_file, model) for size in sizes]


def _timing(folder: Path, size: int, per_file: int, model: str) -> RerunTiming:
    files = write_archive(folder / "files", size, per_file=per_file)
    target = folder / "store.duckdb"
    build_corpus(Store(target), CorpusShape(conversations=size, models=[model], config_hash=ScoringConfig().hash()))
    command = [sys.executable, "-m", "memscore_core.cli", "score", str(folder / "files"), "--db", str(target),
               "--json", "--no-cache"]
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, capture_output=True, cwd=REPO_ROOT, check=False)
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"memscore score --json exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return RerunTiming(conversations=size, files=len(files), seconds=seconds, cpu_seconds=cpu,
                       printed=done.stdout.count(b"\n"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
