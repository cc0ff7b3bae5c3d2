"""Exports, review and memory weights over a real DuckDB file holding hand-built scores."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.downstream.export import ExportOptions, export_dataset
from memscore_core.downstream.weights import asymmetric_update, fold_observations
from memscore_core.errors import StoreError
from memscore_core.store import Store
from memscore_core.store.downstream import (
    WeightRow,
    list_candidates,
    memory_observations,
    memory_weights,
    refresh_candidates,
    save_memory_weights,
    set_status,
)
from tests.store.conftest import conversation, score_of


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Two conversations: the first answer leans on pets/dog (drop_all 5 over 4 tokens), the second on none."""
    store = Store(tmp_path / "memscore.duckdb")
    for conv_id in ("conv-1", "conv-2"):
        conv = conversation(conv_id)
        score = score_of(conv, [[3.0, 0.0], [0.5, 2.0]])
        run_id = store.record_run_start(model="tiny", backend="embedded", strategy="exact", config={},
                                        config_hash="cfg")
        store.upsert_conversation(conv, score.content_hash, "convs.jsonl")
        store.write_result(run_id, score, "cfg")
    return store


def export(store: Store, tmp_path: Path, **options: object) -> tuple[Path, dict[str, object]]:
    directory, manifest = asyncio.run(export_dataset(store, ExportOptions(**options), tmp_path / "exports"))
    return directory, manifest.model_dump()


def test_candidates_are_responses_whose_per_token_dependence_passes_the_threshold(store: Store) -> None:
    assert refresh_candidates(store, threshold=1.0) == 2
    candidates = list_candidates(store)
    assert {(c.conversation_id, c.response_entry_idx, c.dependence) for c in candidates} == {
        ("conv-1", 3, 1.25), ("conv-2", 3, 1.25)}
    assert {c.status for c in candidates} == {"pending"}


def test_refreshing_candidates_keeps_review_decisions(store: Store) -> None:
    refresh_candidates(store, threshold=0.1)
    first = list_candidates(store)[0]
    set_status(store, [first.candidate_id], "rejected")
    assert refresh_candidates(store, threshold=0.1) == 0
    assert {c.candidate_id: c.status for c in list_candidates(store)}[first.candidate_id] == "rejected"


def test_auto_approve_admits_candidates_above_its_threshold(store: Store) -> None:
    refresh_candidates(store, threshold=0.1, auto_approve=1.0)
    assert {(c.response_entry_idx, c.status) for c in list_candidates(store)} == {(3, "approved"), (5, "pending")}


def test_reviewing_an_unknown_candidate_is_an_error_and_changes_nothing(store: Store) -> None:
    refresh_candidates(store, threshold=0.1)
    known = list_candidates(store)[0].candidate_id
    with pytest.raises(StoreError, match="no candidate with id 999"):
        set_status(store, [known, 999], "approved")
    assert {c.status for c in list_candidates(store)} == {"pending"}


def test_sft_examples_strip_memories_and_target_the_stored_response(store: Store, tmp_path: Path) -> None:
    directory, manifest = export(store, tmp_path, format="sft", threshold=1.0)
    records = [json.loads(line) for line in (directory / "train.jsonl").read_text().splitlines()]
    assert manifest["n_examples"] == len(records) == 2
    for record in records:
        contents = [m["content"] for m in record["messages"]]
        assert not any("is called" in text for text in contents)
        assert record["messages"][-1] == {"role": "assistant", "content": "Biscuit."}


def test_keep_memories_exports_the_plain_context(store: Store, tmp_path: Path) -> None:
    directory, _ = export(store, tmp_path, format="sft", threshold=1.0, keep_memories=True)
    record = json.loads((directory / "train.jsonl").read_text().splitlines()[0])
    assert "The dog is called Biscuit." in [m["content"] for m in record["messages"]]


def test_the_manifest_hashes_and_counts_match_the_files(store: Store, tmp_path: Path) -> None:
    directory, manifest = export(store, tmp_path, format="sft", threshold=0.1)
    files = manifest["files"]
    assert isinstance(files, dict)
    for name, digest in files.items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest
    assert manifest["n_examples"] == len((directory / "train.jsonl").read_text().splitlines()) == 4
    assert store.count("export_items") == 4


def test_the_manifest_selection_query_lists_the_exported_candidates_in_order(store: Store, tmp_path: Path) -> None:
    _, manifest = export(store, tmp_path, format="sft", threshold=1.0)
    query = manifest["query"]
    assert isinstance(query, dict)
    assert query["parameters"] == [1.0, False]
    with store.connect() as con:
        selected = [row[0] for row in con.execute(query["sql"], query["parameters"]).fetchall()]
        exported = [row[0] for row in con.execute("SELECT candidate_id FROM export_items ORDER BY example_idx")
                    .fetchall()]
    assert selected == exported and len(selected) == manifest["n_examples"] == 2


def test_the_manifest_dates_the_data_and_the_exports_table_dates_the_export(store: Store, tmp_path: Path) -> None:
    before = datetime.now(UTC)
    _, manifest = export(store, tmp_path, format="sft", threshold=0.1)
    with store.connect() as con:
        [(created_at,)] = con.execute("SELECT created_at FROM exports").fetchall()
        [(newest_score,)] = con.execute("SELECT max(scored_at) FROM results").fetchall()
    assert manifest["data_as_of"] == newest_score.isoformat()
    assert before <= created_at <= datetime.now(UTC)


def test_exporting_twice_gives_byte_identical_files(store: Store, tmp_path: Path) -> None:
    for fmt in ("sft", "parquet"):
        directory, _ = export(store, tmp_path, format=fmt, threshold=0.1)
        first = {p.name: p.read_bytes() for p in directory.iterdir()}
        export(store, tmp_path, format=fmt, threshold=0.1)
        assert {p.name: p.read_bytes() for p in directory.iterdir()} == first


def test_parquet_rows_carry_messages_and_their_scores(store: Store, tmp_path: Path) -> None:
    directory, _ = export(store, tmp_path, format="parquet", threshold=1.0)
    frame = pl.read_parquet(directory / "train.parquet")
    assert frame.height == 2
    row = frame.row(0, named=True)
    assert (row["completion"], row["response_entry_idx"], row["dependence"]) == ("Biscuit.", 3, 1.25)
    assert row["top_memories"][0] == {"memory_key": "pets/dog", "divergence": 3.0}


def test_approved_only_exports_nothing_before_review(store: Store, tmp_path: Path) -> None:
    _, manifest = export(store, tmp_path, format="sft", threshold=1.0, approved_only=True)
    assert manifest["n_examples"] == 0


def test_the_asymmetric_update_rises_fast_and_falls_slowly() -> None:
    assert asymmetric_update(1.0, 3.0, alpha_up=0.5, alpha_down=0.1) == 2.0
    assert asymmetric_update(1.0, 0.0, alpha_up=0.5, alpha_down=0.1) == pytest.approx(0.9)


def test_memory_weights_after_two_runs_follow_the_hand_computed_update(store: Store) -> None:
    save_memory_weights(store, fold_observations(memory_weights(store), memory_observations(store)))
    first = {row.memory_key: (row.weight, row.n_scored) for row in memory_weights(store)}
    assert first == {"pets/dog": (1.5, 2), "pets/cat": (1.25, 2)}
    conv = conversation("conv-1")
    later = score_of(conv, [[7.0, 0.0], [0.0, 0.0]])
    run_id = store.record_run_start(model="tiny", backend="embedded", strategy="exact", config={},
                                    config_hash="cfg2")
    store.write_result(run_id, later, "cfg2")
    save_memory_weights(store, fold_observations(memory_weights(store), memory_observations(store)))
    second = {row.memory_key: (row.weight, row.n_scored) for row in memory_weights(store)}
    assert second == {"pets/dog": (1.5 + 0.5 * (3.5 - 1.5), 3), "pets/cat": (1.25 + 0.1 * (0.0 - 1.25), 3)}


def test_stale_lists_memories_not_scored_within_the_interval_oldest_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "memscore.duckdb")
    now = datetime.now(UTC)
    save_memory_weights(store, [WeightRow(memory_key=key, weight=1.0, n_scored=1, last_scored_at=now - age)
                                for key, age in [("home/city", timedelta(hours=30)), ("pets/dog", timedelta(hours=1)),
                                                 ("work/project", timedelta(days=5))]])
    done = CliRunner().invoke(app, ["weights", "--db", str(store.path), "--out", str(tmp_path / "weights.json"),
                                    "--stale-hours", "24"])
    assert done.exit_code == 0, done.output
    stale = json.loads(done.stdout)
    assert [row["memory_key"] for row in stale] == ["work/project", "home/city"]


def test_folding_nothing_new_changes_nothing(store: Store) -> None:
    save_memory_weights(store, fold_observations(memory_weights(store), memory_observations(store)))
    assert memory_observations(store) == []
    assert fold_observations(memory_weights(store), []) == []
    assert datetime.now(UTC) - memory_weights(store)[0].last_scored_at < timedelta(minutes=5)
