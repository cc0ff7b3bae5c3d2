"""Store upkeep: small commits inlined, `store maintain` tidying a DuckLake while writers write, `store stats`."""

from __future__ import annotations

import json
import multiprocessing
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.errors import StoreError
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store
from memscore_core.store.upkeep import maintain, store_stats
from tests.store.conftest import conversation, rows, score_of
from tests.store.test_shared_store import write
from tests.support.postgres import PostgresServer

PER_KEY = {"conversations": "conversation_id, content_hash", "entries": "conversation_id, content_hash, entry_idx",
           "results": "content_hash, model, config_hash",
           "scores": "content_hash, model, config_hash, memory_idx, column_idx",
           "responses": "content_hash, model, config_hash, column_idx", "scoring_runs": "run_id"}


def files_of(store: Store) -> dict[str, int]:
    return {table.table: table.files for table in store_stats(store).tables}


def test_small_commits_each_make_a_file_and_maintain_merges_them_into_one_file_per_table(tmp_path: Path) -> None:
    store = Store(f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}")
    for n in range(10):
        conv = conversation(f"c{n}")
        write(store, conv, score_of(conv, [[1.0 + n, 0.0], [0.5, 2.0]]))
    assert files_of(store)["scores"] == 10
    top = store.top_memories()
    report = maintain(store, retention=timedelta(0))
    assert report.after.snapshots == 1 and report.before.snapshots is not None and report.before.snapshots > 30
    assert max(files_of(store).values()) == 1
    assert (store.count("scores"), store.top_memories()) == (40, top)


def test_maintain_checkpoints_a_duckdb_file_and_reports_its_size(tmp_path: Path) -> None:
    store = Store(tmp_path / "memscore.duckdb")
    conv = conversation()
    write(store, conv, score_of(conv, [[3.0, 0.0], [0.5, 2.0]]))
    report = maintain(store)
    assert report.steps == ["checkpoint"]
    assert report.after.bytes == (tmp_path / "memscore.duckdb").stat().st_size
    assert {t.table: t.rows for t in report.after.tables}["scores"] == 4


KEYS = 30


def _write_keys(target: str, data_path: str, worker: int) -> None:
    """One writer as a scoring run writes: results in batches of 5 (one by one when a batch keeps losing races), a
    pause between batches; its own third of the keys and half of the next writer's, in its own order."""
    store = Store(target, data_path=data_path)
    order = [(worker * KEYS // 3 + n) % KEYS for n in range(KEYS // 2)]
    random.Random(worker).shuffle(order)
    run_id = store.record_run_start(model="tiny", backend="embedded", strategy="exact", config={}, config_hash="cfg")
    for start in range(0, len(order), 5):
        scored = [(conv, score_of(conv, [[3.0 + n, 0.0], [0.5, 2.0]]))
                  for n in order[start:start + 5] for conv in [conversation(f"c{n}")]]
        try:
            store.write(lambda _, batch=scored: _store_all(store, run_id, batch), keyed=False, attempts=3)
        except StoreError:
            for item in scored:
                _store_all(store, run_id, [item])
        time.sleep(0.3)
    store.record_run_finish(run_id, status="completed", requests=0, prompt_tokens=0)


def _store_all(store: Store, run_id: str, scored: list[tuple[Conversation, ConversationScore]]) -> None:
    for conv, score in scored:
        store.upsert_conversation(conv, score.content_hash, "convs.jsonl")
        store.write_result(run_id, score, "cfg")


def test_maintain_while_three_writers_write_leaves_every_row_once(postgres: PostgresServer, tmp_path: Path) -> None:
    target, data_path = f"ducklake:postgres:{postgres.create_database()}", str(tmp_path / "lake-data")
    store = Store(target, data_path=data_path)
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_keys, args=(target, data_path, w)) for w in range(3)]
    for process in writers:
        process.start()
    passes = 0
    while passes < 3 and any(process.is_alive() for process in writers):
        maintain(store, retention=timedelta(0))
        passes += 1
        time.sleep(1.0)
    for process in writers:
        process.join(300)
    assert [process.exitcode for process in writers] == [0, 0, 0]
    assert passes >= 2
    for table, key in PER_KEY.items():
        assert rows(store, f"SELECT max(n) FROM (SELECT count(*) AS n FROM {table} GROUP BY {key})") == [(1,)], table
    assert [store.count(t) for t in ("results", "scores", "scoring_runs")] == [KEYS, 4 * KEYS, 3]
    maintain(store, retention=timedelta(0))
    assert max(files_of(store).values()) == 1  # every table merged into one file


def _rescore_while_maintain_runs(postgres: PostgresServer, tmp_path: Path, *, retention_hours: str = "24",
                                 passes: int = 1) -> None:
    """Rescore a result in one transaction while other processes run `store maintain` ``passes`` times (the first
    merges its table), another writer committing before each later pass: the rescore loses the race, runs again,
    and every row is there once with the new numbers."""
    target, data_path = f"ducklake:postgres:{postgres.create_database()}", str(tmp_path / "lake-data")
    store = Store(target, data_path=data_path)
    first, second = conversation("c0"), conversation("c1")
    run_id = write(store, first, score_of(first, [[1.0, 0.0], [0.5, 2.0]]))
    maintain(store, quiet=timedelta(0))  # flushes what migrations inlined: the pass below only merges
    write(store, second, score_of(second, [[1.0, 0.0], [0.5, 2.0]]))  # a second file in each table: worth merging
    rescored = score_of(first, [[9.0, 0.0], [0.5, 2.0]])
    lake = ["--db", target, "--data-path", data_path]
    another_writer = ("import sys; from memscore_core.store import Store; Store(sys.argv[1], data_path=sys.argv[2])"
                      ".record_run_start(model='m', backend='b', strategy='exact', config={}, config_hash='other')")

    def rescore_while_maintain_runs(_: object) -> None:  # one transaction: the rescore, then other processes' work
        store.write_results(run_id, [rescored], "cfg")
        for n in range(passes):
            if n:
                subprocess.run([sys.executable, "-c", another_writer, target, data_path], check=True,
                               capture_output=True, timeout=120, cwd=REPO_ROOT)
            subprocess.run([sys.executable, "-m", "memscore_core.cli", "store", "maintain", *lake,
                            "--retention-hours", retention_hours], check=True, capture_output=True, timeout=120,
                           cwd=REPO_ROOT)

    with pytest.raises(StoreError, match="compacted it"):
        store.write(rescore_while_maintain_runs, keyed=False, attempts=1)
    store.write_results(run_id, [rescored], "cfg")
    for table, key in PER_KEY.items():
        assert rows(store, f"SELECT max(n) FROM (SELECT count(*) AS n FROM {table} GROUP BY {key})") == [(1,)], table
    assert rows(store, "SELECT max(divergence) FROM scores WHERE conversation_id = 'c0'") == [(9.0,)]


def test_a_result_rescored_while_maintain_compacts_its_table_loses_the_race_instead_of_coming_back_twice(
        postgres: PostgresServer, tmp_path: Path) -> None:
    _rescore_while_maintain_runs(postgres, tmp_path)


def test_a_rescore_loses_the_race_even_when_a_later_maintain_pass_expires_every_old_snapshot(
        postgres: PostgresServer, tmp_path: Path) -> None:
    """Expiring the snapshots committed after a writer's transaction began erases the compaction it must conflict
    with (duckdb/ducklake#1472): while writers write, no snapshot younger than `QUIET` is expired."""
    _rescore_while_maintain_runs(postgres, tmp_path, retention_hours="0", passes=2)


def test_store_stats_and_maintain_print_json_through_the_command_line(tmp_path: Path) -> None:
    target = f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}"
    conv = conversation()
    write(Store(target), conv, score_of(conv, [[3.0, 0.0], [0.5, 2.0]]))
    runner = CliRunner()
    stats = runner.invoke(app, ["store", "stats", "--db", target, "--json"])
    assert stats.exit_code == 0, stats.output
    assert {t["table"]: t["rows"] for t in json.loads(stats.stdout)["tables"]}["scores"] == 4
    done = runner.invoke(app, ["store", "maintain", "--db", target, "--json", "--retention-hours", "0"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["steps"] == ["rewrite files with deletions", "merge adjacent files", "expire snapshots",
                               "clean up old files"]  # a keyed commit a moment ago: no flush, keyed_writes untouched
    assert report["left_alone"] == ["keyed_writes"]
    assert report["after"]["snapshots"] == 1

