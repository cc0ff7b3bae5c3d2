"""The DuckDB store: migrations, result identity, views and the queries users run."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import duckdb
import pytest

from memscore_core.errors import InputError, StoreError
from memscore_core.store import Store, migrations
from tests.store.conftest import conversation, score_of

MATRIX = [[3.0, 0.0], [0.5, 2.0]]


def write(store: Store, conv_id: str = "conv-1", matrix: list[list[float | None]] = MATRIX,
          model: str = "tiny", config_hash: str = "cfg") -> str:
    conv = conversation(conv_id)
    score = score_of(conv, matrix, model)
    run_id = store.record_run_start(model=model, backend="embedded", strategy="exact", config={"w": None},
                                    config_hash=config_hash)
    store.upsert_conversation(conv, score.content_hash, "convs.jsonl")
    store.write_result(run_id, score, config_hash)
    store.record_run_finish(run_id, status="completed", requests=score.requests, prompt_tokens=score.prompt_tokens)
    return score.content_hash


def test_a_new_file_is_migrated_to_the_latest_schema(store: Store) -> None:
    assert store.schema_version() == migrations()[-1][0]
    assert {"conversations", "entries", "scoring_runs", "results", "scores", "responses", "ingest_errors",
            "memory_importance", "response_dependence"} <= set(store.tables())


def test_reopening_a_migrated_file_applies_nothing_twice(store: Store) -> None:
    write(store)
    again = Store(store.path)
    assert again.schema_version() == store.schema_version()
    assert again.count("scores") == 4


def test_scores_are_stored_in_long_format_one_row_per_cell(store: Store) -> None:
    write(store)
    with duckdb.connect(str(store.path)) as con:
        rows = con.execute("SELECT memory_key, response_entry_idx, divergence FROM scores "
                           "ORDER BY memory_entry_idx, response_entry_idx").fetchall()
    assert rows == [("pets/dog", 3, 3.0), ("pets/dog", 5, 0.0), ("pets/cat", 3, 0.5), ("pets/cat", 5, 2.0)]


def test_rescoring_the_same_content_model_and_config_replaces_the_result(store: Store) -> None:
    write(store)
    write(store, matrix=[[1.0, 1.0], [1.0, 1.0]])
    assert store.count("results") == 1
    assert store.count("scores") == 4
    assert store.top_memories()[0].importance == 2.0


def test_a_different_config_is_a_separate_result(store: Store) -> None:
    write(store, config_hash="a")
    write(store, config_hash="b")
    assert store.count("results") == 2


def test_has_result_is_keyed_by_content_model_and_config(store: Store) -> None:
    digest = write(store)
    assert store.has_result(digest, "tiny", "cfg")
    assert not store.has_result(digest, "other-model", "cfg")
    assert not store.has_result(digest, "tiny", "other-config")
    assert store.scored_hashes("tiny", "cfg") == {digest}


def test_memory_importance_sums_the_latest_result_of_each_conversation(store: Store) -> None:
    write(store, "conv-1")
    write(store, "conv-2", matrix=[[1.0, 0.0], [0.0, 0.0]])
    top = store.top_memories()
    assert [(m.memory_key, m.conversations, m.importance, m.max) for m in top] == [
        ("pets/dog", 2, 4.0, 3.0), ("pets/cat", 2, 2.5, 2.5)]


def test_top_memories_filters_by_key_prefix_as_data(store: Store) -> None:
    write(store)
    assert [m.memory_key for m in store.top_memories(prefix="pets/c")] == ["pets/cat"]
    assert store.top_memories(prefix="'; DROP TABLE scores; --") == []
    assert store.count("scores") == 4


def test_unscored_cells_are_null_and_not_counted(store: Store) -> None:
    write(store, matrix=[[3.0, None], [0.5, 2.0]])
    result = store.latest_result("conv-1")
    assert result is not None
    assert result.matrix == [[3.0, None], [0.5, 2.0]]
    assert (store.top_memories()[0].memory_key, store.top_memories()[0].importance) == ("pets/dog", 3.0)


def test_a_seed_row_the_walker_cut_short_stores_its_cells_and_reads_back_null_past_them(store: Store) -> None:
    conv = conversation()
    short = [[3.0], [0.5, 2.0]]
    score = score_of(conv, MATRIX).model_copy(update={"matrix": short, "signed_matrix": short, "strategy": "seed"})
    run_id = store.record_run_start(model="tiny", backend="embedded", strategy="seed", config={}, config_hash="s")
    store.upsert_conversation(conv, score.content_hash, "convs.jsonl")
    store.write_result(run_id, score, "s")
    result = store.latest_result("conv-1")
    assert result is not None and result.matrix == [[3.0, None], [0.5, 2.0]]
    assert store.count("scores") == 3


def test_latest_result_rebuilds_the_matrix_with_entry_text(store: Store) -> None:
    write(store)
    result = store.latest_result("conv-1")
    assert result is not None
    assert result.memory_keys == ["pets/dog", "pets/cat"]
    assert result.response_entry_indices == [3, 5]
    assert result.drop_all == [5.0, None]
    assert result.entries[3].content == "Biscuit."
    assert store.latest_result("missing") is None


def test_response_dependence_normalises_per_token(store: Store) -> None:
    write(store)
    with duckdb.connect(str(store.path)) as con:
        rows = con.execute("SELECT response_entry_idx, dependence, dependence_per_token FROM response_dependence "
                           "ORDER BY response_entry_idx").fetchall()
    assert rows == [(3, 3.5, 3.5 / 4), (5, 2.0, 2.0 / 3)]


def test_ingest_errors_keep_file_line_and_field(store: Store) -> None:
    store.record_ingest_errors(None, [InputError("not a string", file="a.jsonl", line=7, conversation_id="c",
                                                 field="entries.0.memory_key")])
    with duckdb.connect(str(store.path)) as con:
        row = con.execute("SELECT file, line, conversation_id, field, message FROM ingest_errors").fetchone()
    assert row == ("a.jsonl", 7, "c", "entries.0.memory_key", "not a string")


def test_runs_record_status_and_totals(store: Store) -> None:
    write(store)
    [run] = store.runs()
    assert (run.status, run.requests, run.prompt_tokens, run.config) == ("completed", 4, 120, {"w": None})


def test_a_run_is_found_by_its_id_and_an_unknown_id_finds_none(store: Store) -> None:
    write(store)
    [run] = store.runs()
    assert store.run(run.run_id) == run
    assert store.run("no-such-run") is None


def test_counting_an_unknown_table_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no table or view named 'nope'"):
        store.count("nope")


def _write_many(path: str, worker: int) -> None:
    store = Store(path)
    for n in range(5):
        write(store, f"w{worker}-c{n}")


def test_concurrent_writer_processes_all_land(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.duckdb")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    store = Store(path)
    assert (store.count("results"), store.count("scores"), store.count("scoring_runs")) == (20, 80, 20)


def test_top_memories_of_one_conversation(store: Store) -> None:
    write(store, "conv-1")
    write(store, "conv-2", matrix=[[1.0, 0.0], [0.0, 0.0]])
    top = store.top_memories(conversation_id="conv-2")
    assert [(m.memory_key, m.importance) for m in top] == [("pets/dog", 1.0), ("pets/cat", 0.0)]


def test_a_file_at_the_first_schema_version_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    (version, name, sql), *_ = migrations()
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                    "applied_at TIMESTAMPTZ NOT NULL)")
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
        con.execute("INSERT INTO ingest_errors VALUES (NULL, 'a.jsonl', 1, NULL, 'id', 'missing', now())")
    store = Store(path)
    assert store.schema_version() == migrations()[-1][0]
    assert store.count("ingest_errors") == 1
    assert "memory_importance" in store.tables()


def test_a_file_before_error_identity_is_migrated_and_its_repeated_errors_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "previous.duckdb"
    earlier, latest = migrations()[:3], migrations()[-1]
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                    "applied_at TIMESTAMPTZ NOT NULL)")
        for version, name, sql in earlier:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
        for line in (1, 1, 2):
            con.execute("INSERT INTO ingest_errors VALUES ('run', 'a.jsonl', ?, NULL, 'id', 'missing', now())", [line])
    store = Store(path)
    assert store.schema_version() == latest[0]
    assert store.count("ingest_errors") == 2


def test_an_invalid_line_met_again_by_a_later_run_is_kept_once_as_first_seen(store: Store) -> None:
    error = InputError("not a string", file="a.jsonl", line=7, field="entries[0].content")
    store.record_ingest_errors("run-1", [error])
    store.record_ingest_errors("run-2", [error, InputError("other", file="a.jsonl", line=8)])
    with duckdb.connect(str(store.path), read_only=True) as con:
        rows = con.execute("SELECT run_id, line FROM ingest_errors ORDER BY line").fetchall()
    assert rows == [("run-1", 7), ("run-2", 8)]
