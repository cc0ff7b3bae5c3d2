"""The hourly run over a growing archive, timed side by side at several archive sizes.

For each size, an archive of JSONL files (``per_file`` conversations each, ~1.6 KB per conversation) is
written and read once, and its files recorded in the manifest as a run that stored them would record
them. Then, measured: the hourly run with nothing new (the scoring lifecycle, from opening the store to
recording what was read; the best of ``repeats``), and the read of a run after ``new_fraction`` of the
files were added (bytes read against the new files' size). Results are not scored here: the store holds
the manifest alone, so these numbers are the reading side of the run (issue 23's acceptance: at 10^5
conversations in 1,000 files the no-op run ≤ 2 s and ≤ 1.5× the run at 10^3; bytes read ≤ 1.1× the new
files).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from memscore_core.config import ScoringConfig
from memscore_core.formats import InputOptions
from memscore_core.formats.loading import LoadedConversation
from memscore_core.scoring.incremental import SourceReading
from memscore_core.scoring.outcome import Outcome
from memscore_core.scoring.run import RunSummary, run_scoring
from memscore_core.store import Store

MODEL = "archive-bench"
CONFIG = ScoringConfig()
OPTIONS = InputOptions()
MEMORIES = 10
TURNS = 10


@dataclass(frozen=True)
class ArchiveTiming:
    """One archive size: the no-op hourly run, and the read after ``new_files`` files were added."""

    conversations: int
    files: int
    archive_bytes: int
    noop_seconds: float
    noop_bytes_read: int
    new_files: int
    new_bytes: int
    new_bytes_read: int
    new_read_seconds: float

    @property
    def read_ratio(self) -> float:
        """Bytes the run after the addition read, per byte added."""
        return self.new_bytes_read / self.new_bytes if self.new_bytes else 0.0


def archive_line(seed: int, index: int) -> bytes:
    """One conversation of the archive as a JSONL line: ``MEMORIES`` memories, then ``TURNS`` questions."""
    rng = random.Random(seed * 1_000_003 + index)
    entries: list[dict[str, str]] = [{"role": "user", "content": f"Remember: fact {key} says {rng.randrange(10**6)}.",
                                      "memory_key": f"topic-{key % 50:02d}/fact-{key:04d}"}
                                     for key in rng.sample(range(5000), MEMORIES)]
    for turn in range(TURNS):
        entries += [{"role": "user", "content": f"Turn {turn}: what does fact {rng.randrange(5000)} say?"},
                    {"role": "assistant", "content": f"It says something about turn {turn}."}]
    return orjson.dumps({"id": f"archive-{seed}-{index:08d}", "entries": entries}) + b"\n"


def write_files(directory: Path, first: int, files: int, per_file: int, seed: int = 0) -> int:
    """Files ``first`` … ``first + files - 1`` of the archive; their bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for number in range(first, first + files):
        data = b"".join(archive_line(seed, number * per_file + i) for i in range(per_file))
        (directory / f"part-{number:06d}.jsonl").write_bytes(data)
        written += len(data)
    return written


def archive_timings(root: Path, sizes: Sequence[int] = (1_000, 100_000), *, per_file: int = 100,
                    new_fraction: float = 0.01, repeats: int = 3) -> list[ArchiveTiming]:
    """Each size's :class:`ArchiveTiming`, archives and DuckDB stores under ``root``."""
    return [_timing(root / f"archive-{size}", size, per_file, new_fraction, repeats) for size in sizes]


def growth(timings: Sequence[ArchiveTiming]) -> dict[str, Any]:
    """Every size's figures, and the no-op run at the largest size over the smallest."""
    return {"sizes": [asdict(timing) | {"read_ratio": timing.read_ratio} for timing in timings],
            "noop_growth": timings[-1].noop_seconds / timings[0].noop_seconds}


def _timing(folder: Path, size: int, per_file: int, new_fraction: float, repeats: int) -> ArchiveTiming:
    files = max(1, size // per_file)
    source, target = folder / "files", str(folder / "store.duckdb")
    archive_bytes = write_files(source, 0, files, per_file)
    _prime(target, source)
    noop = [_hourly(target, source) for _ in range(repeats)]
    new_files = max(1, round(files * new_fraction))
    new_bytes = write_files(source, files, new_files, per_file)
    started = time.perf_counter()
    read = _reading(Store(target)).read([source], OPTIONS)
    new_seconds = time.perf_counter() - started
    return ArchiveTiming(conversations=files * per_file, files=files, archive_bytes=archive_bytes,
                         noop_seconds=min(seconds for seconds, _ in noop), noop_bytes_read=max(b for _, b in noop),
                         new_files=new_files, new_bytes=new_bytes, new_bytes_read=read.bytes_read,
                         new_read_seconds=new_seconds)


def _reading(store: Store) -> SourceReading:
    return SourceReading.open(store, model=MODEL, config=CONFIG, options=OPTIONS)


def _prime(target: str, source: Path) -> None:
    """Read the whole archive once and record it, as the run that scored it would."""
    reading = _reading(Store(target))
    read = reading.read([source], OPTIONS)
    summary = RunSummary(run_id="archive-bench-prime", model=MODEL, loaded=len(read.loaded.conversations),
                         invalid=0, skipped=len(read.loaded.conversations))
    reading.settle(read, read.loaded, summary)


def _hourly(target: str, source: Path) -> tuple[float, int]:
    """One hourly run with nothing new, timed from opening the store: (seconds, bytes read)."""
    started = time.perf_counter()
    store = Store(target)
    reading = _reading(store)
    read = reading.read([source], OPTIONS)
    summary = asyncio.run(run_scoring(read.loaded, store, CONFIG, _nothing_to_score, model=MODEL,
                                      backend_name="archive-bench"))
    reading.settle(read, read.loaded, summary)
    return time.perf_counter() - started, read.bytes_read


async def _nothing_to_score(part: Sequence[LoadedConversation]) -> list[Outcome]:
    raise AssertionError(f"the hourly run over an unchanged archive scored {len(part)} conversations")
