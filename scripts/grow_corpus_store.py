"""Grow a synthetic corpus store (a DuckDB file built by `build_corpus_store`) `copies` times in SQL, in minutes
where the builder takes ~40 at 10^5 conversations on two loaded cores:

    python scripts/grow_corpus_store.py STORE.duckdb COPIES

Copy k > 0 of every result's rows (runs, conversations, entries, results, cells, responses, memory summary) gets
ids suffixed `-r{k}` (content hash, conversation id, run id) and its times moved 2,000·k seconds earlier; copy 0
is the store as built. Rows are appended copy by copy, each in the table's stored order (as the builder of the
code before migration 0010 wrote them: times not in write order). Used for `scripts/bench_point_reads.py`.
"""

from __future__ import annotations

import sys
import time

import duckdb

TABLES = ["scoring_runs", "conversations", "entries", "results", "scores", "responses", "memory_summary"]
SUFFIXED = {"content_hash", "conversation_id", "run_id"}
TIMES = {"scored_at", "ingested_at", "started_at", "finished_at"}


def grow(path: str, copies: int) -> list[int]:
    """Append ``copies - 1`` renamed copies of every table's rows; the row count of each table after."""
    con = duckdb.connect(path)
    for table in TABLES:
        con.execute(f"CREATE TEMP TABLE original_{table} AS SELECT * FROM {table}")
    for k in range(1, copies):
        con.execute("BEGIN")
        for table in TABLES:
            columns = [row[0] for row in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
                "ORDER BY ordinal_position", [table]).fetchall()]
            values = [f"{c} || '-r{k}'" if c in SUFFIXED else f"{c} - INTERVAL {2000 * k} SECOND" if c in TIMES
                      else c for c in columns]
            con.execute(f"INSERT INTO {table} SELECT {', '.join(values)} FROM original_{table}")
        con.execute("COMMIT")
    con.execute("CHECKPOINT")
    return [con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES]  # type: ignore[index]


if __name__ == "__main__":
    started = time.perf_counter()
    counts = grow(sys.argv[1], int(sys.argv[2]))
    print(dict(zip(TABLES, counts, strict=True)), f"{time.perf_counter() - started:.0f} s")
