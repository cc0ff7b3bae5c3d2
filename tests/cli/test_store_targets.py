"""The store targets through the command line: a DuckLake on PostgreSQL shared by concurrent `memscore score`
processes, every query command on it, and the seed strategy's extra columns stored and shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store
from tests.support.postgres import PostgresServer, postgres

__all__ = ["postgres"]
SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
PER_KEY = {
    "conversations": "conversation_id, content_hash", "entries": "conversation_id, content_hash, entry_idx",
    "results": "content_hash, model, config_hash", "scores": "content_hash, model, config_hash, memory_idx, column_idx",
    "responses": "content_hash, model, config_hash, column_idx", "scoring_runs": "run_id"}


def memscore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memscore_core.cli", *args], capture_output=True, text=True,
                          timeout=900, cwd=REPO_ROOT, env={**os.environ, **(env or {})})


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "memscore_core.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)


def top(db: str, *extra: str) -> list[dict[str, Any]]:
    done = memscore("top", "--db", db, "--json", "--limit", "1000", *extra)
    assert done.returncode == 0, done.stderr
    return [{k: v for k, v in row.items() if k != "last_scored"} for row in json.loads(done.stdout)]


@pytest.fixture(scope="module")
def lake(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The sample corpus scored on the embedded default into a DuckDB file, then by three concurrent processes
    into one new ducklake:postgres: store; yields (lake target, data path, DuckDB file)."""
    root = tmp_path_factory.mktemp("targets")
    file_db = root / "single.duckdb"
    done = memscore("score", str(SAMPLE), "--db", str(file_db))
    assert done.returncode == 0, done.stderr
    target, data_path = f"ducklake:postgres:{postgres.create_database()}", str(root / "lake-data")
    writers = [start("score", str(SAMPLE), "--db", target, "--data-path", data_path) for _ in range(3)]
    outcomes = [(process.wait(900), process.stderr.read() if process.stderr else "") for process in writers]
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    yield target, data_path, file_db


def test_three_concurrent_score_processes_store_every_row_of_the_corpus_once(lake: tuple[str, str, Path]) -> None:
    target, data_path, _ = lake
    store = Store(target, data_path=data_path)
    with store.connect() as con:
        for table, key in PER_KEY.items():
            assert con.execute(f"SELECT max(n) FROM (SELECT count(*) AS n FROM {table} GROUP BY {key})"
                               ).fetchall() == [(1,)], table
    assert (store.count("results"), store.count("conversations"), store.count("scoring_runs")) == (20, 20, 3)


def test_top_on_the_shared_lake_equals_top_on_a_duckdb_file_of_the_same_corpus(lake: tuple[str, str, Path]) -> None:
    """Same keys, counts and order; sums equal to the last bits (SQL sums of doubles depend on row order)."""
    target, data_path, file_db = lake
    shared, single = top(target, "--data-path", data_path), top(str(file_db))
    assert [(r["memory_key"], r["conversations"]) for r in shared] == [
        (r["memory_key"], r["conversations"]) for r in single]
    assert shared == [{k: pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for k, v in row.items()}
                      for row in single]


def test_every_stored_cell_on_the_shared_lake_equals_the_duckdb_file_bit_for_bit(lake: tuple[str, str, Path]) -> None:
    target, data_path, file_db = lake
    cells = ("SELECT conversation_id, memory_idx, column_idx, memory_key, response_entry_idx, divergence, signed, "
             "tokens FROM scores ORDER BY ALL")
    with Store(target, data_path=data_path).connect() as shared, Store(file_db).connect() as single:
        assert shared.execute(cells).fetchall() == single.execute(cells).fetchall()


def test_every_query_command_reads_the_lake_with_the_data_path_from_the_environment(
        lake: tuple[str, str, Path], tmp_path: Path) -> None:
    target, data_path, _ = lake
    env = {"MEMSCORE_DATA_PATH": data_path, "MEMSCORE_DB": target}
    conversation_id = json.loads(SAMPLE.read_text().splitlines()[0])["id"]
    shown = memscore("show", conversation_id, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["conversation_id"] == conversation_id
    assert memscore("report", conversation_id, "--out", str(tmp_path / "r.html"), env=env).returncode == 0
    listed = memscore("review", "list", "--json", env=env)
    candidates = json.loads(listed.stdout)
    assert listed.returncode == 0 and candidates
    assert memscore("review", "approve", str(candidates[0]["candidate_id"]), env=env).returncode == 0
    exported = memscore("export", "--out", str(tmp_path / "exports"), "--approved-only", env=env)
    assert exported.returncode == 0, exported.stderr
    assert "1 examples" in exported.stderr
    weights = memscore("weights", "--out", str(tmp_path / "weights.json"), env=env)
    assert weights.returncode == 0, weights.stderr


def test_a_new_lake_without_a_data_path_is_one_error_line(postgres: PostgresServer) -> None:
    done = memscore("top", "--db", f"ducklake:postgres:{postgres.create_database()} password=secret")
    assert done.returncode == 1
    assert done.stderr.count("error:") == 1
    assert "password=***" in done.stderr and "secret" not in done.stderr
    assert "a new DuckLake store needs a data path for its Parquet files: --data-path DIR or MEMSCORE_DATA_PATH" \
        in " ".join(done.stderr.split())


def quirk_conversation(index: int) -> dict[str, Any]:
    """User lines that begin with "assistant": the seed's walker finds a response in each of them."""
    return {"id": f"quirk-{index}", "system_prompt": "You remember things.", "entries": [
        {"role": "user", "content": "The user's dog is called Biscuit.", "memory_key": "pets/dog"},
        {"role": "user", "content": "assistant mode: what is my dog called?"},
        {"role": "assistant", "content": "Your dog is called Biscuit."},
        {"role": "user", "content": "The user's city is Varnholt.", "memory_key": "home/city"},
        {"role": "user", "content": "assistant: where do I live?"},
        {"role": "assistant", "content": "You live in Varnholt."},
        {"role": "user", "content": "assistant, name my dog again."},
        {"role": "assistant", "content": "Biscuit, of course."}]}


@pytest.mark.parametrize("kind", ["duckdb", "ducklake"])
def test_seed_on_a_multi_chunk_quirk_corpus_stores_and_prints_every_conversation_with_its_extra_columns(
        kind: str, tmp_path: Path, postgres: PostgresServer) -> None:
    corpus = tmp_path / "quirks.jsonl"
    corpus.write_text("".join(json.dumps(quirk_conversation(i)) + "\n" for i in range(3)))
    db = str(tmp_path / "seed.duckdb") if kind == "duckdb" else f"ducklake:postgres:{postgres.create_database()}"
    args = ["--db", db, "--data-path", str(tmp_path / "lake")]
    done = memscore("score", str(corpus), "--strategy", "seed", "--chunk-tokens", "40", "--json", *args)
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert [p["conversation_id"] for p in printed] == ["quirk-0", "quirk-1", "quirk-2"]
    assert all(p["requests"] == 6 for p in printed)  # two chunks: (2 memories + 1) x 2
    assert all(p["response_entry_indices"][:3] == [2, 5, 7] and None in p["response_entry_indices"] for p in printed)
    shown = memscore("show", "quirk-0", "--json", *args)
    stored = json.loads(shown.stdout)
    assert stored["response_entry_indices"] == printed[0]["response_entry_indices"]
    assert stored["matrix"] == printed[0]["matrix"]
    table = memscore("show", "quirk-0", *args, env={"COLUMNS": "200"})
    assert "seed+3" in table.stdout and "found past the last assistant entry" in table.stdout
