"""The score-conversations flow reads only what is new, as ``memscore score`` does, and ``full_scan`` reads all."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from memscore_core.synth.generator import generate_corpus
from tests.flows.test_score_flow import REQUESTS, run_flow
from tests.support.servers import metric

pytestmark = pytest.mark.prefect


def lines(n: int) -> list[str]:
    return [conversation.model_dump_json() + "\n" for conversation in generate_corpus(n, seed=41)]


def manifest(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT path, consumed, conversations, run_id FROM source_files").fetchall()


def test_a_flow_run_over_an_appended_file_reads_and_scores_only_the_tail(tmp_path: Path, server: str) -> None:
    source, db = tmp_path / "grow.jsonl", tmp_path / "grow.duckdb"
    records = lines(3)
    source.write_text("".join(records[:2]))
    first = run_flow(source=str(source), db=str(db), base_url=server)
    with source.open("a") as handle:
        handle.write(records[2])
    before = metric(server, REQUESTS)
    second = run_flow(source=str(source), db=str(db), base_url=server)
    assert (second["loaded"], second["skipped"], second["scored"]) == (3, 2, 1)
    assert metric(server, REQUESTS) - before == second["requests"] > 0
    assert manifest(db) == [(str(source), source.stat().st_size, 3, second["run_id"])]
    assert first["run_id"] != second["run_id"]


def test_a_flow_rerun_over_unchanged_files_records_nothing_and_a_full_scan_reads_them_again(
        tmp_path: Path, server: str) -> None:
    source, db = tmp_path / "same.jsonl", tmp_path / "same.duckdb"
    source.write_text("".join(lines(2)))
    first = run_flow(source=str(source), db=str(db), base_url=server)
    again = run_flow(source=str(source), db=str(db), base_url=server)
    assert (again["skipped"], again["requests"]) == (2, 0)
    assert [row[3] for row in manifest(db)] == [first["run_id"]]
    full = run_flow(source=str(source), db=str(db), base_url=server, full_scan=True)
    assert (full["skipped"], full["requests"]) == (2, 0)
    assert [row[3] for row in manifest(db)] == [full["run_id"]]
