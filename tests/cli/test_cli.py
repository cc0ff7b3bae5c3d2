"""The command line: exit codes, messages, and what the commands read from and write to the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.settings import REPO_ROOT
from tests.support.servers import metric

SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"


def memscore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memscore_core.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO_ROOT, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def scored(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, float]]:
    """The sample corpus scored once into a fresh file; yields (db, requests that took)."""
    db = tmp_path_factory.mktemp("cli") / "cli.duckdb"
    before = metric(server, "vllm:request_success_total")
    done = memscore("score", str(SAMPLE), "--base-url", server, "--db", str(db), "--no-cache")
    assert done.returncode == 0, done.stderr
    yield db, metric(server, "vllm:request_success_total") - before


def test_scoring_the_same_corpus_again_sends_no_requests(server: str, scored: tuple[Path, float]) -> None:
    db, first = scored
    before = metric(server, "vllm:request_success_total")
    done = memscore("score", str(SAMPLE), "--base-url", server, "--db", str(db), "--no-cache")
    assert done.returncode == 0
    assert first > 0 and metric(server, "vllm:request_success_total") == before
    assert "scored 0, skipped 20 already scored (--rescore to score again)" in " ".join(done.stderr.split())


def test_top_json_lists_memory_keys_by_importance_with_the_stored_numbers(scored: tuple[Path, float]) -> None:
    db, _ = scored
    listed = json.loads(memscore("top", "--db", str(db), "--json", "--limit", "1000").stdout)
    with duckdb.connect(str(db), read_only=True) as con:
        sums = dict(con.execute("SELECT memory_key, sum(divergence) FROM scores GROUP BY memory_key").fetchall())
    assert [row["importance"] for row in listed] == sorted((row["importance"] for row in listed), reverse=True)
    assert {row["memory_key"]: pytest.approx(row["importance"]) for row in listed} == sums
    assert all({"memory_key", "importance", "conversations"} <= set(row) for row in listed)


JSON_KEYS = {"conversation_id", "memory_keys", "memory_entry_indices", "response_entry_indices", "matrix",
             "signed_matrix", "memory_weights", "response_scores", "drop_all", "requests", "prompt_tokens"}


def test_score_json_prints_one_object_per_conversation_and_a_rerun_prints_the_same_stored_results(
        server: str, tmp_path: Path) -> None:
    args = ("score", str(SAMPLE), "--base-url", server, "--db", str(tmp_path / "json.duckdb"), "--json", "--no-cache")
    first, again = memscore(*args), memscore(*args)
    assert first.returncode == again.returncode == 0
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert [line["conversation_id"] for line in lines] == [json.loads(row)["id"] for row in SAMPLE.open()]
    assert all(set(line) >= JSON_KEYS for line in lines)
    assert [json.loads(line) for line in again.stdout.splitlines()] == lines
    assert "skipped 20 already scored" in " ".join(again.stderr.split())


def test_show_prints_the_matrix_and_each_responses_top_memories(scored: tuple[Path, float]) -> None:
    db, _ = scored
    done = memscore("show", "synth-2026-00000", "--db", str(db))
    assert done.returncode == 0
    assert "memory key" in done.stdout and "importance" in done.stdout


def test_show_of_an_unknown_conversation_exits_1_with_a_clear_message(scored: tuple[Path, float]) -> None:
    done = memscore("show", "nope", "--db", str(scored[0]))
    assert (done.returncode, done.stderr.strip()) == (1, "error: no scores for conversation 'nope'")


def test_querying_a_missing_database_exits_1_naming_it(tmp_path: Path) -> None:
    done = memscore("top", "--db", str(tmp_path / "missing.duckdb"))
    assert done.returncode == 1
    assert f"{tmp_path / 'missing.duckdb'}: no such database" in " ".join(done.stderr.split())


def test_invalid_input_is_reported_by_file_and_line_and_the_rest_is_scored(server: str, tmp_path: Path) -> None:
    source = tmp_path / "mixed.jsonl"
    good = SAMPLE.read_text().splitlines()[0]
    source.write_text(good + "\n" + '{"id": "bad", "entries": [{"role": "robot", "content": "x"}]}\n')
    done = memscore("score", str(source), "--base-url", server, "--db", str(tmp_path / "mixed.duckdb"))
    assert done.returncode == 1
    stderr = " ".join(done.stderr.split())
    assert f"{source}:2" in stderr and "'bad'" in stderr and "entries[0].role" in stderr
    assert "scored 1" in stderr


def test_an_unreachable_server_exits_1_with_one_line_naming_its_url_without_credentials(tmp_path: Path) -> None:
    done = memscore("score", str(SAMPLE), "--base-url", "http://ops:hunter2-secret@127.0.0.1:9/v1", "--db",
                    str(tmp_path / "x.duckdb"), "--no-cache", env={"MEMSCORE_RETRIES": "1"})
    assert (done.returncode, done.stderr.strip().splitlines()[-1]) == (
        1, "error: GET http://127.0.0.1:9/v1/models: connection failed (ConnectError)")
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr


def test_an_invalid_setting_in_the_environment_exits_1_naming_the_setting(tmp_path: Path) -> None:
    done = memscore("score", str(SAMPLE), "--db", str(tmp_path / "x.duckdb"), env={"MEMSCORE_CONCURRENCY": "0"})
    assert (done.returncode, done.stderr.strip()) == (
        1, "error: invalid concurrency: Input should be greater than or equal to 1")


@pytest.mark.parametrize("option", ["--concurrency", "--chunk-tokens", "--window"])
def test_an_option_below_its_range_exits_2_naming_the_option(option: str) -> None:
    result = CliRunner().invoke(app, ["score", str(SAMPLE), option, "0"])
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output


@pytest.mark.parametrize("command", sorted(c.name or "" for c in app.registered_commands) + ["review"])
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
