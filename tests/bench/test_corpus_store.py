"""The corpus-scale store builder: realistic shapes written directly, readable by every query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memscore_core.bench.corpus_bench import COMMANDS
from memscore_core.bench.corpus_store import CONFIG_HASH, MODEL, build_corpus_store, corpus_conversation
from memscore_core.cli import app
from memscore_core.model.result import content_hash
from memscore_core.store import Store


@pytest.mark.parametrize("kind", ["duckdb", "ducklake-sqlite"])
def test_a_built_corpus_has_every_row_of_its_shape(kind: str, tmp_path: Path) -> None:
    target = str(tmp_path / "c.duckdb") if kind == "duckdb" else f"ducklake:sqlite:{tmp_path / 'c.sqlite'}"
    build_corpus_store(target, 12, seed=1, memories=4, responses=3)
    store = Store(target)
    assert [store.count(t) for t in ("conversations", "entries", "results", "scores", "responses")] == [
        12, 12 * (4 + 2 * 3), 12, 12 * 4 * 3, 12 * 3]


def test_a_built_result_reads_back_as_its_conversation_scored(tmp_path: Path) -> None:
    build_corpus_store(str(tmp_path / "c.duckdb"), 5, seed=2)
    conversation = corpus_conversation(3, seed=2)
    stored = Store(tmp_path / "c.duckdb").result(content_hash(conversation), MODEL, CONFIG_HASH)
    assert stored is not None
    assert [e.content for e in stored.entries] == [e.content for e in conversation.entries]
    assert stored.memory_keys == [e.memory_key for e in conversation.entries if e.memory_key]
    assert stored.response_entry_indices == [i for i, e in enumerate(conversation.entries) if e.role == "assistant"]
    assert stored.response_scores == pytest.approx([sum(column) for column in zip(*stored.matrix, strict=True)])


def test_bench_corpus_times_every_store_command_at_each_size_against_its_targets(tmp_path: Path) -> None:
    out = tmp_path / "bench-corpus.json"
    done = CliRunner().invoke(app, ["bench", "corpus", "20,40", "--out", str(out), "--json"])
    assert done.exit_code in (0, 1) and done.exception is None or isinstance(done.exception, SystemExit), \
        (done.output, done.exception)
    report = json.loads(out.read_text())
    targets = json.loads(done.stdout)["targets"]
    assert done.exit_code == (0 if all(t["met"] for t in targets) else 1), done.output
    assert {t["required"] for t in targets} == {1.0, 3.0} and len(targets) == 4 * 3
    assert [(s["kind"], s["conversations"]) for s in report["sizes"]] == [
        ("duckdb", 20), ("ducklake", 20), ("duckdb", 40), ("ducklake", 40)]
    assert set(report["sizes"][0]["timings"]) == set(COMMANDS)
    assert all(t["peak_rss_mb"] > 0 for s in report["sizes"] for t in s["timings"].values())
    assert set(report["growth"]) == {"duckdb", "ducklake"}
