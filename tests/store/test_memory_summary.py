"""The per-result memory summary (migration 0009): written with each result, replaced and deleted with it, and
what `top`, `weights` and the UI read instead of the cells, on every kind of store."""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from memscore_core.bench.corpus_store import END, CorpusShape, build_corpus, corpus_conversation
from memscore_core.model.result import content_hash
from memscore_core.settings import REPO_ROOT
from memscore_core.store import Store, StoredResult
from tests.store.conftest import conversation, rows, score_of

BEFORE = REPO_ROOT / "tests" / "data" / "store-before-layout" / "memscore.duckdb"


def expected_top(results: list[StoredResult]) -> dict[str, tuple[int, float | None, int, int]]:
    """(conversations, importance, exact cells, screened cells) per memory key over the latest results, from
    their matrices."""
    latest: dict[str, StoredResult] = {}
    for result in results:
        best = latest.get(result.conversation_id)
        if best is None or (result.scored_at, result.run_id, result.model) > (best.scored_at, best.run_id, best.model):
            latest[result.conversation_id] = result
    conversations: dict[str, set[str]] = defaultdict(set)
    importance: dict[str, float | None] = defaultdict(lambda: None)
    cells: dict[str, int] = defaultdict(int)
    screened: dict[str, int] = defaultdict(int)
    for result in latest.values():
        for m, key in enumerate(result.memory_keys):
            exact = [v for v in result.matrix[m] if v is not None]
            estimated = sum(result.screened_cell(m, j) is not None for j in range(len(result.matrix[m])))
            if exact or estimated:
                conversations[key].add(result.conversation_id)
                importance[key] = (importance[key] or 0.0) + sum(exact) if exact else importance[key]
                cells[key] += len(exact)
                screened[key] += estimated
    return {key: (len(ids), importance[key], cells[key], screened[key]) for key, ids in conversations.items()}


def assert_top_matches(store: Store, results: list[StoredResult]) -> None:
    wanted = expected_top(results)
    top = {m.memory_key: m for m in store.top_memories(limit=10_000)}
    assert set(top) == set(wanted)
    for key, (conversations, importance, cells, screened) in wanted.items():
        got = top[key]
        assert (got.conversations, got.cells, got.screened) == (conversations, cells, screened), key
        assert got.importance == (None if importance is None else pytest.approx(importance)), key


def test_top_over_the_summary_sums_the_latest_results_cells(any_store: Store) -> None:
    build_corpus(any_store, CorpusShape(conversations=12, memories=4, responses=3, keys=6, screened_every=5,
                                        models=["a", "b"]))
    assert any_store.count("memory_summary") == 12 * 4
    results = list(any_store.results([(content_hash(corpus_conversation(i, memories=4, responses=3, keys=6)),
                                       ["a", "b"][i % 2], "corpus-config") for i in range(12)]).values())
    assert_top_matches(any_store, results)


def test_a_newer_result_of_a_conversation_under_another_model_replaces_the_older_in_top(any_store: Store) -> None:
    conv = conversation()
    old, new = score_of(conv, [[1.0, 2.0], [3.0, 4.0]], model="old"), score_of(conv, [[5.0, None], [0.5, 0.25]],
                                                                                 model="new")
    any_store.upsert_conversation(conv, content_hash(conv), None)
    any_store.write_results("run-old", [old], "cfg", scored_at=[END - timedelta(days=1)])
    any_store.write_results("run-new", [new], "cfg", scored_at=[END])
    top = {m.memory_key: (m.importance, m.cells) for m in any_store.top_memories()}
    assert top == {"pets/dog": (5.0, 1), "pets/cat": (0.75, 2)}


def test_rewriting_a_result_replaces_its_summary(any_store: Store) -> None:
    conv = conversation()
    any_store.upsert_conversation(conv, content_hash(conv), None)
    any_store.write_result("run-1", score_of(conv, [[1.0, 2.0], [3.0, 4.0]]), "cfg")
    any_store.write_result("run-2", score_of(conv, [[0.5, 0.5], [None, 1.0]]), "cfg")
    assert sorted(rows(any_store, "SELECT memory_key, importance, cells, run_id FROM memory_summary")) == [
        ("pets/cat", 1.0, 1, "run-2"), ("pets/dog", 1.0, 2, "run-2")]


def test_a_store_written_before_the_summary_is_summarised_when_it_is_opened(tmp_path: Path) -> None:
    db = tmp_path / "memscore.duckdb"
    shutil.copy(BEFORE, db)
    store = Store(db)
    stored = rows(store, "SELECT content_hash, model, config_hash FROM results")
    results = list(store.results([tuple(row) for row in stored]).values())  # type: ignore[misc]
    assert store.schema_version() >= 9 and store.count("memory_summary") > 0
    assert_top_matches(store, results)
