"""``memscore score`` reads only what is new: new files and appended JSONL tails; the manifest says what was read."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from memscore_core.settings import REPO_ROOT
from tests.cli.test_cli import memscore
from tests.support.servers import metric

SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
LETTA = REPO_ROOT / "data" / "examples" / "letta-agent.af"
REQUESTS = "vllm:request_success_total"
LINES = SAMPLE.read_text().splitlines(keepends=True)


def score(server: str, source: Path, db: Path, *options: str) -> tuple[str, float]:
    """``memscore score SOURCE`` on the loopback server; (its stderr on one line, requests it sent)."""
    before = metric(server, REQUESTS)
    done = memscore("score", str(source), "--base-url", server, "--db", str(db), "--no-cache", *options)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stderr.split()), metric(server, REQUESTS) - before


def manifest(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT path, size, consumed, conversations, vanished_at IS NOT NULL FROM source_files "
                           "ORDER BY path").fetchall()


def test_a_rerun_over_an_unchanged_folder_reads_no_file_and_sends_nothing(server: str, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text("".join(LINES[:2]))
    db = tmp_path / "s.duckdb"
    score(server, tmp_path / "in", db)
    said, sent = score(server, tmp_path / "in", db)
    assert sent == 0 and "scored 0, skipped 2 already scored" in said
    assert "2 conversations read by earlier runs" in said


def test_a_conversation_appended_to_a_scored_file_is_the_only_one_read_and_scored(server: str, tmp_path: Path) -> None:
    source, db = tmp_path / "a.jsonl", tmp_path / "s.duckdb"
    source.write_text("".join(LINES[:2]))
    score(server, source, db)
    with source.open("a") as handle:
        handle.write(LINES[2])
    said, sent = score(server, source, db)
    assert sent > 0 and "scored 1, skipped 2 already scored" in said
    assert manifest(db) == [(str(source), source.stat().st_size, source.stat().st_size, 3, False)]


def test_a_rewritten_file_is_read_again_whole(server: str, tmp_path: Path) -> None:
    source, db = tmp_path / "a.jsonl", tmp_path / "s.duckdb"
    source.write_text("".join(LINES[:3]))
    score(server, source, db)
    source.write_text(LINES[0] + LINES[3])
    said, _ = score(server, source, db)
    assert "scored 1, skipped 1 already scored" in said and "read by earlier runs" not in said
    assert manifest(db)[0][2:4] == (source.stat().st_size, 2)


def test_a_vanished_file_is_noted_and_its_results_kept(server: str, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    gone, stays = tmp_path / "in" / "gone.jsonl", tmp_path / "in" / "stays.jsonl"
    gone.write_text(LINES[0])
    stays.write_text(LINES[1])
    db = tmp_path / "s.duckdb"
    score(server, tmp_path / "in", db)
    gone.unlink()
    said, sent = score(server, tmp_path / "in", db)
    assert sent == 0 and "scored 0, skipped 1 already scored" in said
    assert [(row[0], row[4]) for row in manifest(db)] == [(str(gone), True), (str(stays), False)]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM results").fetchone() == (2,)


def test_full_scan_reads_every_file_again(server: str, tmp_path: Path) -> None:
    source, db = tmp_path / "a.jsonl", tmp_path / "s.duckdb"
    source.write_text("".join(LINES[:2]))
    score(server, source, db)
    said, sent = score(server, source, db, "--full-scan")
    assert sent == 0 and "scored 0, skipped 2 already scored" in said and "read by earlier runs" not in said


def test_a_letta_agent_file_is_scored_once_and_read_again_only_when_it_changes(server: str, tmp_path: Path) -> None:
    agent, db = tmp_path / "agent.af", tmp_path / "s.duckdb"
    shutil.copy(LETTA, agent)
    score(server, agent, db)
    said, sent = score(server, agent, db)
    assert sent == 0 and "1 conversations read by earlier runs" in said
    agent.write_text(agent.read_text() + "\n")
    said, sent = score(server, agent, db)
    assert sent == 0 and "scored 0, skipped 1 already scored" in said and "read by earlier runs" not in said
