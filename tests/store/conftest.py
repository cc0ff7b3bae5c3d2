"""Store fixtures: a fresh store of each kind, and a tiny scored conversation built by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore, content_hash
from memscore_core.store import Store
from tests.support.postgres import PostgresServer, pg_conninfo, postgres

__all__ = ["pg_conninfo", "postgres"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "memscore.duckdb")


@pytest.fixture(params=["duckdb", "ducklake-postgres", "ducklake-sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh store of each kind: a DuckDB file, DuckLake on PostgreSQL, DuckLake on SQLite."""
    return Store(target_of(request.param, tmp_path, request), data_path=tmp_path / "lake-data")


def target_of(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "duckdb":
        return str(tmp_path / "memscore.duckdb")
    if kind == "ducklake-sqlite":
        return f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return f"ducklake:postgres:{server.create_database()}"


def rows(store: Store, sql: str, parameters: list[object] | None = None) -> list[tuple[object, ...]]:
    """``sql`` run on ``store`` (either kind), all rows."""
    with store.connect() as con:
        return con.execute(sql, parameters or []).fetchall()


def conversation(conversation_id: str = "conv-1", answer: str = "Biscuit.") -> Conversation:
    return Conversation.model_validate({
        "id": conversation_id, "system_prompt": "You are helpful.",
        "entries": [
            {"role": "user", "content": "The dog is called Biscuit.", "memory_key": "pets/dog"},
            {"role": "user", "content": "The cat is called Miso.", "memory_key": "pets/cat"},
            {"role": "user", "content": "What is the dog called?"},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "And the cat?"},
            {"role": "assistant", "content": "Miso."}]})


def score_of(conv: Conversation, matrix: list[list[float | None]], model: str = "tiny") -> ConversationScore:
    columns = list(zip(*matrix, strict=True))
    return ConversationScore(
        conversation_id=conv.id, content_hash=content_hash(conv), strategy="exact", model=model,
        memory_keys=["pets/dog", "pets/cat"], memory_entry_indices=[0, 1], response_entry_indices=[3, 5],
        response_tokens=[4, 3], matrix=matrix, signed_matrix=matrix,
        memory_weights=[sum(v or 0.0 for v in row) for row in matrix],
        response_scores=[sum(v or 0.0 for v in col) for col in columns], drop_all=[5.0, None],
        requests=4, prompt_tokens=120, chunks=[[0, 1, 2, 3, 4, 5]])
