"""Migration 0010: cells and responses carry their result's ``scored_at``, entries their conversation's
``ingested_at``, rows in write order, and point reads filter on them; what every command prints is unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.model.result import content_hash
from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store
from memscore_core.store.lake import configure_inlining
from memscore_core.store.store import Connection
from memscore_core.ui.app import build_app
from memscore_core.ui.security import Guard
from tests.store.conftest import conversation, rows, score_of

BEFORE = REPO_ROOT / "tests" / "data" / "store-before-layout" / "memscore.duckdb"
PRINTED = REPO_ROOT / "tests" / "data" / "reads-before-0010"


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of a store written before migration 0010, opened (so upgraded) by today's code."""
    db = tmp_path_factory.mktemp("upgraded") / "memscore.duckdb"
    shutil.copy(BEFORE, db)
    Store(db)
    return db


def printed(name: str) -> str:
    return (PRINTED / name).read_text(encoding="utf-8")


def test_an_upgraded_store_carries_each_result_time_on_its_cells_and_responses(upgraded: Path) -> None:
    store = Store(upgraded)
    for table in ("scores", "responses"):
        [(mismatched,)] = rows(store, f"SELECT count(*) FROM {table} t JOIN results r "  # noqa: S608
                                      "USING (content_hash, model, config_hash) WHERE t.scored_at <> r.scored_at")
        assert mismatched == 0 and store.count(table) > 0
    [(orphans,)] = rows(store, "SELECT count(*) FROM entries WHERE ingested_at IS NULL")
    assert orphans == 0 and store.schema_version() >= 10


def test_an_upgraded_store_keeps_its_rows_in_write_order(upgraded: Path) -> None:
    times = [row[0] for row in rows(Store(upgraded), "SELECT scored_at FROM scores ORDER BY rowid")]
    assert times == sorted(times)


def test_an_upgraded_store_shows_every_conversation_as_before(upgraded: Path) -> None:
    for conversation_id, shown in json.loads(printed("show.json")).items():
        done = CliRunner().invoke(app, ["show", conversation_id, "--json", "--db", str(upgraded)])
        assert done.exit_code == 0, done.output
        assert done.stdout == shown, conversation_id


def test_an_upgraded_store_prints_top_as_before(upgraded: Path) -> None:
    done = CliRunner().invoke(app, ["top", "--json", "--limit", "1000", "--db", str(upgraded)])
    assert done.stdout == printed("top.json")


def test_an_upgraded_store_writes_the_weights_file_as_before(upgraded: Path, tmp_path: Path) -> None:
    db = tmp_path / "memscore.duckdb"
    shutil.copy(upgraded, db)
    done = CliRunner().invoke(app, ["weights", "--db", str(db), "--out", str(tmp_path / "weights.json")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "weights.json").read_text(encoding="utf-8") == printed("weights.json")


def test_an_upgraded_store_renders_the_conversation_and_review_pages_as_before(upgraded: Path,
                                                                              tmp_path: Path) -> None:
    db = tmp_path / "memscore.duckdb"
    shutil.copy(upgraded, db)
    client = TestClient(build_app(Store(db), Guard(token=None, loopback_only=True, csrf="fixed"), threshold=0.0),
                        base_url="http://127.0.0.1")
    for url, (status, html) in json.loads(printed("pages.json")).items():
        answer = client.get(url)
        assert (answer.status_code, answer.text.replace(str(db), "STORE")) == (status, html), unquote(url)


def test_a_written_result_carries_its_time_on_every_row(any_store: Store) -> None:
    conv = conversation()
    any_store.upsert_conversation(conv, content_hash(conv), None)
    any_store.write_result("run-1", score_of(conv, [[1.0, 2.0], [None, 0.5]]), "cfg")
    [(scored_at,)] = rows(any_store, "SELECT scored_at FROM results")
    [(ingested_at,)] = rows(any_store, "SELECT ingested_at FROM conversations")
    assert {row[0] for row in rows(any_store, "SELECT scored_at FROM scores UNION ALL "
                                              "SELECT scored_at FROM responses")} == {scored_at}
    assert {row[0] for row in rows(any_store, "SELECT ingested_at FROM entries")} == {ingested_at}
    result = any_store.latest_result(conv.id)
    assert result is not None and result.matrix == [[1.0, 2.0], [None, 0.5]] and len(result.entries) == 6


def test_a_lake_whose_tables_a_migration_rebuilt_writes_the_new_tables_straight_to_parquet(tmp_path: Path) -> None:
    store = Store(f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}", data_path=tmp_path / "lake-data")

    def rebuild(con: Connection) -> None:
        for statement in ("CREATE TABLE scores_v2 AS SELECT * FROM scores", "DROP TABLE scores",
                          "ALTER TABLE scores_v2 RENAME TO scores"):
            con.execute(statement)

    store.write(rebuild, keyed=False)
    store.write(configure_inlining, keyed=False)
    assert ("main.scores", "0") in rows(
        store, "SELECT scope_entry, value FROM ducklake_options('lake') WHERE option_name = 'data_inlining_row_limit'")
