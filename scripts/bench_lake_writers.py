"""Three concurrent writers score one corpus into a DuckLake on PostgreSQL while `memscore store maintain` runs
(issue 23): every row once, `top --json` equal to a DuckDB-file run of the same corpus, data files per table.

    python scripts/bench_lake_writers.py [--conversations 10000] [--no-maintain] [--out docs/bench-lake-writers.json]

A long job (8.5 minutes at 10^4 on two cores, load 4–9), not a test: its output is committed. Each writer is a
`memscore score` process over its third of the files plus half of the next writer's third, so every
conversation is offered to one or two writers; they race on the overlap. The answers come from one
`memscore serve --emulate-gpu --no-forward-pass` (stand-in log-probabilities: the bench is about the store).
The DuckDB-file run reuses the writers' request cache, so it sends no request and its numbers are the same
answers stored a second way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from memscore_core.bench.corpus import BenchShape, bench_conversation  # noqa: E402
from memscore_core.bench.run import emulated_servers  # noqa: E402
from memscore_core.embedded.loopback import free_port  # noqa: E402
from memscore_core.store import Store  # noqa: E402
from memscore_core.store.upkeep import keyed_commits, store_stats  # noqa: E402
from tests.support.postgres import postgres_server  # noqa: E402

WRITERS = 3
PER_FILE = 100
SHAPE = dict(memories=2, chunks=1, responses_per_chunk=2, message_bytes=80)
TABLES = ("conversations", "entries", "results", "scores", "responses")


def write_corpus(folder: Path, conversations: int) -> list[Path]:
    """The corpus in files of ``PER_FILE`` conversations (memscore's JSONL)."""
    shape = BenchShape(conversations=conversations, **SHAPE)
    folder.mkdir(parents=True)
    files = []
    for first in range(0, conversations, PER_FILE):
        path = folder / f"part-{first // PER_FILE:05d}.jsonl"
        path.write_text("".join(bench_conversation(shape, i).model_dump_json(exclude_none=True) + "\n"
                                for i in range(first, min(first + PER_FILE, conversations))))
        files.append(path)
    return files


def shares(files: list[Path]) -> list[list[Path]]:
    """Writer w: its own third of the files and the first half of writer w+1's third."""
    third = -(-len(files) // WRITERS)
    own = [files[w * third:(w + 1) * third] for w in range(WRITERS)]
    return [own[w] + own[(w + 1) % WRITERS][:len(own[(w + 1) % WRITERS]) // 2] for w in range(WRITERS)]


def memscore(*args: str) -> list[str]:
    """The command line of ``memscore ARGS`` in this interpreter."""
    return [sys.executable, "-m", "memscore_core.cli", *args]


def run(args: list[str], env: dict[str, str], work: Path) -> str:
    """Run ``memscore ARGS`` to completion; its stdout (its stderr in the error if it failed)."""
    done = subprocess.run(memscore(*args), env=env, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"memscore {' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def run_writers(shares_: list[list[Path]], store: list[str], url: str, env: dict[str, str], work: Path,
                upkeep: bool = True) -> tuple[float, int, list[int]]:
    """The writers side by side, `store maintain` in a loop while any runs (unless not ``upkeep``); (seconds,
    maintain passes, exit codes)."""
    started = time.perf_counter()
    writers = [subprocess.Popen(memscore("score", *map(str, share), *store, "--base-url", url, "--concurrency", "8"),
                                env=env, cwd=work, stdout=subprocess.DEVNULL,
                                stderr=(work / f"writer-{w}.log").open("w"))
               for w, share in enumerate(shares_)]
    passes = 0
    while any(writer.poll() is None for writer in writers):
        if upkeep:
            run(["store", "maintain", *store, "--retention-hours", "0"], env, work)
            passes += 1
        time.sleep(5.0 if upkeep else 0.2)
    return time.perf_counter() - started, passes, [writer.wait() for writer in writers]


def top_without_dates(store: list[str], env: dict[str, str], work: Path) -> list[dict[str, object]]:
    """`top --json` over every memory, without ``last_scored`` (when each run happened to store it)."""
    rows = json.loads(run(["top", *store, "--json", "--limit", "1000000"], env, work))
    return [{k: v for k, v in row.items() if k != "last_scored"} for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--no-maintain", action="store_true", help="no `store maintain` while the writers write")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench-lake-writers.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="memscore-lake-writers-"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "MEMSCORE_REQUEST_CACHE": str(work / "cache")}
    files = write_corpus(work / "corpus", args.conversations)
    pg_root = Path(tempfile.mkdtemp(prefix="memscore-postgres-"))  # outside `work`: the postgres user enters it
    with postgres_server(pg_root) as pg, emulated_servers(work, [free_port()], prefill_tps=1e9, slots=32,
                                                          forward_pass=False) as urls:
        lake = ["--db", f"ducklake:postgres:{pg.create_database()}", "--data-path", str(work / "lake-data")]
        Store(lake[1], data_path=lake[3])  # the store the fleet writes into exists (three first migrations racing
        # with maintenance is another test: tests/store/test_shared_store.py)
        seconds, passes, codes = run_writers(shares(files), lake, urls[0], env, work,
                                             upkeep=not args.no_maintain)
        run(["store", "maintain", *lake, "--retention-hours", "0"], env, work)
        lake_store = Store(lake[1], data_path=lake[3])
        stats = store_stats(lake_store)
        counts = {table: lake_store.count(table) for table in TABLES}
        commits = keyed_commits(lake_store)
        file_db = ["--db", str(work / "memscore.duckdb")]
        started = time.perf_counter()
        run(["score", str(work / "corpus"), *file_db, "--base-url", urls[0], "--concurrency", "8"], env, work)
        file_seconds = time.perf_counter() - started
        file_store = Store(file_db[1])
        file_counts = {table: file_store.count(table) for table in TABLES}
        same_top = top_without_dates(lake, env, work) == top_without_dates(file_db, env, work)
    shape = BenchShape(conversations=args.conversations, **SHAPE)
    report = {
        "conversations": args.conversations, "files": len(files), "writers": WRITERS,
        "offered": sum(len(share) for share in shares(files)) * PER_FILE,
        "maintain_while_writing": not args.no_maintain,
        "writer_exit_codes": codes, "writers_seconds": round(seconds, 1), "maintain_passes_while_writing": passes,
        "file_run_seconds": round(file_seconds, 1),
        "keyed_commits": commits,
        "rows": counts, "rows_duckdb_file": file_counts,
        "expected_scores": args.conversations * shape.memories * shape.responses_per_chunk,
        "every_row_once": counts == file_counts and counts["results"] == args.conversations,
        "top_json_equal": same_top,
        "data_files_per_table": {table.table: table.files for table in stats.tables},
        "snapshots_after_maintain": stats.snapshots,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
