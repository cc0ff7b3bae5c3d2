"""One schema and one behaviour on every kind of store: a DuckDB file, DuckLake on PostgreSQL and on SQLite."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path

import duckdb
import pytest

from memscore_core.errors import StoreError
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore, content_hash
from memscore_core.store import Store, migrations
from memscore_core.store.downstream import list_candidates, refresh_candidates
from tests.store.conftest import conversation, rows, score_of
from tests.support.postgres import PostgresServer

MATRIX = [[3.0, 0.0], [0.5, 2.0]]
AGENT = Conversation.model_validate({
    "id": "agent-1", "system_prompt": "You are an agent.\n\n{{memory:persona}}",
    "system_memories": [{"key": "persona", "content": "The user is Ada."}],
    "tools": [{"type": "function", "function": {"name": "recall", "parameters": {"type": "object"}}}],
    "meta": {"source": "test"},
    "entries": [
        {"role": "user", "content": "Where do I live?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call-1", "function": {"name": "recall", "arguments": "{\"key\": \"home\"}"}}]},
        {"role": "tool", "content": "Ada lives in Varnholt.", "tool_call_id": "call-1", "name": "recall",
         "memory_key": "home"},
        {"role": "assistant", "content": "In Varnholt.", "reasoning": "The tool said so."}]})


def agent_score() -> ConversationScore:
    """A result with a system-memory row, a seed-style column past the last assistant entry and screening."""
    return ConversationScore(
        conversation_id=AGENT.id, content_hash=content_hash(AGENT), strategy="exact", model="tiny",
        memory_keys=["persona", "home"], memory_entry_indices=[None, 2], response_entry_indices=[1, 3, None],
        response_tokens=[7, 4, 2], matrix=[[0.25, None, 0.5], [None, 3.5, None]],
        signed_matrix=[[0.125, None, -0.5], [None, 3.25, None]], memory_weights=[0.75, 3.5],
        response_scores=[0.25, 3.5, 0.5], drop_all=[0.5, 4.0, None], requests=6, prompt_tokens=300,
        chunks=[[0, 1, 2, 3]], screened=[[None, 1.5, None], [None, None, None]], fit_r2=[0.9, None, 0.5],
        chunk_strategies=["exact"])


def write(store: Store, conv: Conversation, score: ConversationScore, config_hash: str = "cfg") -> str:
    run_id = store.record_run_start(model=score.model, backend="embedded", strategy=score.strategy, config={},
                                    config_hash=config_hash)
    store.upsert_conversation(conv, score.content_hash, "convs.jsonl", "openai")
    store.write_result(run_id, score, config_hash)
    store.record_run_finish(run_id, status="completed", requests=score.requests, prompt_tokens=score.prompt_tokens)
    return run_id


def legacy_file(path: Path) -> Path:
    """A DuckDB file as the releases before 0005 left it: the old migrations table and migrations 0001-0004."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                    "applied_at TIMESTAMPTZ NOT NULL)")
        for version, name, sql in migrations()[:4]:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    return path


def test_the_migration_chain_and_the_baseline_end_at_one_schema_on_a_duckdb_file_and_on_ducklake(
        tmp_path: Path, postgres: PostgresServer) -> None:
    chain = Store(legacy_file(tmp_path / "legacy.duckdb"))
    fresh = Store(tmp_path / "fresh.duckdb")
    lake_sqlite = Store(f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}")
    lake_postgres = Store(f"ducklake:postgres:{postgres.create_database()}", data_path=tmp_path / "pg-data")
    assert chain.columns() == fresh.columns() == lake_sqlite.columns() == lake_postgres.columns()
    assert {s.schema_version() for s in (chain, fresh, lake_sqlite, lake_postgres)} == {migrations()[-1][0]}
    assert ("scores", "memory_entry_idx", "INTEGER", "YES") in fresh.columns()


def test_a_legacy_file_keeps_its_results_rows_and_columns_through_the_rebuild(tmp_path: Path) -> None:
    path = legacy_file(tmp_path / "legacy.duckdb")
    conv = conversation()
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO conversations VALUES ('conv-1', 'h', NULL, now(), '{}', 'You are helpful.', '')")
        for i, entry in enumerate(conv.entries):
            con.execute("INSERT INTO entries VALUES ('conv-1', 'h', ?, ?, ?, ?, NULL, NULL)",
                        [i, entry.role, entry.memory_key, entry.content])
        con.execute("INSERT INTO results VALUES ('h', 'tiny', 'cfg', 'conv-1', 'r', 'exact', now(), 4, 120, '[]')")
        for m, r, value in [(0, 3, 3.0), (0, 5, 0.0), (1, 3, 0.5), (1, 5, 2.0)]:
            con.execute("INSERT INTO scores VALUES ('h', 'tiny', 'cfg', 'r', 'conv-1', ?, ?, ?, ?, ?, 1)",
                        ["pets/dog" if m == 0 else "pets/cat", m, r, value, value])
        for r in (3, 5):
            con.execute("INSERT INTO responses VALUES ('h', 'tiny', 'cfg', 'r', 'conv-1', ?, 1.0, NULL, 1)", [r])
    result = Store(path).latest_result("conv-1")
    assert result is not None
    assert (result.matrix, result.memory_entry_indices, result.response_entry_indices) == (
        MATRIX, [0, 1], [3, 5])


def test_a_result_round_trips_exactly_on_every_kind_of_store(any_store: Store) -> None:
    score = agent_score()
    write(any_store, AGENT, score)
    stored = any_store.result(score.content_hash, "tiny", "cfg")
    assert stored is not None
    assert stored.to_score() == score


def test_a_stored_conversation_is_rebuilt_as_it_was_scored(any_store: Store) -> None:
    write(any_store, AGENT, agent_score())
    rebuilt = any_store.conversation(AGENT.id, content_hash(AGENT))
    assert rebuilt == AGENT
    assert content_hash(rebuilt) == content_hash(AGENT)
    assert rows(any_store, "SELECT source_format FROM conversations") == [("openai",)]


def test_a_system_memory_is_a_row_of_the_importance_views_counting_only_exact_cells(any_store: Store) -> None:
    write(any_store, AGENT, agent_score())
    top = {row.memory_key: row.importance for row in any_store.top_memories()}
    assert top == {"home": 3.5, "persona": 0.75}
    assert rows(any_store, "SELECT memory_idx, memory_entry_idx, cells FROM memory_rows ORDER BY memory_idx") == [
        (0, None, 2), (1, 2, 1)]


def test_rescoring_replaces_the_result_on_every_kind_of_store(any_store: Store) -> None:
    conv = conversation()
    write(any_store, conv, score_of(conv, MATRIX))
    write(any_store, conv, score_of(conv, [[1.0, 1.0], [1.0, 1.0]]))
    assert [any_store.count(t) for t in ("conversations", "entries", "results", "scores", "responses")] == [
        1, 6, 1, 4, 2]
    assert any_store.top_memories()[0].importance == 2.0


def test_rescoring_a_batch_replaces_each_of_its_stored_results_and_adds_the_new_ones(any_store: Store) -> None:
    convs = [conversation(f"c{n}") for n in range(4)]
    run_id = write(any_store, convs[0], score_of(convs[0], MATRIX))
    any_store.write_results(run_id, [score_of(conv, MATRIX) for conv in convs[1:3]], "cfg")
    any_store.write_results(run_id, [score_of(conv, [[1.0, 1.0], [1.0, 1.0]]) for conv in convs], "cfg")
    assert [any_store.count(t) for t in ("results", "scores", "responses", "memory_summary")] == [4, 16, 8, 8]
    assert rows(any_store, "SELECT DISTINCT divergence FROM scores") == [(1.0,)]


def test_a_result_whose_columns_disagree_is_refused_with_a_store_error(store: Store) -> None:
    conv = conversation()
    wide = score_of(conv, MATRIX).model_copy(update={"matrix": [[1.0, 2.0, 3.0], [0.0, 0.0]]})
    with pytest.raises(StoreError, match="the result's shape is inconsistent"):
        store.write_result("run", wide, "cfg")
    assert store.count("results") == 0


def test_a_run_records_its_host_and_at_its_finish_its_noise_floor(any_store: Store) -> None:
    run_id = any_store.record_run_start(model="tiny", backend="embedded", strategy="hierarchical", config={},
                                        config_hash="cfg", parent_run_id="parent", host="gpu-7")
    any_store.record_run_finish(run_id, status="completed", requests=3, prompt_tokens=90, noise_floor=0.02,
                                noise_floor_method={"method": "fixed"})
    run = any_store.run(run_id)
    assert run is not None
    assert (run.host, run.parent_run_id, run.status, run.noise_floor, run.noise_floor_method) == (
        "gpu-7", "parent", "completed", 0.02, {"method": "fixed"})


def test_a_new_postgres_store_without_a_data_path_names_the_option(postgres: PostgresServer) -> None:
    with pytest.raises(StoreError, match="a new DuckLake store needs a data path for its Parquet files: "
                                         "--data-path DIR or MEMSCORE_DATA_PATH"):
        Store(f"ducklake:postgres:{postgres.create_database()}")


def test_a_postgres_store_remembers_its_data_path_for_later_users(postgres: PostgresServer, tmp_path: Path) -> None:
    target = f"ducklake:postgres:{postgres.create_database()}"
    conv = conversation()
    write(Store(target, data_path=tmp_path / "data"), conv, score_of(conv, MATRIX))
    assert Store(target).count("scores") == 4


def test_an_unknown_catalog_is_a_store_error_that_masks_the_password() -> None:
    with pytest.raises(StoreError) as raised:
        Store("ducklake:mysql:host=db password=hunter2")
    assert str(raised.value) == ("ducklake:mysql:host=db password=***: unknown DuckLake catalog 'mysql' "
                                 "(postgres, sqlite or duckdb)")


KEYS = 12


def _write_every_key(target: str, data_path: str, worker: int) -> None:
    """One writer process: every conversation, in its own order, one result per commit; then candidates."""
    store = Store(target, data_path=data_path)
    order = list(range(KEYS))
    random.Random(worker).shuffle(order)
    for n in order:
        conv = conversation(f"c{n}")
        write(store, conv, score_of(conv, [[3.0 + n, 0.0], [0.5, 2.0]]))
    refresh_candidates(store, threshold=0.0)


@pytest.mark.parametrize("kind", ["ducklake-postgres", "ducklake-sqlite"])
def test_three_writer_processes_storing_the_same_keys_leave_every_row_once(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from tests.store.conftest import target_of

    target, data_path = target_of(kind, tmp_path, request), str(tmp_path / "lake-data")
    Store(target, data_path=data_path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_every_key, args=(target, data_path, w)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(300)
    assert [p.exitcode for p in workers] == [0, 0, 0]
    store = Store(target, data_path=data_path)
    per_key = {
        "conversations": "conversation_id, content_hash", "entries": "conversation_id, content_hash, entry_idx",
        "results": "content_hash, model, config_hash",
        "scores": "content_hash, model, config_hash, memory_idx, column_idx",
        "responses": "content_hash, model, config_hash, column_idx",
        "candidates": "content_hash, model, config_hash, response_entry_idx", "keyed_writes": "scope"}
    for table, key in per_key.items():
        assert rows(store, f"SELECT max(n) FROM (SELECT count(*) AS n FROM {table} GROUP BY {key})") == [(1,)], table
    assert [store.count(t) for t in ("results", "scores", "responses", "scoring_runs")] == [
        KEYS, 4 * KEYS, 2 * KEYS, 3 * KEYS]
    ids = [c.candidate_id for c in list_candidates(store)]
    assert sorted(ids) == list(range(1, len(ids) + 1))


def _open(target: str, data_path: str) -> None:
    Store(target, data_path=data_path).count("results")


def test_three_processes_creating_one_new_postgres_lake_at_once_all_open_it(
        postgres: PostgresServer, tmp_path: Path) -> None:
    target = f"ducklake:postgres:{postgres.create_database()}"
    context = multiprocessing.get_context("spawn")
    openers = [context.Process(target=_open, args=(target, str(tmp_path / "data"))) for _ in range(3)]
    for process in openers:
        process.start()
    for process in openers:
        process.join(120)
    assert [p.exitcode for p in openers] == [0, 0, 0]
    assert Store(target).schema_version() == migrations()[-1][0]
    shipped = len(migrations())
    assert rows(Store(target), "SELECT count(*), count(DISTINCT version) FROM schema_migrations") == [
        (shipped, shipped)]
